"""The status_poller function (handler: status_poller.handler.lambda_handler)."""
