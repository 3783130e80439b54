"""The callbacks function (handler: callbacks.handler.lambda_handler)."""
