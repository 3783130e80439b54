"""Chunks that exhausted their deliveries on the fan-out queue (its DLQ): resolved so that the
batch still completes and accounts for every recipient.

- a recipient of the chunk with no record gets one, `failed` with reason `fanout_failed`
  (a conditional put: a record that exists, whatever its status, is never overwritten);
- an existing record still `queued` and older than the orphan window is enqueued again (its
  creator died, maybe before it enqueued it; the sender's claim makes a duplicate harmless);
- the chunk is then completed (its marker and `written`), so the batch's `written` reaches its
  total and the batch completes once its records are final.

Safe to repeat: a redelivery creates nothing twice and completes the chunk once. Nothing here
builds a message the way the fan-out does (that may be what kept failing): the failed record
is the fan-out's own `_final` record, from the batch and the raw recipient row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tamtam.bulk import recipients as rcpt
from tamtam.bulk import records
from tamtam.bulk.fanout import ChunkJob, _final, requeue_orphans
from tamtam.observability import logger
from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import batches
from tamtam.store.batches import BatchItem
from tamtam.store.message_item import MessageItem

REASON = "fanout_failed"


@dataclass(frozen=True)
class Resolution:
    result: str  # resolved | duplicate (the chunk was complete already) | unknown_batch | aborted
    failed: int = 0  # recipients this call wrote `failed`
    requeued: int = 0  # orphans enqueued again


def _failed(batch: BatchItem, row: list[Any]) -> MessageItem:
    index, number = int(row[0]), str(row[1])
    variables = row[2] if len(row) > 2 and isinstance(row[2], dict) else None
    text = rcpt.render(batch.text, variables) if batch.template else batch.text
    try:
        to = to_e164(number, get_settings().phone_default_region)
    except InvalidPhoneNumber:
        to = number
    return _final(batch, batches.message_id_for(batch.id, index), to, text, Status.FAILED, REASON)


def resolve(job: ChunkJob, *, table: Any, sqs: Any) -> Resolution:
    batch = batches.get_batch(table, job.batch_id)
    if batch is None or batch.tenant_id != job.tenant_id:
        logger.error("dead chunk of an unknown batch dropped", extra={"batch_id": job.batch_id, "chunk": job.chunk})
        return Resolution("unknown_batch")
    if batch.state == batches.ABORTED:  # the fan-out never expands an aborted batch's chunks
        return Resolution("aborted")
    created, _ = records.write_once(table, [_failed(batch, row) for row in job.recipients], records.new_token())
    ids = [batches.message_id_for(batch.id, int(row[0])) for row in job.recipients]
    requeued = requeue_orphans(table, sqs, batch, ids)
    counted = batches.complete_chunk(table, batch.id, job.chunk, len(job.recipients))
    resolution = Resolution("resolved" if counted else "duplicate", failed=len(created), requeued=requeued)
    logger.warning("dead chunk resolved", extra={"batch_id": batch.id, "chunk": job.chunk, "result": resolution.result,
                                                 "failed": resolution.failed, "requeued": resolution.requeued})
    return resolution
