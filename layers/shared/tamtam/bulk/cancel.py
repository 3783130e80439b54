"""Cancelling what is not sent yet: `queued` or `scheduled` -> `cancelled`, each a conditional
write, so a message a sender has already claimed (`sending`) or sent is never touched.

A batch is marked cancelled first (the fan-out then writes the chunks it has not expanded yet
as cancelled, and re-checks the mark before it enqueues); its waiting messages are then
cancelled page by page, the records read by id (tamtam.store.batches.list_messages). What
does not fit in the caller's time budget continues on the fan-out queue (a `cancel` job
carrying the listing's position).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tamtam import queues
from tamtam.errors import Conflict, InvalidRequest, NotFound
from tamtam.observability import logger
from tamtam.queue_bodies import CancelBody
from tamtam.status import Status
from tamtam.store import batches, messages
from tamtam.store.batches import BatchItem
from tamtam.store.message_item import MessageItem

CANCELLABLE = frozenset({Status.QUEUED, Status.SCHEDULED})
_PAGE = 200
_workers = ThreadPoolExecutor(max_workers=16)


@dataclass(frozen=True)
class BatchCancel:
    batch: BatchItem
    cancelled: int  # messages this call moved to cancelled
    continuing: bool  # the rest continues on the fan-out queue


def _not_cancellable(what: str, status: str) -> Conflict:
    return Conflict(
        f"the {what} is already {status}; it can no longer be cancelled", field="id", code="not_cancellable"
    )


def cancel_message(table: Any, message_id: str, tenant_id: str) -> MessageItem:
    current = messages.get(table, message_id)
    if current is None or current.tenant_id != tenant_id:
        raise NotFound("no such message", field="id")
    if current.status == Status.CANCELLED:
        return current
    done = messages.transition(
        table, message_id, Status.CANCELLED, expect=CANCELLABLE, reason="cancelled", provider=current.provider
    )
    if done is not None:
        return done
    current = messages.get(table, message_id)
    if current is not None and current.status == Status.CANCELLED:
        return current
    raise _not_cancellable("message", current.status if current else "gone")


def cancel_ids(table: Any, ids: list[str], reason: str = "batch_cancelled") -> int:
    def one(message_id: str) -> bool:
        return messages.transition(table, message_id, Status.CANCELLED, expect=CANCELLABLE, reason=reason) is not None

    return sum(_workers.map(one, ids))


def cancel_pending(
    table: Any, batch: BatchItem, *, deadline: float, status: str | None = None, cursor: str | None = None
) -> tuple[int, dict[str, str] | None]:
    """Cancel the batch's scheduled and queued messages, in one pass over its records, until
    `deadline` (time.monotonic()); returns how many, and where to continue (None: done).
    A position written by an earlier version (a `status`, or a cursor that was an index key)
    starts again from the first record: cancelling twice changes nothing."""
    if status is not None or (cursor is not None and not _ours(cursor, batch)):
        cursor = None
    cancelled = 0
    while True:
        page, cursor = batches.list_messages(table, batch, limit=_PAGE, cursor=cursor)
        cancelled += cancel_ids(table, [m.id for m in page if m.status in CANCELLABLE])
        if not cursor:
            return cancelled, None
        if time.monotonic() > deadline:
            return cancelled, {"cursor": cursor}


def _ours(cursor: str, batch: BatchItem) -> bool:
    try:
        batches.decode_cursor(cursor, batch)
    except InvalidRequest:
        return False
    return True


def continue_later(sqs: Any, batch: BatchItem, position: dict[str, str]) -> None:
    body = CancelBody(kind="cancel", batch_id=batch.id, tenant_id=batch.tenant_id, **position)
    queues.send(sqs, queues.queue_url("fanout"), body)


def cancel_batch(table: Any, sqs: Any, batch_id: str, tenant_id: str, *, deadline: float) -> BatchCancel:
    batch = batches.get_batch(table, batch_id)
    if batch is None or batch.tenant_id != tenant_id:
        raise NotFound("no such batch", field="id")
    if batch.state == batches.ABORTED:
        raise _not_cancellable("batch", "aborted")
    if batch.finished_at or (batch.state == batches.OPEN and batch.done() >= batch.total):
        raise _not_cancellable("batch", "completed")
    batch = batches.mark_cancelled(table, batch_id) or batch
    cancelled, position = cancel_pending(table, batch, deadline=deadline)
    if position is not None:
        continue_later(sqs, batch, position)
        logger.info("batch cancel continues on the fan-out queue", extra={"batch_id": batch_id, **position})
    return BatchCancel(batch, cancelled, continuing=position is not None)

