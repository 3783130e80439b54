"""Bodies and queries of the bulk and batch routes (pydantic: the OpenAPI document comes from them).

The bulk request itself (`BulkSendIn`, with its `Recipient`s or `GroupTarget`) is the request
contract's (tamtam.contract.bodies), shared with the ingest door."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.model_base import ApiModel
from api.models import Status
from tamtam.contract.bodies import BulkSendIn  # noqa: F401  (api.batches takes it from here)

REJECTED_SHOWN = 1000


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
    status: Status | None = Field(
        None, description="only the messages in this status; a page then reads up to 1,000 of the batch's messages, "
        "so it may hold fewer than `limit` (even none) and still have a cursor"
    )
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
    cursor: str | None = Field(description="pass it back for the next page (with the same status); null on the last")


class BatchCancelled(ApiModel):
    id: str
    cancelled: int = Field(description="messages this call cancelled")
    continuing: bool = Field(description="true: the rest is being cancelled in the background")
    state: str
