"""The balance_checker function (handler: balance_checker.handler.lambda_handler)."""
