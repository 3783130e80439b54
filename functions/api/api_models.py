"""The API's request and response bodies (pydantic, so the OpenAPI document comes from them)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from api_model_base import ApiModel
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.settings import get_settings
from tamtam.status import is_final


def _e164(value: str) -> str:
    try:
        return to_e164(value, get_settings().phone_default_region)
    except InvalidPhoneNumber as exc:
        raise PydanticCustomError("invalid_phone", "{reason}", {"reason": str(exc)}) from exc


def _provider(value: str | None) -> str | None:
    if value is not None and value not in PROVIDER_NAMES:
        raise PydanticCustomError(
            "unknown_provider", "unknown provider; one of: {names}", {"names": ", ".join(PROVIDER_NAMES)}
        )
    return value


PhoneNumber = Annotated[
    str,
    Field(description="E.164 (+224622000001) or national format of the default region", examples=["+224622000001"]),
    AfterValidator(_e164),
]

# Status callbacks (README "Status callbacks"); the URL's address is checked by the route
# (tamtam.callbacks.endpoints.accept_callback_url: 422 `invalid_callback_url`).
CallbackUrl = Annotated[str | None, Field(
    min_length=1, max_length=2048, json_schema_extra={"format": "uri"},
    description="POST each status change of the message(s) here, signed with the account's callback secret "
    "(POST /v1/callback-secret): https, to a public address", examples=["https://example.com/tamtam/status"],
)]
Reference = Annotated[str | None, Field(
    min_length=1, max_length=128, description="your own reference, returned in every status callback",
    examples=["order-1042"],
)]


class SendMessageIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    to: PhoneNumber
    text: str = Field(min_length=1, max_length=1600, description="the message; at most 10 SMS segments")
    sender: str | None = Field(None, min_length=1, max_length=11, description="sender name (provider-approved)")
    provider: Annotated[str | None, AfterValidator(_provider)] = Field(
        None, description="pin a provider instead of the route", examples=["smsgate"]
    )
    channel: Literal["sms", "whatsapp"] = "sms"
    schedule_at: str | None = Field(
        None, max_length=40, json_schema_extra={"format": "date-time"},
        description="send later: ISO 8601 with an offset, at most 30 days ahead", examples=["2026-05-01T09:00:00+00:00"],
    )
    callback_url: CallbackUrl = None
    reference: Reference = None
    transactional: bool = Field(
        False, description="a message the person needs whatever they opted out of (an order update, a security "
        "alert): it reaches a number on the opt-out list unless the account turned that off",
    )


Status = Literal["queued", "scheduled", "sending", "sent", "delivered", "failed", "expired", "cancelled", "unconfirmed"]


class MessageSearchQuery(ApiModel):
    status: Status | None = Field(None, description="only messages in this status")
    to: PhoneNumber | None = Field(None, description="only messages to this number")
    batch_id: str | None = Field(None, min_length=1, max_length=64, description="only messages of this batch")
    since: AwareDatetime | None = Field(None, description="created at or after this moment (ISO 8601 with an offset)")
    until: AwareDatetime | None = Field(None, description="created before this moment (ISO 8601 with an offset)")
    limit: int = Field(50, ge=1, le=100, description="messages per page, at most")
    cursor: str | None = Field(None, max_length=2048, description="`cursor` of the previous page")


class MessageAccepted(ApiModel):
    id: str
    status: str
    to: str
    provider: str
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]


class StatusChange(ApiModel):
    status: str
    at: str
    reason: str | None = None
    provider: str | None = None


class AttemptView(ApiModel):
    provider: str
    at: str
    outcome: str
    reason: str | None = None
    raw_status: str | None = None
    raw_text: str | None = None


class MessageView(ApiModel):
    id: str
    status: str
    final: bool = Field(
        description="true when the status will not change any more: delivered, failed, expired, cancelled, or "
        "`sent` with reason `no_delivery_report` (the provider that took the message gives no delivery report)"
    )
    to: str
    sender: str | None
    channel: str
    provider: str
    route: list[str]
    segments: int
    encoding: str
    provider_message_id: str | None
    reason: str | None
    created_at: str
    updated_at: str
    batch_id: str | None = None
    schedule_at: str | None = None
    group_id: str | None = None
    reference: str | None = None
    callback_url: str | None = None
    history: list[StatusChange]
    attempts: list[AttemptView]

    @model_validator(mode="before")
    @classmethod
    def _final(cls, data: Any) -> Any:
        if isinstance(data, dict) and "final" not in data:
            data = {**data, "final": is_final(data["status"], data.get("reason"))}
        return data


class MessageSummary(ApiModel):
    """A message in a listing (GET /v1/messages/{id} has its history and attempts)."""

    id: str
    status: str
    final: bool = Field(description="the status will not change any more (see MessageView)")
    to: str
    channel: str
    provider: str
    segments: int
    reason: str | None
    batch_id: str | None = None
    provider_message_id: str | None
    created_at: str
    updated_at: str

    @model_validator(mode="before")
    @classmethod
    def _final(cls, data: Any) -> Any:
        if isinstance(data, dict) and "final" not in data:
            data = {**data, "final": is_final(data["status"], data.get("reason"))}
        return data


class MessagesPage(ApiModel):
    items: list[MessageSummary] = Field(description="newest first")
    cursor: str | None = Field(
        description="pass it back for the next page; null when there is nothing more. A page can come out short, "
        "even empty, with a cursor: a call reads a bounded slice of the index"
    )


class ErrorDetail(ApiModel):
    code: str = Field(description="stable, machine-readable")
    message: str = Field(description="for humans")
    field: str | None = Field(None, description="the request field at fault, if any")


class ErrorBody(ApiModel):
    error: ErrorDetail
