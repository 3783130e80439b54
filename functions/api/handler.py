"""The REST API (API Gateway proxy): routes in api_* modules, errors mapped once in api_errors,
OpenAPI generated from the pydantic models and served at /openapi.json and /docs (Swagger UI,
assets inlined: works with no internet)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

import api_batches
import api_cancel
import api_context
import api_errors
import api_idempotency
import api_messages
import api_otp
import api_providers
from tamtam.observability import capture_lambda_handler, logger

app = APIGatewayRestResolver(enable_validation=True)
api_context.bind(app)
api_errors.register(app)
app.use(middlewares=[api_idempotency.idempotency])  # Idempotency-Key on every POST
app.include_router(api_messages.router)
app.include_router(api_batches.router)
app.include_router(api_cancel.router)
app.include_router(api_otp.router)
app.include_router(api_providers.router)
app.enable_swagger(
    path="/docs",
    title="tamtam",
    version="1.0.0",
    description="SMS, WhatsApp and one-time codes through African providers.",
)


@app.get("/openapi.json", include_in_schema=False)
def openapi_json():  # noqa: ANN201  (a Response annotation would enter the OpenAPI models)
    schema = app.get_openapi_json_schema(title="tamtam", version="1.0.0")
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=schema)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
