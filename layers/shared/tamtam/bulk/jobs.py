"""The bodies on the fan-out queue (and, once they exhausted their deliveries, on its DLQ): a
chunk of a batch's recipients to expand, or a batch cancel to continue."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tamtam.bulk import cancel
from tamtam.observability import logger
from tamtam.store import batches


class ChunkBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["chunk"] = "chunk"
    batch_id: str = Field(max_length=64)
    tenant_id: str = Field(max_length=64)
    chunk: int = Field(ge=0)
    recipients: list[list[Any]] = Field(min_length=1, max_length=1000)


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["cancel"]
    batch_id: str = Field(max_length=64)
    tenant_id: str = Field(max_length=64)
    status: str | None = None
    cursor: str | None = None


def continue_cancel(body: CancelBody, *, table: Any, sqs: Any, deadline: float) -> int:
    """Cancel what is still waiting of the batch until `deadline` (time.monotonic()); the rest
    continues on the fan-out queue. How many this call cancelled."""
    cancelled, position = cancel.cancel_pending(table, body.batch_id, deadline=deadline, status=body.status, cursor=body.cursor)
    batch = batches.get_batch(table, body.batch_id)
    if position is not None and batch is not None:
        cancel.continue_later(sqs, batch, position)
    logger.info("batch cancel continued", extra={"batch_id": body.batch_id, "cancelled": cancelled, "more": position is not None})
    return cancelled
