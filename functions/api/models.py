"""The API's request and response bodies (pydantic, so the OpenAPI document comes from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from api.model_base import ApiModel

# The send request and its field types are the request contract's (tamtam.contract), shared with
# the ingest door; the routes and the other api_*_models modules take them from here.
from tamtam.contract.bodies import SendMessageIn  # noqa: F401
from tamtam.contract.fields import CallbackUrl, PhoneNumber, Reference  # noqa: F401
from tamtam.contract.fields import known_provider as _provider  # noqa: F401
from tamtam.status import is_final

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


class _WithFinal(ApiModel):
    """A message answer whose `final` follows from its status and reason (tamtam.status.is_final)."""

    @model_validator(mode="before")
    @classmethod
    def _final(cls, data: Any) -> Any:
        if isinstance(data, dict) and "final" not in data:
            data = {**data, "final": is_final(data["status"], data.get("reason"))}
        return data


class MessageView(_WithFinal):
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


class MessageSummary(_WithFinal):
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
