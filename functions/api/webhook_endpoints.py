"""/v1/webhook-endpoints and /v1/callback-secret: where status callbacks go and what signs them
(README "Status callbacks"). Thin: each one call into tamtam.callbacks.endpoints. A secret is
in the answer that created or rolled it, and nowhere else."""

from __future__ import annotations

from typing import Any

from api.router import Call, operation
from api.webhook_endpoints_models import (
    CallbackSecretCreated,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEndpointIn,
    WebhookEndpointsPage,
    WebhookEndpointView,
    WebhookSecretRolled,
)
from tamtam import aws
from tamtam.callbacks import endpoints
from tamtam.settings import get_settings
from tamtam.store import webhook_endpoints as store
from tamtam.store.webhook_endpoints import EndpointItem

ENDPOINT_ID = "wep_01JD3ZF4H6K8M0P2R4T6V8X0Z2"
SECRET = "whsec_Jx0mQ2v7Yt4nB8sK3pL6wR9eA1cF5hD0gU2iO4zX7q"  # noqa: S105 - the OpenAPI example, not a real secret
VIEW_EXAMPLE = {
    "id": ENDPOINT_ID,
    "url": "https://example.com/tamtam/events",
    "event_types": ["message.sent", "message.delivered", "message.failed"],
    "state": "enabled",
    "disabled_reason": None,
    "created_at": "2026-05-01T09:00:00.120Z",
    "updated_at": "2026-05-01T09:00:00.120Z",
}
_MISSING = {404: ("not_found",)}


def _table() -> Any:
    return aws.table(get_settings().table_name)


def _view(endpoint: EndpointItem) -> dict[str, Any]:
    return endpoint.model_dump(include=set(WebhookEndpointView.model_fields))


@operation(
    "POST", "/v1/webhook-endpoints", summary="Add a webhook endpoint: status changes are POSTed to it", tag="webhooks",
    status=201, body=WebhookEndpointIn, answer=WebhookEndpointCreated, idempotency_key=True,
    example={"url": "https://example.com/tamtam/events", "event_types": ["message.sent", "message.delivered"]},
    answer_example={**VIEW_EXAMPLE, "secret": SECRET},
    description="Each status change of the account's messages whose type is in `event_types` is POSTed to `url`, "
    "signed with `secret` (header `Tamtam-Signature`). The secret is in this answer only. The URL must be https "
    "and resolve to public addresses only.",
    errors={409: ("too_many_endpoints",), 422: ("invalid_callback_url",)},
)
def create_webhook_endpoint(call: Call) -> WebhookEndpointCreated:
    body: WebhookEndpointIn = call.body
    endpoint = endpoints.create(_table(), call.tenant_id, body.url, list(body.event_types))
    return WebhookEndpointCreated(**_view(endpoint), secret=endpoint.secret.get_secret_value())


@operation("GET", "/v1/webhook-endpoints", summary="The account's webhook endpoints", tag="webhooks",
           answer=WebhookEndpointsPage, answer_example={"items": [VIEW_EXAMPLE]})
def list_webhook_endpoints(call: Call) -> WebhookEndpointsPage:
    items = store.list_for_tenant(_table(), call.tenant_id)
    return WebhookEndpointsPage(items=[WebhookEndpointView(**_view(e)) for e in items])


@operation("GET", "/v1/webhook-endpoints/{endpoint_id}", summary="A webhook endpoint", tag="webhooks",
           answer=WebhookEndpointView, answer_example=VIEW_EXAMPLE, errors=_MISSING)
def get_webhook_endpoint(call: Call) -> WebhookEndpointView:
    return WebhookEndpointView(**_view(endpoints.owned(_table(), call.tenant_id, call.params["endpoint_id"])))


@operation("DELETE", "/v1/webhook-endpoints/{endpoint_id}", summary="Delete a webhook endpoint", tag="webhooks",
           answer=WebhookEndpointDeleted, answer_example={"id": ENDPOINT_ID, "deleted": True}, errors=_MISSING,
           description="Nothing more is POSTed to it, retries of earlier events included.")
def delete_webhook_endpoint(call: Call) -> WebhookEndpointDeleted:
    endpoint = endpoints.delete(_table(), call.tenant_id, call.params["endpoint_id"])
    return WebhookEndpointDeleted(id=endpoint.id)


@operation(
    "POST", "/v1/webhook-endpoints/{endpoint_id}/roll-secret", summary="Replace a webhook endpoint's secret",
    tag="webhooks", answer=WebhookSecretRolled, idempotency_key=True, errors=_MISSING,
    answer_example={"id": ENDPOINT_ID, "secret": SECRET, "rolled_at": "2026-05-02T09:00:00.120Z"},
    description="The new secret signs every POST from now on, retries of earlier events included; the old one "
    "stops at once. The new secret is in this answer only.",
)
def roll_webhook_endpoint_secret(call: Call) -> WebhookSecretRolled:
    endpoint, secret = endpoints.roll(_table(), call.tenant_id, call.params["endpoint_id"])
    return WebhookSecretRolled(id=endpoint.id, secret=secret.value, rolled_at=secret.at)


@operation(
    "POST", "/v1/callback-secret", summary="Create or replace the secret that signs `callback_url` callbacks",
    tag="webhooks", answer=CallbackSecretCreated, idempotency_key=True,
    answer_example={"secret": SECRET, "created_at": "2026-05-01T09:00:00.120Z"},
    description="Sends that carry a `callback_url` need it: their callbacks are signed with it (header "
    "`Tamtam-Signature`). A new one replaces the previous one at once; it is in this answer only.",
)
def create_callback_secret(call: Call) -> CallbackSecretCreated:
    secret = endpoints.new_callback_secret(_table(), call.tenant_id)
    return CallbackSecretCreated(secret=secret.value, created_at=secret.at)
