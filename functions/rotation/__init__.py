"""The rotation function (handler: rotation.handler.lambda_handler)."""
