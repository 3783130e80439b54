"""The ingest function (handler: ingest.handler.lambda_handler)."""
