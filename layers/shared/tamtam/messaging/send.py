"""Sending one queued message through its provider, exactly once.

1. Claim: a conditional write moves the record `queued` -> `sending` (only for the provider
   the queue message names). A redelivered SQS message finds it claimed or finished and never
   reaches the provider again.
2. Call the provider (one renewal of the credentials after an auth failure).
3. Record the outcome: `sent`; back to `queued` with a backoff when the provider certainly did
   not take it; fail over to the next provider of the route on a provider-side failure;
   `failed` with the reason otherwise; `unconfirmed` when the answer was lost and the provider
   would not refuse a duplicate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tamtam import clock, health, pacing, queues
from tamtam.messaging.clients import ClientCache
from tamtam.messaging.texts import text_for
from tamtam.otp.errors import OtpUnavailable
from tamtam.observability import logger, metrics
from tamtam.providers.base import (
    PROVIDER_SIDE_REASONS,
    Reason,
    AmbiguousError,
    AuthError,
    DuplicateError,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    ProviderError,
    SendResult,
    TransientError,
)
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import messages
from tamtam.store.message_item import Attempt, MessageItem


@dataclass(frozen=True)
class QueueBody:
    message_id: str
    provider: str
    tenant_id: str | None = None
    lane: str = queues.TX


@dataclass(frozen=True)
class Outcome:
    """`retry_after` set: leave the SQS message on the queue and see it again that much later."""

    result: str
    retry_after: int | None = None


DONE = "done"


def _backoff(tries: int) -> int:
    s = get_settings()
    return min(s.retry_base_seconds * 2 ** max(tries - 1, 0), s.retry_max_seconds)


def _attempt(provider: str, outcome: str, error: ProviderError | None = None) -> Attempt:
    return Attempt(
        provider=provider,
        at=clock.iso(),
        outcome=outcome,
        reason=error.reason.value if error else None,
        raw_status=error.raw_status if error else None,
        raw_text=(error.raw_text or "")[:500] if error and error.raw_text else None,
    )


def process(body: QueueBody, *, table: Any, sqs: Any, clients: ClientCache) -> Outcome:
    claimed = messages.transition(
        table,
        body.message_id,
        Status.SENDING,
        expect={Status.QUEUED},
        expect_provider=body.provider,
        provider=body.provider,
        fields={"claim_at": clock.now()},
        increment_tries=True,
    )
    if claimed is None:
        return _not_claimed(body, table=table, sqs=sqs, clients=clients)
    return _send_claimed(claimed, body, table=table, sqs=sqs, clients=clients)


def _not_claimed(body: QueueBody, *, table: Any, sqs: Any, clients: ClientCache) -> Outcome:
    current = messages.get(table, body.message_id)
    if current is None:
        logger.warning("queue message for an unknown message", extra={"message_id": body.message_id})
        return Outcome("unknown")
    if current.status == Status.QUEUED and current.provider != body.provider:
        # A failover moved it; make sure the current provider's queue has it (claims dedupe).
        queues.send(sqs, queues.provider_queue(current.provider, body.lane), _body(current, body.lane))
        return Outcome("forwarded")
    if current.status != Status.SENDING:
        return Outcome("already_" + current.status)
    if current.provider != body.provider:
        return Outcome("in_flight", retry_after=10)
    age = clock.now() - (current.claim_at or 0)
    stale_after = get_settings().claim_stale_seconds
    if age < stale_after:
        return Outcome("in_flight", retry_after=int(stale_after - age) + 1)
    return _stale_claim(current, body, table=table, sqs=sqs, clients=clients)


def _stale_claim(current: MessageItem, body: QueueBody, *, table: Any, sqs: Any, clients: ClientCache) -> Outcome:
    """A sender took the message and vanished before recording the outcome."""
    client = clients.get(current.provider)
    if client.refuses_duplicate_ids:
        reclaimed = messages.transition(
            table, current.id, Status.SENDING, expect={Status.SENDING}, expect_provider=current.provider,
            provider=current.provider, fields={"claim_at": clock.now()}, increment_tries=True,
        )
        if reclaimed is not None:
            return _send_claimed(reclaimed, body, table=table, sqs=sqs, clients=clients)
        return Outcome("raced")
    messages.transition(
        table, current.id, Status.UNCONFIRMED, expect={Status.SENDING}, reason="sender_interrupted",
        provider=current.provider, attempt=Attempt(provider=current.provider, at=clock.iso(), outcome="unconfirmed", reason="sender_interrupted"),
        fields={"claim_at": None},
    )
    return Outcome("unconfirmed")


def _call(client: ProviderClient, clients: ClientCache, outbound: OutboundMessage) -> SendResult:
    started = time.monotonic()
    try:
        return _call_once_renewing(client, clients, outbound)
    finally:  # one metric name per provider: the dashboard's latency graph
        metrics.add_metric(name=f"ProviderLatency_{client.name}", unit="Milliseconds",
                           value=round((time.monotonic() - started) * 1000, 1))


def _call_once_renewing(client: ProviderClient, clients: ClientCache, outbound: OutboundMessage) -> SendResult:
    try:
        return client.send(outbound)
    except AuthError:
        # Not taken; the secret may have been rotated since it was cached.
        logger.info("auth failed; refetching the provider secret", extra={"provider": client.name})
    refreshed = clients.refresh(client.name)
    try:
        return refreshed.send(outbound)
    except AuthError:
        # A rotation in flight: the provider may already hold the AWSPENDING credentials only.
        pending = clients.pending(client.name, tried=refreshed)
        if pending is None:
            raise
        logger.info("auth failed again; trying the pending secret", extra={"provider": client.name})
        return pending.send(outbound)


def _send_claimed(message: MessageItem, body: QueueBody, *, table: Any, sqs: Any, clients: ClientCache) -> Outcome:
    provider = message.provider
    if _next_provider(message) and health.is_open(table, provider):
        unhealthy = TransientError(Reason.PROVIDER_UNAVAILABLE, detail="circuit open")
        return _fail_or_failover(message, unhealthy, body, table=table, sqs=sqs, exhausted=True)
    client = clients.get(provider)
    try:
        text = text_for(message, table=table)
    except OtpUnavailable as exc:  # the code expired or was used meanwhile: already recorded failed
        return Outcome("otp_" + exc.reason)
    except Exception:  # e.g. KMS throttled: nothing was sent, release the claim and retry
        logger.exception("message text not available", extra={"message_id": message.id})
        unavailable = TransientError(Reason.PROVIDER_UNAVAILABLE, detail="message text not available")
        return _retry_or_exhaust(message, unavailable, body, table=table, sqs=sqs)
    outbound = OutboundMessage(
        message.id, message.to, text, message.sender, message.channel, group_id=message.group_id
    )
    pacing.wait_turn()  # this message's slot of the provider's rate limit (tamtam.pacing)
    try:
        result = _call(client, clients, outbound)
    except DuplicateError as exc:
        health.record(provider, ok=True)
        return _record_sent(table, message, None, _attempt(provider, "duplicate", exc))
    except AmbiguousError as exc:
        health.record(provider, ok=False)
        if client.refuses_duplicate_ids:
            return _retry_or_exhaust(message, exc, body, table=table, sqs=sqs)
        messages.transition(
            table, message.id, Status.UNCONFIRMED, expect={Status.SENDING}, reason=exc.reason.value,
            provider=provider, attempt=_attempt(provider, "unconfirmed", exc), fields={"claim_at": None},
        )
        return Outcome("unconfirmed")
    except TransientError as exc:
        health.record(provider, ok=False)
        return _retry_or_exhaust(message, exc, body, table=table, sqs=sqs)
    except PermanentError as exc:
        if exc.reason in PROVIDER_SIDE_REASONS:
            health.record(provider, ok=False)
        return _fail_or_failover(message, exc, body, table=table, sqs=sqs)
    health.record(provider, ok=True)
    return _record_sent(table, message, result.provider_message_id, _attempt(provider, "sent"))


def _record_sent(table: Any, message: MessageItem, provider_message_id: str | None, attempt: Attempt) -> Outcome:
    fields: dict[str, Any] = {"claim_at": None}
    if provider_message_id:
        fields["provider_message_id"] = provider_message_id
    messages.transition(
        table, message.id, Status.SENT, expect={Status.SENDING}, provider=message.provider,
        attempt=attempt, fields=fields,
    )
    logger.info("message sent", extra={"message_id": message.id, "provider": message.provider})
    return Outcome("sent")


def _retry_or_exhaust(message: MessageItem, exc: ProviderError, body: QueueBody, *, table: Any, sqs: Any) -> Outcome:
    if message.tries >= get_settings().send_max_tries:
        return _fail_or_failover(message, exc, body, table=table, sqs=sqs, exhausted=True)
    messages.transition(
        table, message.id, Status.QUEUED, expect={Status.SENDING}, reason=exc.reason.value,
        provider=message.provider, attempt=_attempt(message.provider, "retry", exc), fields={"claim_at": None},
    )
    delay = _backoff(message.tries)
    logger.info("provider did not take the message; retrying", extra={"message_id": message.id, "provider": message.provider, "reason": exc.reason.value, "retry_after": delay})
    return Outcome("retry", retry_after=delay)


def _next_provider(message: MessageItem) -> str | None:
    route = message.route
    if message.provider in route:
        later = route[route.index(message.provider) + 1 :]
        return later[0] if later else None
    return None


def _fail_or_failover(
    message: MessageItem, exc: ProviderError, body: QueueBody, *, table: Any, sqs: Any, exhausted: bool = False
) -> Outcome:
    provider = message.provider
    next_provider = _next_provider(message)
    if next_provider and (exhausted or exc.reason in PROVIDER_SIDE_REASONS):
        moved = messages.transition(
            table, message.id, Status.QUEUED, expect={Status.SENDING}, reason=exc.reason.value,
            provider=next_provider, attempt=_attempt(provider, "failed", exc),
            fields={"claim_at": None, "provider": next_provider, "tries": 0},
        )
        if moved is not None:
            queues.send(sqs, queues.provider_queue(next_provider, body.lane), _body(moved, body.lane))
            logger.info("failing over", extra={"message_id": message.id, "from": provider, "to": next_provider, "reason": exc.reason.value})
        return Outcome("failover")
    messages.transition(
        table, message.id, Status.FAILED, expect={Status.SENDING}, reason=exc.reason.value,
        provider=provider, attempt=_attempt(provider, "failed", exc), fields={"claim_at": None},
    )
    logger.info("message failed", extra={"message_id": message.id, "provider": provider, "reason": exc.reason.value})
    return Outcome("failed")


def _body(message: MessageItem, lane: str) -> dict[str, Any]:
    return {"message_id": message.id, "tenant_id": message.tenant_id, "provider": message.provider, "lane": lane}
