"""Accepting a send: validate, route, enqueue on the provider's queue, store as `queued`.

Enqueue first, then write: a crash in between leaves a queue message without a record (the
sender waits for it a little, then drops it), never a `queued` record that nothing will ever
send. Nothing accepted is ever silently lost: if either step fails, nothing is stored (or
nothing will be sent) and the caller gets a 503 it can retry on. A scheduled message is only
stored; the scheduler enqueues it when it is due.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from tamtam import clock, failpoints, limits, opt_outs, queues, tenant_settings
from tamtam.bulk.schedule import parse_schedule
from tamtam.callbacks.endpoints import accept_callback_url
from tamtam.errors import InvalidRequest, ServiceUnavailable
from tamtam.ids import new_id
from tamtam.messaging.writes import retried
from tamtam.observability import logger
from tamtam.providers.registry import channels
from tamtam.queue_bodies import QueueBody
from tamtam.routing import route_for
from tamtam.segments import analyse
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import messages
from tamtam.store.message_item import HistoryEntry, MessageItem

if TYPE_CHECKING:
    from tamtam.contract.bodies import SendMessageIn

RETENTION_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class SendRequest:
    to: str  # E.164, already validated
    text: str
    sender: str | None = None
    provider: str | None = None
    channel: str = "sms"
    schedule_at: float | None = None  # epoch seconds, already validated: the message is `scheduled`
    callback_url: str | None = None  # already checked (tamtam.callbacks.endpoints.accept_callback_url)
    reference: str | None = None  # the tenant's own, carried in the status callbacks
    transactional: bool = False  # may reach an opted-out number if the tenant allows it (tamtam.opt_outs)

    @classmethod
    def from_body(cls, body: SendMessageIn, tenant_id: str, *, table: Any) -> SendRequest:
        """The send a validated request asks for (`POST /v1/messages`, the ingest door): its
        `schedule_at` read, its `callback_url` checked for the tenant (422 otherwise)."""
        return cls(
            to=body.to, text=body.text, sender=body.sender, provider=body.provider, channel=body.channel,
            schedule_at=parse_schedule(body.schedule_at), reference=body.reference,
            callback_url=accept_callback_url(table, tenant_id, body.callback_url), transactional=body.transactional,
        )


def build_message(
    req: SendRequest, tenant_id: str, *, batch_id: str | None = None, table: Any | None = None
) -> MessageItem:
    """A validated, routed message record in status `queued` (not yet stored). With `table`,
    the tenant's own route overrides (tenant item `routes`) apply."""
    info = analyse(req.text)
    if info.segments == 0:
        raise InvalidRequest("text is empty", field="text", code="text_empty")
    if info.segments > get_settings().max_segments:
        raise InvalidRequest(
            f"text is {info.segments} segments long; the limit is {get_settings().max_segments}",
            field="text",
            code="text_too_long",
        )
    overrides = (
        tenant_settings.route_overrides(table, tenant_id) if table is not None and req.provider is None else None
    )
    route = route_for(req.to, pinned=req.provider, overrides=overrides)
    route = [p for p in route if req.channel in channels(p)]
    if not route:
        raise InvalidRequest(
            f"no provider of the route carries {req.channel}", field="channel", code="channel_unavailable"
        )
    at = clock.iso()
    status = Status.SCHEDULED if req.schedule_at is not None else Status.QUEUED
    return MessageItem(
        id=new_id("msg"),
        tenant_id=tenant_id,
        to=req.to,
        text=req.text,
        sender=req.sender,
        channel=req.channel,
        provider=route[0],
        route=route,
        status=status,
        segments=info.segments,
        encoding=info.encoding,
        created_at=at,
        updated_at=at,
        history=[HistoryEntry(status=status, at=at, provider=route[0])],
        batch_id=batch_id,
        expires_at=int(clock.now()) + RETENTION_SECONDS,
        schedule_at=clock.iso(req.schedule_at) if req.schedule_at is not None else None,
        callback_url=req.callback_url,
        reference=req.reference,
    )


def accept_message(req: SendRequest, tenant_id: str, *, table: Any, sqs: Any) -> MessageItem:
    message = build_message(req, tenant_id, table=table)
    # 422 `recipient_opted_out` when the number replied STOP (tamtam.opt_outs)
    opt_outs.check_single(table, tenant_id, message.to, transactional=req.transactional)
    limits.take_message(table, tenant_id)  # the tenant's send limit: 429 `send_limit` (tamtam.limits)
    if message.status == Status.SCHEDULED:  # the scheduler enqueues it when it is due
        _store(table, message)
        logger.info("message scheduled", extra={"message_id": message.id, "schedule_at": message.schedule_at})
        return message
    return enqueue_new(message, table=table, sqs=sqs)


def _enqueue(sqs: Any, message: MessageItem) -> None:
    try:
        queues.send(sqs, queues.provider_queue(message.provider, queues.TX), QueueBody.for_message(message, queues.TX))
    except Exception as exc:
        logger.exception("enqueue failed", extra={"message_id": message.id, "provider": message.provider})
        raise ServiceUnavailable("the message could not be queued; it was not sent", code="queue_unavailable") from exc


def _store(table: Any, message: MessageItem) -> None:
    """The record, written once (a retry after a lost answer finds its own write)."""
    tries = 0

    def put() -> None:
        nonlocal tries
        tries += 1
        try:
            messages.put_new(table, message)
        except ClientError as exc:
            landed = exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException" and tries > 1
            if not landed:
                raise

    try:
        retried(put, what="message record")
    except Exception as exc:
        logger.exception("message record not written", extra={"message_id": message.id})
        raise ServiceUnavailable(
            "the message could not be stored; it will not be sent", code="table_unavailable"
        ) from exc


def build_otp_message(
    req: SendRequest, tenant_id: str, *, otp_id: str, sized_as: str, route: list[str] | None = None,
    table: Any | None = None,
) -> MessageItem:
    """A message carrying a one-time code, validated and routed like any other, but stored with
    `text` = `req.text`: the template with the literal `{{code}}` placeholder. The code itself is
    never stored; the sender renders it in memory (tamtam.messaging.texts). `sized_as` is the
    text as it will go out (a stand-in code of the right length), so segments are counted on
    what the provider gets. `route`, when given (a resend), replaces the computed route: its
    first provider carries the message."""
    message = build_message(replace(req, text=sized_as), tenant_id, table=table)
    chosen = list(route) if route else message.route
    return message.model_copy(
        update={
            "text": req.text,
            "otp_id": otp_id,
            "provider": chosen[0],
            "route": chosen,
            "history": [HistoryEntry(status=Status.QUEUED, at=message.created_at, provider=chosen[0])],
        }
    )


def enqueue_new(message: MessageItem, *, table: Any, sqs: Any) -> MessageItem:
    """Put a built message (`queued`) on its provider's transactional queue, then store it,
    with the same guarantee as accept_message: a 503 when either fails. The sender finds no
    record for a queue message whose write failed, and drops it after a short wait."""
    _enqueue(sqs, message)
    failpoints.hit("accept.enqueued", message_id=message.id)
    _store(table, message)
    logger.info(
        "message accepted", extra={"message_id": message.id, "provider": message.provider, "otp_id": message.otp_id}
    )
    return message
