"""Provider webhooks (API Gateway REST proxy, no API key): SMSGate delivery reports at
`POST /v1/webhooks/smsgate`, checked against the SMSGate secret's signing key before anything
is read. Refusals leave in the API's one error shape `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

import webhooks_smsgate
from tamtam import aws
from tamtam.events import flushing
from tamtam.messaging.clients import ClientCache
from tamtam.observability import capture_lambda_handler, logger
from tamtam.providers.smsgate import SmsGateClient
from tamtam.secrets import provider_secret
from tamtam.settings import get_settings

app = APIGatewayRestResolver()
_clients = ClientCache(provider_secret)


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, "field": field}},
    )


def _raw_body(event: dict[str, Any]) -> bytes:
    """The body exactly as the caller sent it (the signature covers these bytes)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise webhooks_smsgate.WebhookRejected(400, "invalid_body", "the body is not valid base64") from exc


@app.post("/v1/webhooks/smsgate")
def smsgate_webhook() -> dict[str, Any]:
    event = app.current_event
    body = _raw_body(event.raw_event)
    client = cast(SmsGateClient, _clients.get(webhooks_smsgate.PROVIDER))
    headers = event.headers  # case-insensitive
    webhooks_smsgate.verify(client, body, headers.get("X-Timestamp"), headers.get("X-Signature"))
    parsed = webhooks_smsgate.parse(body)
    return webhooks_smsgate.handle_event(parsed, table=aws.table(get_settings().table_name))


@app.exception_handler(webhooks_smsgate.WebhookRejected)
def _rejected(exc: webhooks_smsgate.WebhookRejected) -> Response:
    logger.info("webhook refused", extra={"status": exc.status, "code": exc.code})
    return _error(exc.status, exc.code, exc.message, exc.field)


@app.not_found
def _not_found(exc: NotFoundError) -> Response:
    return _error(404, "route_not_found", "no such route")


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    logger.exception("webhook failed")
    # A 5xx makes the device retry later (with backoff): nothing is lost.
    return _error(500, "internal_error", "internal error; the event will be retried")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@capture_lambda_handler
@flushing
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
