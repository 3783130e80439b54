"""What the sender writes once it knows what became of a claimed message (tamtam.messaging.send).

Every write here leaves `sending` (clearing `claim_at` and `dispatched_at`) and is retried
through AWS-side faults (tamtam.messaging.writes). The words are chosen by what may have
happened at the provider:
- certainly not taken (a refusal, or nothing was ever called): back to `queued` with a backoff,
  then, with the tries used up, over to the next provider of the route, or `failed`;
- taken: `sent`;
- maybe taken (an answer lost, a sender that died after its dispatch mark): `unconfirmed`, or,
  at a provider that refuses duplicate ids, asked again with the same id. Such a message never
  fails over (a possible double send) and never ends `failed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tamtam import clock, pacing, queues
from tamtam.messaging.writes import retried
from tamtam.observability import logger
from tamtam.providers.base import PROVIDER_SIDE_REASONS, AmbiguousError, ProviderError, Reason
from tamtam.queue_bodies import QueueBody
from tamtam.settings import get_settings
from tamtam.status import NO_DELIVERY_REPORT, Status
from tamtam.store import last_sender, messages
from tamtam.store.message_item import Attempt, MessageItem

AMBIGUOUS = "ambiguous"  # an attempt's outcome: the provider may have taken the message
LEAVES_SENDING: dict[str, Any] = {"claim_at": None, "dispatched_at": None}
PACED_RETRY_SECONDS = 5  # no pacing slot before the deadline: seen again this much later
LAST_SENDER_SECONDS = 90 * 24 * 3600  # an answer belongs to the last sender for as long as messages are kept


@dataclass(frozen=True)
class Outcome:
    """`retry_after` set: leave the SQS message on the queue and see it again that much later."""

    result: str
    retry_after: int | None = None


@dataclass(frozen=True)
class Run:
    """One record's send: where its writes go, the lane its queue messages ride, the
    invocation's end (a time.monotonic() value) that no retried write sleeps past, and its
    place in its provider's pacing pool (None: not paced)."""

    table: Any
    sqs: Any
    lane: str = queues.TX
    deadline: float | None = None
    ticket: pacing.Ticket | None = None


def backoff(tries: int) -> int:
    s = get_settings()
    factor: int = 2 ** max(tries - 1, 0)  # int ** int is Any to mypy (a negative power is a float)
    return min(s.retry_base_seconds * factor, s.retry_max_seconds)


def attempt(provider: str, outcome: str, error: ProviderError | None = None, *, reason: str | None = None) -> Attempt:
    return Attempt(
        provider=provider,
        at=clock.iso(),
        outcome=outcome,
        reason=error.reason.value if error else reason,
        raw_status=error.raw_status if error else None,
        raw_text=(error.raw_text or "")[:500] if error and error.raw_text else None,
    )


def possibly_sent(message: MessageItem) -> bool:
    """An earlier attempt may have reached the provider (only ever at a provider that refuses
    duplicate ids: elsewhere such a message is `unconfirmed` at once)."""
    return any(a.outcome == AMBIGUOUS for a in message.attempts)


def next_provider(message: MessageItem) -> str | None:
    route = message.route
    if message.provider in route:
        later = route[route.index(message.provider) + 1 :]
        return later[0] if later else None
    return None


def queue_body(message: MessageItem, lane: str, provider: str | None = None) -> QueueBody:
    """The body that sends `message` again, in `lane`, through `provider` (default: its own)."""
    return QueueBody.for_message(message, lane, provider)


def _leave_sending(run: Run, message: MessageItem, new: Status, *, what: str, **kwargs: Any) -> MessageItem | None:
    fields = {**LEAVES_SENDING, **kwargs.pop("fields", {})}
    return retried(
        lambda: messages.transition(run.table, message.id, new, expect={Status.SENDING}, fields=fields, **kwargs),
        what=what, deadline=run.deadline,
    )


def record_sent(
    run: Run, message: MessageItem, provider_message_id: str | None, taken: Attempt, *, reported: bool = True
) -> Outcome:
    """`sent`; when no delivery report can follow (`reported` False), for good, with the reason
    saying so, out of the poller's index (so never `expired`)."""
    fields: dict[str, Any] = {"provider_message_id": provider_message_id} if provider_message_id else {}
    extra: dict[str, Any] = {} if reported else {"reason": NO_DELIVERY_REPORT, "final": True}
    # Sent at the first try: the `sent` history entry is the attempt (tamtam.store.message_item.implicit_attempts)
    plain = not (taken.reason or taken.raw_status or taken.raw_text)
    first_try = taken.outcome == "sent" and not message.attempts and plain
    _leave_sending(run, message, Status.SENT, what="sent", provider=message.provider,
                   attempt=None if first_try else taken, fields=fields, **extra)
    logger.info("message sent", extra={"message_id": message.id, "provider": message.provider, "final": not reported})
    return Outcome("sent")


def remember_sender(table: Any, message: MessageItem) -> None:
    """The tenant is now the last to have sent to the number through this provider: an answer
    from it is the tenant's (tamtam.store.last_sender). Written once the message is claimed, before
    the pacing wait and the dispatch mark (a device can deliver the text, and its reply come back,
    before the provider's answer does). Only for the providers that deliver
    inbound messages, and never for a provider-side group. Best effort: the message is sent
    whatever happens here; a write that fails is logged and leaves the previous sender."""
    if message.provider not in last_sender.INBOUND_PROVIDERS or message.group_id is not None:
        return
    at = clock.iso()
    try:
        last_sender.record(table, last_sender.LastSender(
            provider=message.provider, phone=message.to, tenant_id=message.tenant_id, message_id=message.id, at=at,
            expires_at=int(clock.now()) + LAST_SENDER_SECONDS))
    except Exception as exc:  # noqa: BLE001  (never fails a send that went out)
        logger.warning("last sender not recorded", extra={"message_id": message.id, "provider": message.provider,
                                                          "error": type(exc).__name__})


def unconfirmed(run: Run, message: MessageItem, reason: str, lost: Attempt) -> Outcome:
    _leave_sending(run, message, Status.UNCONFIRMED, what="unconfirmed", reason=reason, provider=message.provider,
                   attempt=lost)
    logger.info("message unconfirmed", extra={"message_id": message.id, "provider": message.provider, "reason": reason})
    return Outcome("unconfirmed")


def retry_or_exhaust(run: Run, message: MessageItem, exc: ProviderError) -> Outcome:
    """Back to `queued` with a backoff; with the tries used up, fail over (or `failed`), or
    `unconfirmed` when an attempt may have reached the provider. An AmbiguousError comes here
    only from a provider that refuses duplicate ids: the next try carries the same id."""
    ambiguous = isinstance(exc, AmbiguousError)
    if message.tries >= get_settings().send_max_tries:
        if ambiguous or possibly_sent(message):
            reason = exc.reason.value if ambiguous else Reason.TIMEOUT.value
            return unconfirmed(run, message, reason, attempt(message.provider, "unconfirmed", exc))
        return fail_or_failover(run, message, exc, exhausted=True)
    _leave_sending(run, message, Status.QUEUED, what="retry", reason=exc.reason.value, provider=message.provider,
                   attempt=attempt(message.provider, AMBIGUOUS if ambiguous else "retry", exc))
    delay = backoff(message.tries)
    logger.info(
        "provider did not take the message; retrying",
        extra={
            "message_id": message.id,
            "provider": message.provider,
            "reason": exc.reason.value,
            "retry_after": delay,
        },
    )
    return Outcome("retry", retry_after=delay)


def requeue_unpaced(run: Run, message: MessageItem) -> Outcome:
    """No pacing slot before the invocation's deadline (an overload): nothing was called, the
    claim is released without using up a try, and the message is seen again shortly."""
    _leave_sending(run, message, Status.QUEUED, what="paced", provider=message.provider,
                   fields={"tries": max(message.tries - 1, 0)})
    return Outcome("paced", retry_after=PACED_RETRY_SECONDS)


def fail_or_failover(run: Run, message: MessageItem, exc: ProviderError, *, exhausted: bool = False) -> Outcome:
    provider = message.provider
    provider_side = exhausted or exc.reason in PROVIDER_SIDE_REASONS
    if provider_side and possibly_sent(message):  # an earlier try may have gone out: never a second provider
        return unconfirmed(run, message, Reason.TIMEOUT.value, attempt(provider, "unconfirmed", exc))
    to = next_provider(message)
    if to and provider_side:
        # Enqueue first: a crash after it leaves a `sending` record and a spare queue message
        # (the claim makes it harmless), never a `queued` record that no queue message carries.
        url = queues.provider_queue(to, run.lane)
        retried(lambda: queues.send(run.sqs, url, queue_body(message, run.lane, to)), what="failover enqueue",
                deadline=run.deadline)
        moved = _leave_sending(run, message, Status.QUEUED, what="failover", reason=exc.reason.value, provider=to,
                               attempt=attempt(provider, "failed", exc), fields={"provider": to, "tries": 0})
        if moved is not None:
            logger.info(
                "failing over", extra={"message_id": message.id, "from": provider, "to": to, "reason": exc.reason.value}
            )
        return Outcome("failover")
    _leave_sending(run, message, Status.FAILED, what="failed", reason=exc.reason.value, provider=provider,
                   attempt=attempt(provider, "failed", exc))
    logger.info("message failed", extra={"message_id": message.id, "provider": provider, "reason": exc.reason.value})
    return Outcome("failed")
