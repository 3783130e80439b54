"""Provider webhooks (API Gateway REST proxy, no API key): SMSGate delivery reports and received
SMS at `POST /v1/webhooks/smsgate`, checked against the SMSGate secret's signing key before
anything is read; Message Pro's received SMS and chats at `POST /v1/webhooks/messagepro`,
checked against the Message Pro secret's webhook secret. Refusals leave in the API's one error
shape `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.errors import error_body
from tamtam.messaging.clients import ClientCache
from tamtam.observability import capture_lambda_handler, count_unhandled, logger
from tamtam.secrets import provider_secret
from tamtam.settings import get_settings
from webhooks import messagepro, smsgate
from webhooks.errors import WebhookRejected
from webhooks.inbound import InboundResult

# Two routes: read straight from the proxy event. (Powertools' resolver package would import
# every resolver it has, a third of this function's cold start.)
ROUTE = ("POST", "/v1/webhooks/smsgate")
MESSAGEPRO_ROUTE = ("POST", "/v1/webhooks/messagepro")
_clients = ClientCache(provider_secret)


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body),
            "isBase64Encoded": False}


def _error(status: int, code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return _answer(status, error_body(code, message, field))


def _raw_body(event: dict[str, Any]) -> bytes:
    """The body exactly as the caller sent it (the signature covers these bytes)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRejected(400, "invalid_body", "the body is not valid base64") from exc


def smsgate_webhook(event: dict[str, Any]) -> smsgate.WebhookResult:
    body = _raw_body(event)
    client = smsgate.signing_client(_clients)
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    smsgate.verify(client, body, headers.get("x-timestamp"), headers.get("x-signature"))
    parsed = smsgate.parse(body)
    return smsgate.handle_event(parsed, table=aws.table(get_settings().table_name),
                                         bus_client=aws.client("events"))


def messagepro_webhook(event: dict[str, Any]) -> InboundResult:
    fields = messagepro.form(_raw_body(event))
    messagepro.verify(messagepro.webhook_secret(provider_secret), fields)
    return messagepro.handle(fields, table=aws.table(get_settings().table_name),
                                      bus_client=aws.client("events"))


def _route(event: dict[str, Any]) -> tuple[str, str]:
    """(method, resource) of a REST proxy event: the API resource that matched, whatever the
    stage or a custom domain's base path put in front of the path."""
    return str(event.get("httpMethod", "")).upper(), str(event.get("resource") or event.get("path") or "")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = _route(event)
    if route not in (ROUTE, MESSAGEPRO_ROUTE):
        return _error(404, "route_not_found", "no such route")
    try:
        result = smsgate_webhook(event) if route == ROUTE else messagepro_webhook(event)
        return _answer(200, result.model_dump(exclude_none=True))
    except WebhookRejected as exc:
        logger.info("webhook refused", extra={"status": exc.status, "code": exc.code})
        return _error(exc.status, exc.code, exc.message, exc.field)
    except Exception:  # noqa: BLE001 - any failure answers a 500 the device retries (never an unhandled error)
        logger.exception("webhook failed")
        count_unhandled("webhooks")  # answered, so Lambda's Errors metric never sees it (infra/alarms.tf)
        # A 5xx makes the device retry later (with backoff): nothing is lost.
        return _error(500, "internal_error", "internal error; the event will be retried")
