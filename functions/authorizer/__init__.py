"""The authorizer function (handler: authorizer.handler.lambda_handler)."""
