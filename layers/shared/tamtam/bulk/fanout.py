"""The fan-out (design flow 3): one chunk of a batch's recipients -> message records, each
created once with a conditional PutItem, and provider bulk-queue messages, sent with
SendMessageBatch, a slice at a time.

Each number is validated here with libphonenumber (the API only checked its shape): a number it
refuses, or a rendered text that is too long, becomes a `failed` message with the reason, so the
batch accounts for every accepted recipient.

Idempotent under duplicates, even two deliveries of one chunk at the same moment: message ids
are deterministic (batch + request index), a record is created by exactly one delivery
(tamtam.bulk.records) and only that delivery enqueues it, so a record a sender claimed or sent
is never reset nor queued again. A later delivery enqueues again only the orphans (`queued`,
created longer ago than any fan-out lives: their creator died, maybe before it enqueued them;
the sender's claim makes a second queue message harmless). The chunk's counts land once, with
its marker (tamtam.store.batches.complete_chunk).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tamtam import clock, failpoints, queues
from tamtam.bulk import cancel, records
from tamtam.bulk import recipients as rcpt
from tamtam.bulk.schedule import epoch
from tamtam.bulk.sqs_batch import MAX_ENTRIES, Entry, send_entries
from tamtam.errors import InvalidRequest, ServiceUnavailable
from tamtam.messaging.accept import RETENTION_SECONDS, SendRequest, build_message
from tamtam.observability import logger, metrics
from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.queue_bodies import QueueBody
from tamtam.segments import analyse
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import batches
from tamtam.store.batches import BatchItem
from tamtam.store.message_item import HistoryEntry, MessageItem

SLICE = 100  # recipients written, then enqueued, at a time (a BatchGetItem's worth)
ACCEPT_WAIT_SECONDS = 3.0  # a chunk of a batch still `accepting` waits this long, then comes back later


class NotReady(Exception):
    """The batch is still being accepted: try the chunk again in a few seconds."""

    retry_after = 5


class InProgress(NotReady):
    """Another delivery of the chunk created some of its records moments ago and may still be
    enqueuing them: the chunk comes back once that delivery is certainly over (finished: the
    chunk is done; or dead: its records are orphans by then, and are enqueued again)."""

    def __init__(self, batch_id: str, retry_after: int):
        super().__init__(batch_id)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ChunkJob:
    batch_id: str
    tenant_id: str
    chunk: int
    recipients: list[list[Any]]  # [index, +E.164] or [index, +E.164, {variables}]


def _final(batch: BatchItem, message_id: str, to: str, text: str, status: Status, reason: str,
           base: MessageItem | None = None) -> MessageItem:
    """A record that will never be sent: refused (`failed`) or `cancelled` before it was queued."""
    at = clock.iso()
    info = analyse(text)
    provider = base.provider if base else (batch.provider or "")
    return MessageItem(
        id=message_id, tenant_id=batch.tenant_id, to=to, text=text, sender=batch.sender, channel=batch.channel,
        provider=provider, route=base.route if base else [], status=status, segments=info.segments,
        encoding=info.encoding, created_at=at, updated_at=at, reason=reason, batch_id=batch.id,
        history=[HistoryEntry(status=status, at=at, reason=reason, provider=provider or None)],
        expires_at=int(clock.now()) + RETENTION_SECONDS, callback_url=batch.callback_url, reference=batch.reference,
    )


def _build(batch: BatchItem, row: list[Any], *, table: Any) -> MessageItem:
    index, number = int(row[0]), str(row[1])
    variables = row[2] if len(row) > 2 else None
    message_id = batches.message_id_for(batch.id, index)
    text = rcpt.render(batch.text, variables) if batch.template else batch.text
    due = epoch(batch.schedule_at) if batch.schedule_at else None
    try:
        to = to_e164(number, get_settings().phone_default_region)
        request = SendRequest(
            to=to,
            text=text,
            sender=batch.sender,
            provider=batch.provider,
            channel=batch.channel,
            schedule_at=due,
            callback_url=batch.callback_url,
            reference=batch.reference,
        )
        message = build_message(request, batch.tenant_id, batch_id=batch.id, table=table)
    except InvalidPhoneNumber:
        return _final(batch, message_id, number, text, Status.FAILED, rcpt.INVALID_PHONE)
    except InvalidRequest as exc:
        return _final(batch, message_id, number, text, Status.FAILED, exc.code)
    message = message.model_copy(update={"id": message_id})
    if batch.cancelled_at:
        return _final(batch, message_id, message.to, text, Status.CANCELLED, "batch_cancelled", base=message)
    return message


def _enqueue(table: Any, sqs: Any, batch_id: str, waiting: list[tuple[str, str, str]],
             carry: dict[str, list[Entry]], *, last: bool) -> None:
    """(message id, tenant, provider) on the providers' bulk queues in full calls of 10, a
    call's remainder carried to the next slice (`last`: everything goes); unless the batch was
    cancelled meanwhile (then they are cancelled instead)."""
    current = batches.get_batch(table, batch_id)
    if current is None or current.cancelled_at:
        carried = [e.id for entries in carry.values() for e in entries]
        carry.clear()
        cancel.cancel_ids(table, carried + [mid for mid, _, _ in waiting])
        return
    for message_id, tenant_id, provider in waiting:
        body = QueueBody(message_id=message_id, tenant_id=tenant_id, provider=provider, lane=queues.BULK)
        carry[provider].append(Entry(id=message_id, body=body.to_json()))
    for provider, entries in carry.items():
        ready = entries if last else entries[: len(entries) // MAX_ENTRIES * MAX_ENTRIES]
        if not ready:
            continue
        unsent = send_entries(sqs, queues.provider_queue(provider, queues.BULK), ready)
        if unsent:
            raise ServiceUnavailable(
                f"{len(unsent)} messages not enqueued on {provider}-bulk", code="queue_unavailable"
            )
        del entries[: len(ready)]


def _accepted(table: Any, batch: BatchItem) -> BatchItem:
    """The batch once the api has queued all its chunks (it usually has within a second: the
    first chunk is often read before its last one is queued), or as it still is after
    `ACCEPT_WAIT_SECONDS`."""
    deadline = time.monotonic() + ACCEPT_WAIT_SECONDS
    while batch.state == batches.ACCEPTING and time.monotonic() < deadline:
        time.sleep(0.2)
        batch = batches.get_batch(table, batch.id) or batch
    return batch


def _count_orphans(n: int) -> None:
    if n:
        metrics.add_metric(name="FanoutOrphansRequeued", unit="Count", value=n)


def requeue_orphans(table: Any, sqs: Any, batch: BatchItem, ids: list[str]) -> int:
    """Enqueue again the orphans among the records `ids` (or cancel them, if the batch was
    cancelled meanwhile); how many there were. (A chunk is completed only by a delivery that
    enqueued all of its `queued` records: a done chunk leaves no orphan, this is for the DLQ.)"""
    stored = records.read(table, ids)
    waiting = records.orphans(stored, ids, batch.tenant_id, records.orphan_seconds())
    if waiting:
        _enqueue(table, sqs, batch.id, waiting, defaultdict(list), last=True)
        logger.warning("orphan records enqueued again", extra={"batch_id": batch.id, "count": len(waiting)})
        _count_orphans(len(waiting))
    return len(waiting)


def process_chunk(job: ChunkJob, *, table: Any, sqs: Any) -> str:
    batch = batches.get_batch(table, job.batch_id)
    if batch is None or batch.tenant_id != job.tenant_id:
        logger.error("chunk of an unknown batch dropped", extra={"batch_id": job.batch_id, "chunk": job.chunk})
        return "unknown_batch"
    if batch.state == batches.ACCEPTING:
        batch = _accepted(table, batch)
    if batch.state == batches.ACCEPTING:
        raise NotReady(job.batch_id)
    if batch.state == batches.ABORTED:
        return "aborted"
    if batches.chunk_done(table, batch.id, job.chunk):
        return "duplicate"
    rows = job.recipients
    token, window = records.new_token(), records.orphan_seconds()
    written = enqueued = elsewhere = 0
    carry: dict[str, list[Entry]] = defaultdict(list)
    # Slice by slice: the first messages are on their queues while the chunk's rest is built and written.
    for start in range(0, len(rows), SLICE):
        part = [_build(batch, row, table=table) for row in rows[start : start + SLICE]]
        new, stored = records.write_once(table, part, token, shared_text=not batch.template)
        failpoints.hit("fanout.written", batch_id=batch.id, chunk=job.chunk)
        # Only what this delivery created, and the orphans of a dead one; never a record another
        # delivery running now has just created (it enqueues those itself).
        mine = {m.id for m in new if m.status == Status.QUEUED}
        orphans = {o[0]: o for o in records.orphans(stored, [m.id for m in part], batch.tenant_id, window)}
        waiting = [(m.id, m.tenant_id, m.provider) if m.id in mine else orphans[m.id] for m in part
                   if m.id in mine or m.id in orphans]
        last = start + SLICE >= len(rows)
        if waiting or (last and any(carry.values())):
            _enqueue(table, sqs, batch.id, waiting, carry, last=last)
        failpoints.hit("fanout.enqueued", batch_id=batch.id, chunk=job.chunk)
        _count_orphans(len(orphans))
        written, enqueued = written + len(new), enqueued + len(waiting)
        elsewhere += sum(1 for i, r in stored.items() if r.status == Status.QUEUED and i not in orphans)
    if elsewhere:  # only the delivery that enqueued every `queued` record of the chunk completes it
        logger.info(
            "chunk in progress elsewhere", extra={"batch_id": batch.id, "chunk": job.chunk, "records": elsewhere}
        )
        raise InProgress(batch.id, window + 5)
    counted = batches.complete_chunk(table, batch.id, job.chunk, len(rows))
    logger.info("chunk fanned out", extra={"batch_id": batch.id, "chunk": job.chunk, "written": written,
                                           "enqueued": enqueued, "counted": counted})
    return "done" if counted else "duplicate"
