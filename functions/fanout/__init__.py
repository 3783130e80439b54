"""The fanout function (handler: fanout.handler.lambda_handler)."""
