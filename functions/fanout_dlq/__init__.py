"""The fanout_dlq function (handler: fanout_dlq.handler.lambda_handler)."""
