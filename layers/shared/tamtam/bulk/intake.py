"""Accepting a bulk request (design flow 3), quickly whatever its size.

A list of recipients: normalise and deduplicate them (tamtam.bulk.recipients), store the batch
(state `accepting`), put the recipients on the fan-out queue in chunks (SendMessageBatch), then
open the batch; the fan-out does not touch a batch until it is open. If a chunk cannot be
enqueued the batch is `aborted` (the fan-out drops its chunks, nothing is sent) and the caller
gets a 503.

A provider-side group: one message (`group_id` set) that the provider expands itself; it is
stored and enqueued here directly, on the provider's bulk queue.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tamtam import clock, failpoints, limits, opt_outs, queues
from tamtam.bulk import recipients as rcpt
from tamtam.bulk.schedule import parse_schedule
from tamtam.bulk.sqs_batch import Entry, send_entries
from tamtam.callbacks.endpoints import accept_callback_url
from tamtam.errors import InvalidRequest, ServiceUnavailable
from tamtam.ids import new_id
from tamtam.messaging.accept import RETENTION_SECONDS, SendRequest, build_message
from tamtam.observability import logger
from tamtam.providers.registry import channels
from tamtam.queue_bodies import ChunkBody, QueueBody
from tamtam.segments import analyse
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import batches, messages
from tamtam.store.batches import BatchItem, group_message_id

if TYPE_CHECKING:
    from tamtam.contract.bodies import BulkSendIn

CHUNK_BYTES = 64 * 1024  # four chunks fit in one SendMessageBatch call
GROUP_PROVIDERS = ("passeinfo", "messagepro")


@dataclass(frozen=True)
class BulkRequest:
    text: str
    to: list[str] | None = None
    recipients: list[tuple[str, dict[str, str]]] | None = None
    group_provider: str | None = None
    group_id: str | None = None
    sender: str | None = None
    provider: str | None = None
    channel: str = "sms"
    schedule_at: float | None = None  # epoch seconds, already validated
    callback_url: str | None = None  # every message's status callbacks (already checked)
    reference: str | None = None  # carried by every message of the batch

    @classmethod
    def from_body(cls, body: BulkSendIn, tenant_id: str, *, table: Any) -> BulkRequest:
        """The bulk a validated request asks for (`POST /v1/messages/bulk`, the ingest door): its
        `schedule_at` read, its `callback_url` checked for the tenant (422 otherwise)."""
        return cls(
            text=body.text,
            to=body.to,
            recipients=[(r.to, r.vars) for r in body.recipients] if body.recipients is not None else None,
            group_provider=body.group.provider if body.group else None,
            group_id=body.group.group_id if body.group else None,
            sender=body.sender,
            provider=body.provider,
            channel=body.channel,
            schedule_at=parse_schedule(body.schedule_at),
            reference=body.reference,
            callback_url=accept_callback_url(table, tenant_id, body.callback_url),
        )


@dataclass
class BulkResult:
    batch_id: str
    accepted: int
    duplicates: int = 0
    rejected: list[rcpt.Rejected] = field(default_factory=list)
    state: str = batches.OPEN


def _check_text(text: str) -> None:
    info = analyse(text)
    if info.segments == 0:
        raise InvalidRequest("text is empty", field="text", code="text_empty")
    limit = get_settings().max_segments
    if info.segments > limit:
        raise InvalidRequest(
            f"text is {info.segments} segments long; the limit is {limit}", field="text", code="text_too_long"
        )


def _check_target(req: BulkRequest) -> None:
    given = [
        name
        for name, value in (("to", req.to), ("recipients", req.recipients), ("group", req.group_id))
        if value is not None
    ]
    if len(given) != 1:
        raise InvalidRequest("give exactly one of to, recipients or group", field="to", code="invalid_recipients")
    if req.provider and req.channel not in channels(req.provider):
        raise InvalidRequest(
            f"{req.provider} does not carry {req.channel}", field="channel", code="channel_unavailable"
        )


def chunk_recipients() -> int:
    """Recipients per fan-out chunk (BULK_CHUNK_RECIPIENTS, default 500)."""
    return int(os.environ.get("BULK_CHUNK_RECIPIENTS", "500"))


def chunk_bodies(batch_id: str, tenant_id: str, accepted: list[tuple[int, str, dict[str, str] | None]]) -> list[str]:
    per_chunk = chunk_recipients()
    bodies: list[str] = []
    rows: list[list[Any]] = []
    size = 0

    def close() -> None:
        bodies.append(ChunkBody(batch_id=batch_id, tenant_id=tenant_id, chunk=len(bodies), recipients=rows).to_json())

    for index, number, variables in accepted:
        row: list[Any] = [index, number, variables] if variables else [index, number]
        length = len(json.dumps(row, separators=(",", ":"))) if variables else len(number) + 12
        if rows and (len(rows) == per_chunk or size + length > CHUNK_BYTES):
            close()
            rows, size = [], 0
        rows.append(row)
        size += length + 1
    if rows:
        close()
    return bodies


def _new_batch(req: BulkRequest, tenant_id: str, *, kind: str, total: int, requested: int) -> BatchItem:
    return BatchItem(
        id=new_id("bat"), tenant_id=tenant_id, kind=kind, total=total, requested=requested,
        text=req.text, template=bool(req.recipients is not None and rcpt.placeholders(req.text)),
        sender=req.sender, provider=req.provider, channel=req.channel,
        group_provider=req.group_provider, group_id=req.group_id,
        schedule_at=clock.iso(req.schedule_at) if req.schedule_at is not None else None,
        created_at=clock.iso(), expires_at=int(clock.now()) + RETENTION_SECONDS,
        callback_url=req.callback_url, reference=req.reference,  # the fan-out copies them to each message
    )


def accept_bulk(req: BulkRequest, tenant_id: str, *, table: Any, sqs: Any) -> BulkResult:
    _check_target(req)
    if req.group_id is not None:
        return _accept_group(req, tenant_id, table=table, sqs=sqs)
    needed = rcpt.placeholders(req.text)
    if needed and req.recipients is None:
        raise InvalidRequest(
            "the text has {{variables}}: give recipients with vars", field="text", code="missing_variable"
        )
    if not needed:
        _check_text(req.text)
    entries: Iterable[tuple[str, dict[str, str] | None]]
    if req.to is not None:
        entries = ((to, None) for to in req.to)
    else:  # variables travel only when the text uses them
        entries = ((to, variables if needed else None) for to, variables in req.recipients or ())
    prepared = _without_opted_out(rcpt.prepare(entries, get_settings().phone_default_region, needed), table, tenant_id)
    requested = len(req.to if req.to is not None else req.recipients or ())
    if not prepared.accepted:
        field_name = "to" if req.to is not None else "recipients"
        raise InvalidRequest(
            f"none of the {requested} recipients is valid", field=field_name, code="no_valid_recipient"
        )
    # the tenant's bulk limit: 429 `bulk_limit`, or 422 `too_many_recipients` (tamtam.limits)
    limits.take_recipients(table, tenant_id, len(prepared.accepted), field="to" if req.to is not None else "recipients")
    batch = _new_batch(req, tenant_id, kind="list", total=len(prepared.accepted), requested=requested)
    bodies = chunk_bodies(batch.id, tenant_id, prepared.accepted)
    batch = batch.model_copy(
        update={"chunks": len(bodies), "duplicates": prepared.duplicates, "rejected": len(prepared.rejected)}
    )
    batches.put_batch(table, batch)
    entries_out = [Entry(id=f"c{n}", body=body) for n, body in enumerate(bodies)]
    try:
        unsent = send_entries(sqs, queues.queue_url("fanout"), entries_out)
    except Exception:  # noqa: BLE001 - any failure: the batch is aborted, not half-open
        logger.exception("fan-out enqueue failed", extra={"batch_id": batch.id})
        unsent = entries_out
    _open_or_abort(table, batch.id, failed=bool(unsent))
    logger.info("batch accepted", extra={"batch_id": batch.id, "total": batch.total, "chunks": len(bodies)})
    return BulkResult(batch.id, batch.total, prepared.duplicates, prepared.rejected)


def _without_opted_out(prepared: rcpt.Prepared, table: Any, tenant_id: str) -> rcpt.Prepared:
    """The numbers on the tenant's opt-out list move from accepted to rejected
    (`recipient_opted_out`, tamtam.opt_outs), the rejected kept in request order."""
    blocked = opt_outs.opted_out(table, tenant_id, (number for _, number, _ in prepared.accepted))
    if not blocked:
        return prepared
    refused = [
        rcpt.Rejected(index, number, opt_outs.OPTED_OUT) for index, number, _ in prepared.accepted if number in blocked
    ]
    prepared.accepted = [entry for entry in prepared.accepted if entry[1] not in blocked]
    prepared.rejected = sorted([*prepared.rejected, *refused], key=lambda r: r.index)
    return prepared


def _open_or_abort(table: Any, batch_id: str, *, failed: bool) -> None:
    if not failed:
        batches.set_state(table, batch_id, batches.OPEN)
        return
    batches.set_state(table, batch_id, batches.ABORTED)
    raise ServiceUnavailable("the batch could not be queued; nothing was sent", code="queue_unavailable")


def _accept_group(req: BulkRequest, tenant_id: str, *, table: Any, sqs: Any) -> BulkResult:
    provider, group_id = req.group_provider or "", req.group_id or ""
    if provider not in GROUP_PROVIDERS:
        raise InvalidRequest(
            "groups are sent through passeinfo or messagepro", field="group.provider", code="unknown_provider"
        )
    if provider == "passeinfo" and "," in group_id:
        raise InvalidRequest("a PasseInfo group send names one group", field="group.group_id", code="invalid_value")
    if req.channel != "sms":
        raise InvalidRequest("group sends are SMS only", field="channel", code="channel_unavailable")
    send = SendRequest(
        to=f"group:{group_id}",
        text=req.text,
        sender=req.sender,
        provider=provider,
        schedule_at=req.schedule_at,
        callback_url=req.callback_url,
        reference=req.reference,
    )
    batch = _new_batch(req, tenant_id, kind="group", total=1, requested=1)
    message = build_message(send, tenant_id, batch_id=batch.id)
    limits.take_recipients(table, tenant_id, 1, field="group")  # a group counts one: its size is the provider's
    message = message.model_copy(update={"id": group_message_id(batch.id), "group_id": group_id})
    batches.put_batch(table, batch)  # its counters follow from the record's write (tamtam.lifecycle)
    if message.status == Status.QUEUED:  # enqueued first: a crash before the write leaves no orphan
        body = QueueBody.for_message(message, queues.BULK, provider)
        try:
            queues.send(sqs, queues.provider_queue(provider, queues.BULK), body)
        except Exception:  # noqa: BLE001 - any failure aborts the batch
            logger.exception("group enqueue failed", extra={"batch_id": batch.id})
            _open_or_abort(table, batch.id, failed=True)
        failpoints.hit("accept.enqueued", message_id=message.id)
    messages.put_new(table, message)
    _open_or_abort(table, batch.id, failed=False)
    return BulkResult(batch.id, 1)
