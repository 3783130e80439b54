"""Sending, verifying and resending one-time codes. Clients (table, queue, KMS) and the pepper
come in as arguments; the plain code lives only in local variables of `send_otp`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tamtam import clock
from tamtam.errors import NotFound
from tamtam.ids import new_id
from tamtam.messaging.accept import SendRequest, build_otp_message, enqueue_new
from tamtam.observability import logger
from tamtam.otp import codes, keys, limits, store, templates
from tamtam.otp.errors import CodeRejected, OtpAlreadyUsed, OtpExpired, OtpLocked, RateLimited
from tamtam.otp.model import OtpItem, OtpState
from tamtam.otp.settings import get_otp_settings
from tamtam.status import Status
from tamtam.store import messages


@dataclass(frozen=True)
class OtpRequest:
    to: str  # E.164, already validated
    channel: str = "sms"
    length: int = 6
    ttl_seconds: int = 300
    template: str | None = None
    sender: str | None = None
    provider: str | None = None
    locale: str = "fr"
    callback_url: str | None = None  # status callbacks of the code's messages (already checked)
    reference: str | None = None


def send_otp(req: OtpRequest, tenant_id: str, *, table: Any, sqs: Any, kms: Any, pepper: bytes) -> OtpItem:
    """Validate, check the limits, create the code and its record, queue its first message."""
    limits.check_length(table, tenant_id, req.length)
    text = templates.prepare(req.template, locale=req.locale, ttl_seconds=req.ttl_seconds)
    otp_id = new_id("otp")
    message = build_otp_message(
        SendRequest(to=req.to, text=text, sender=req.sender, provider=req.provider, channel=req.channel,
                    callback_url=req.callback_url, reference=req.reference),
        tenant_id, otp_id=otp_id, sized_as=templates.sized_like(text, req.length), table=table,
    )
    limits.check_destination(table, tenant_id, req.to)
    now = clock.now()
    _take_limits(table, tenant_id, req.to, now=now)
    code = codes.generate(req.length)
    otp = OtpItem(
        id=otp_id, tenant_id=tenant_id, to=req.to, channel=req.channel, locale=req.locale, text=text,
        sender=req.sender, route=message.route, length=req.length,
        code_hash=codes.digest(code, otp_id, pepper),
        code_sealed=keys.seal(kms, code, otp_id=otp_id, tenant_id=tenant_id),
        max_attempts=get_otp_settings().max_attempts, message_ids=[message.id], last_sent_at=now,
        created_at=clock.iso(now), expires_at=math.floor(now) + req.ttl_seconds,
    )
    store.put_new(table, otp)
    enqueue_new(message, table=table, sqs=sqs)
    logger.info("otp created", extra={"otp_id": otp_id, "message_id": message.id, "provider": message.provider})
    return otp


def verify_otp(otp_id: str, tenant_id: str, code: str, *, table: Any, pepper: bytes) -> OtpItem:
    """Approve the code or say why not. The attempt is counted (conditionally) before the
    compare, so parallel guesses can never use more than the allowed attempts."""
    now = clock.now()
    _ensure_open(_owned(table, otp_id, tenant_id), now)
    counted = store.count_attempt(table, otp_id, now=now)
    if counted is None:  # closed between the read and the write
        _ensure_open(_owned(table, otp_id, tenant_id), now)
        raise OtpLocked("no attempt left for this code")
    if not codes.matches(code, otp_id, counted.code_hash, pepper):
        left = counted.max_attempts - counted.attempts
        logger.info("otp code rejected", extra={"otp_id": otp_id, "attempts_left": left})
        raise CodeRejected(attempts_left=left)
    approved = store.approve(table, otp_id, now=now)
    if approved is None:  # a parallel right guess won
        _ensure_open(_owned(table, otp_id, tenant_id), now)
        raise OtpAlreadyUsed("this code was already used")
    logger.info("otp approved", extra={"otp_id": otp_id})
    return approved


def resend_otp(otp_id: str, tenant_id: str, *, table: Any, sqs: Any) -> OtpItem:
    """Send the same, still valid code again: through the next provider of the route when the
    last message was not delivered, else through the same one; never within the cooldown."""
    now = clock.now()
    otp = _owned(table, otp_id, tenant_id)
    _ensure_open(otp, now)
    cooldown = get_otp_settings().resend_cooldown_seconds
    _ensure_cooled(otp, now, cooldown)
    previous = messages.get(table, otp.message_ids[-1]) if otp.message_ids else None
    first = choose_provider(otp.route, previous.provider if previous else None, previous.status if previous else None)
    message = build_otp_message(
        SendRequest(to=otp.to, text=otp.text, sender=otp.sender, channel=otp.channel,  # callbacks as the first send
                    callback_url=previous.callback_url if previous else None,
                    reference=previous.reference if previous else None), tenant_id,
        otp_id=otp_id, sized_as=templates.sized_like(otp.text, otp.length), route=rotated(otp.route, first),
        table=table,
    )
    _take_limits(table, tenant_id, otp.to, now=now)
    updated = store.record_send(table, otp_id, message.id, now=now, cooldown_seconds=cooldown)
    if updated is None:  # closed, or another resend won the cooldown
        current = _owned(table, otp_id, tenant_id)
        _ensure_open(current, now)
        _ensure_cooled(current, now, cooldown)
        raise RateLimited("the code was just sent", retry_after=cooldown, code="otp_cooldown")
    enqueue_new(message, table=table, sqs=sqs)
    logger.info("otp resent", extra={"otp_id": otp_id, "message_id": message.id, "provider": message.provider})
    return updated


def choose_provider(route: list[str], previous_provider: str | None, previous_status: str | None) -> str:
    """The same provider after a delivery; otherwise the one after it in the route (wrapping)."""
    if previous_provider not in route:
        return route[0]
    if previous_status == Status.DELIVERED:
        return previous_provider
    return route[(route.index(previous_provider) + 1) % len(route)]


def rotated(route: list[str], first: str) -> list[str]:
    i = route.index(first)
    return route[i:] + route[:i]


def _take_limits(table: Any, tenant_id: str, to: str, *, now: float) -> None:
    limits.take_phone(table, tenant_id, to, now=now)
    limits.take_number(table, to, now=now)
    limits.take_range(table, to, now=now)
    limits.take_tenant_day(table, tenant_id, now=now)


def _owned(table: Any, otp_id: str, tenant_id: str) -> OtpItem:
    otp = store.get(table, otp_id)
    if otp is None or otp.tenant_id != tenant_id:
        raise NotFound("no such one-time code", field="id")
    return otp


def _ensure_open(otp: OtpItem, now: float) -> None:
    state = otp.state(now)
    if state == OtpState.APPROVED:
        raise OtpAlreadyUsed("this code was already used")
    if state == OtpState.EXPIRED:
        raise OtpExpired("this code has expired")
    if state == OtpState.LOCKED:
        raise OtpLocked("no attempt left for this code")


def _ensure_cooled(otp: OtpItem, now: float, cooldown: int) -> None:
    wait = otp.last_sent_at + cooldown - now
    if wait > 0:
        raise RateLimited(
            "the code was just sent; wait before asking again", retry_after=math.ceil(wait), code="otp_cooldown"
        )
