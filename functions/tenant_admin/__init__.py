"""The tenant_admin function (handler: tenant_admin.handler.lambda_handler)."""
