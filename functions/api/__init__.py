"""The api function (handler: api.handler.lambda_handler)."""
