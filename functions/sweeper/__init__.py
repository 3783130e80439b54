"""The sweeper function (handler: sweeper.handler.lambda_handler)."""
