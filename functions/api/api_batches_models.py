"""Bodies and queries of the bulk and batch routes (pydantic: the OpenAPI document comes from them).

Recipients are plain strings here: the numbers are normalised, deduplicated and refused one by
one by tamtam.bulk (an invalid number is reported, never fatal to the request)."""

from __future__ import annotations

from typing import Annotated, Literal

from api_model_base import ApiModel
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api_models import CallbackUrl, Reference, Status, _provider
from tamtam.bulk.intake import MAX_RECIPIENTS

REJECTED_SHOWN = 1000


class Recipient(ApiModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="E.164 or national format of the default region", examples=["+224622000001"])
    vars: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=20, description="values of the text's {{name}} placeholders"
    )


class GroupTarget(ApiModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["passeinfo", "messagepro"]
    group_id: str = Field(
        min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$",
        description="the provider's group id (Message Pro: comma-separated group ids)", examples=["12"],
    )


class BulkSendIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(None, max_length=MAX_RECIPIENTS, description="the same text to each number")
    recipients: list[Recipient] | None = Field(None, max_length=MAX_RECIPIENTS, description="numbers with their {{vars}}")
    group: GroupTarget | None = Field(None, description="a provider-side group: one provider call")
    text: str = Field(min_length=1, max_length=1600, description="the text, or a template with {{name}} placeholders")
    sender: str | None = Field(None, min_length=1, max_length=11, description="sender name (provider-approved)")
    provider: Annotated[str | None, AfterValidator(_provider)] = Field(None, description="pin a provider instead of the routes")
    channel: Literal["sms", "whatsapp"] = "sms"
    schedule_at: str | None = Field(
        None, max_length=40, json_schema_extra={"format": "date-time"},
        description="ISO 8601 with an offset, at most 30 days ahead", examples=["2026-05-01T09:00:00+00:00"],
    )
    callback_url: CallbackUrl = None
    reference: Reference = None


class RejectedRecipient(ApiModel):
    index: int = Field(description="position in `to` or `recipients`")
    to: str
    code: Literal["invalid_phone", "missing_variable", "recipient_opted_out"] = Field(
        description="`recipient_opted_out`: the number is on the account's opt-out list (GET /v1/opt-outs/{phone})")


class BulkAccepted(ApiModel):
    batch_id: str
    accepted: int = Field(description="messages the batch holds (numbers still refused by the full check end `failed`)")
    duplicates: int
    rejected: list[RejectedRecipient] = Field(description=f"the first {REJECTED_SHOWN} refused recipients")
    rejected_count: int


class GroupView(ApiModel):
    provider: str
    group_id: str


class BatchView(ApiModel):
    id: str
    kind: Literal["list", "group"]
    state: Literal["accepting", "scheduled", "processing", "completed", "aborted"]
    total: int = Field(description="messages in the batch")
    requested: int = Field(description="recipients in the request")
    duplicates: int
    rejected: int = Field(description="recipients refused by the API")
    counts: dict[str, int] = Field(description="messages per status")
    done: int = Field(description="messages the gateway has finished with: sent, unconfirmed or final")
    progress: float = Field(description="done / total, 0..1")
    sender: str | None
    provider: str | None
    channel: str
    group: GroupView | None = None
    schedule_at: str | None
    created_at: str
    cancelled_at: str | None
    finished_at: str | None


class BatchMessagesQuery(ApiModel):
    status: Status | None = Field(None, description="only the messages in this status")
    limit: int = Field(100, ge=1, le=1000, description="messages per page")
    cursor: str | None = Field(None, max_length=2048, description="from the previous page")


class BatchMessage(ApiModel):
    id: str
    to: str
    status: str
    provider: str
    reason: str | None
    segments: int
    provider_message_id: str | None
    updated_at: str


class BatchMessagesPage(ApiModel):
    items: list[BatchMessage]
    cursor: str | None = Field(description="pass it back for the next page; null on the last")


class BatchCancelled(ApiModel):
    id: str
    cancelled: int = Field(description="messages this call cancelled")
    continuing: bool = Field(description="true: the rest is being cancelled in the background")
    state: str
