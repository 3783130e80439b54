"""The sender function (handler: sender.handler.lambda_handler)."""
