"""The finalizer function (handler: finalizer.handler.lambda_handler)."""
