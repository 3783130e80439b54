"""The lifecycle function (handler: lifecycle.handler.lambda_handler)."""
