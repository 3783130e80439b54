"""The scheduler function (handler: scheduler.handler.lambda_handler)."""
