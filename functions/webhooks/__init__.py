"""The webhooks function (handler: webhooks.handler.lambda_handler)."""
