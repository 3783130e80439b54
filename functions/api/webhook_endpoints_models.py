"""Bodies of the webhook endpoint and callback secret routes (pydantic: the OpenAPI comes from them)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from api.model_base import ApiModel

# tamtam.callbacks.payload.EVENT_TYPES, spelled out for the schema (a unit test keeps them equal)
EventType = Literal["message.queued", "message.scheduled", "message.sending", "message.sent", "message.delivered",
                    "message.failed", "message.expired", "message.cancelled", "message.unconfirmed",
                    "message.received"]


class WebhookEndpointIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, json_schema_extra={"format": "uri"},
                     description="where events are POSTed: https, to a public address",
                     examples=["https://example.com/tamtam/events"])
    event_types: list[EventType] = Field(
        min_length=1,
        max_length=20,
        description="the status changes wanted, and `message.received` for inbound messages",
        examples=[["message.sent", "message.delivered", "message.failed"]],
    )


class WebhookEndpointView(ApiModel):
    id: str
    url: str
    event_types: list[str]
    state: Literal["enabled", "disabled"] = Field(
        description="disabled: the receiver answered 410 Gone; nothing more is sent to it")
    disabled_reason: str | None = Field(None, description="`gone` when the receiver answered 410")
    created_at: str
    updated_at: str


class WebhookEndpointCreated(WebhookEndpointView):
    secret: str = Field(description="signs every POST (header Tamtam-Signature); shown here only, keep it")


class WebhookEndpointsPage(ApiModel):
    items: list[WebhookEndpointView] = Field(description="oldest first; an account has at most 20")


class WebhookEndpointDeleted(ApiModel):
    id: str
    deleted: Literal[True] = True


class WebhookSecretRolled(ApiModel):
    id: str
    secret: str = Field(description="the new secret, shown here only; the old one no longer signs")
    rolled_at: str


class CallbackSecretCreated(ApiModel):
    secret: str = Field(description="signs the callbacks of messages sent with a `callback_url`; shown here only. "
                        "A new one replaces the previous one at once")
    created_at: str
