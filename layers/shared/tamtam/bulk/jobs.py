"""The cancel jobs of the fan-out queue (and of its DLQ): a batch cancel continued where the
last call stopped. The queue's bodies are tamtam.queue_bodies' ChunkBody and CancelBody."""

from __future__ import annotations

from typing import Any

from tamtam.bulk import cancel
from tamtam.observability import logger
from tamtam.queue_bodies import CancelBody
from tamtam.store import batches


def continue_cancel(body: CancelBody, *, table: Any, sqs: Any, deadline: float) -> int:
    """Cancel what is still waiting of the batch until `deadline` (time.monotonic()); the rest
    continues on the fan-out queue. How many this call cancelled."""
    batch = batches.get_batch(table, body.batch_id)
    if batch is None:  # gone with its TTL: nothing is left to cancel
        return 0
    cancelled, position = cancel.cancel_pending(table, batch, deadline=deadline, status=body.status,
                                                cursor=body.cursor)
    if position is not None:
        cancel.continue_later(sqs, batch, position)
    logger.info(
        "batch cancel continued",
        extra={"batch_id": body.batch_id, "cancelled": cancelled, "more": position is not None},
    )
    return cancelled
