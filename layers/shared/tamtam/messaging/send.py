"""Sending one queued message through its provider, exactly once, and never saying more than
is known about it.

1. Claim: a conditional write moves the record `queued` -> `sending` (only for the provider
   the queue message names) with `claim_at`. A redelivered SQS message finds it claimed or
   finished and never reaches the provider again.
2. Prepare: the circuit breaker, the provider client (its secret), the text (an OTP's code),
   the pacing slot. Nothing has left: any failure here releases the claim (back to `queued`
   with a backoff, or over to the next provider once the tries are used up), never
   `unconfirmed`. A secret that is not a valid one is the provider's failure: failover. A
   bulk record at a provider that takes lists may join the invocation's others of the same text
   first (tamtam.messaging.lists): each still takes its own slot, one request carries them.
3. Dispatch mark: `dispatched_at`, conditional on this very claim, so a sender whose claim was
   taken over never calls. A `sending` record without it was certainly not sent.
4. Call the provider (one renewal of the credentials after an auth failure).
5. Record the outcome (tamtam.messaging.outcomes), each write retried through AWS-side faults.

A queue message may arrive before its record is written (the api and the scheduler enqueue
first): it is handed back every few seconds for `orphan_window_seconds`, then dropped
(`unknown`, `not_released`). A stale claim (its sender vanished) without a dispatch mark is
taken over and sent; with one, a provider that refuses duplicate ids is asked again with the
same id, any other message is `unconfirmed`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

from tamtam import clock, failpoints, health, pacing, queues
from tamtam.messaging import lists, outcomes
from tamtam.messaging.clients import ClientCache
from tamtam.messaging.outcomes import AMBIGUOUS, Outcome, Run, attempt, next_provider, possibly_sent
from tamtam.messaging.texts import text_for
from tamtam.observability import logger, metrics
from tamtam.otp.errors import OtpUnavailable
from tamtam.providers.base import (
    PROVIDER_SIDE_REASONS,
    AmbiguousError,
    AuthError,
    DuplicateError,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    ProviderError,
    Reason,
    TransientError,
)
from tamtam.providers.registry import POLL, capabilities
from tamtam.queue_bodies import QueueBody
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import lists as store_lists
from tamtam.store import messages
from tamtam.store.message_item import FANOUT_TOKEN, Attempt, MessageItem

__all__ = ["DONE", "Outcome", "QueueBody", "process"]

DONE = "done"
REREAD_SECONDS = 0.2  # a missing record is looked for once more after this, in process
NOT_THERE_RETRY_SECONDS = 2  # then the queue message comes back this much later
MARK_LEAD_SECONDS = 0.5  # the dispatch mark is written this long before a paced call's slot, at most


def process(
    body: QueueBody, *, table: Any, sqs: Any, clients: ClientCache, sent_at: float | None = None,
    deadline: float | None = None, ticket: pacing.Ticket | None = None,
) -> Outcome:
    """`sent_at`: when the queue message was sent (epoch seconds, SQS `SentTimestamp`);
    `deadline`: the invocation's end, a time.monotonic() value; `ticket`: the record's place in
    its provider's pacing pool (tamtam.pacing.turn; None: not paced)."""
    run = Run(table, sqs, body.lane, deadline, ticket)
    failpoints.hit("sender.before_claim", message_id=body.message_id)
    claimed = _claim(run, body)
    if claimed is not None:
        return _send_claimed(claimed, body, run, clients)
    return _not_claimed(messages.get(table, body.message_id), body, run, clients, sent_at=sent_at)


def _claim(run: Run, body: QueueBody) -> MessageItem | None:
    return messages.transition(
        run.table, body.message_id, Status.SENDING, expect={Status.QUEUED}, expect_provider=body.provider,
        provider=body.provider, fields={"claim_at": clock.now(), FANOUT_TOKEN: None}, increment_tries=True,
    )


def _not_claimed(
    current: MessageItem | None, body: QueueBody, run: Run, clients: ClientCache, *, sent_at: float | None,
    again: bool = True,
) -> Outcome:
    # Not written (or released, or moved by a failover) yet, or just written since the claim
    # failed: the common races of enqueue-first. Look once more before handing the message back.
    waiting = current is None or current.status == Status.SCHEDULED or (
        current.status == Status.SENDING and current.provider != body.provider)
    if again and (
        waiting or (current is not None and current.status == Status.QUEUED and current.provider == body.provider)
    ):
        if waiting:
            time.sleep(REREAD_SECONDS)
        claimed = _claim(run, body)
        if claimed is not None:
            return _send_claimed(claimed, body, run, clients)
        current = messages.get(run.table, body.message_id)
        return _not_claimed(current, body, run, clients, sent_at=sent_at, again=False)
    if current is None:
        return _not_there(body, sent_at, "unknown")
    if current.status == Status.SCHEDULED:
        return _not_there(body, sent_at, "not_released")
    if current.status == Status.QUEUED:
        if current.provider == body.provider:
            return Outcome("raced", retry_after=NOT_THERE_RETRY_SECONDS)
        # A failover moved it; make sure the current provider's queue has it (claims dedupe).
        queues.send(
            run.sqs, queues.provider_queue(current.provider, body.lane), outcomes.queue_body(current, body.lane)
        )
        return Outcome("forwarded")
    if current.status != Status.SENDING:
        return Outcome("already_" + current.status)
    if current.provider != body.provider:
        return Outcome("in_flight", retry_after=10)
    age = clock.now() - (current.claim_at or 0)
    stale_after = get_settings().claim_stale_seconds
    if age < stale_after:
        return Outcome("in_flight", retry_after=int(stale_after - age) + 1)
    return _stale_claim(current, body, run, clients)


def _not_there(body: QueueBody, sent_at: float | None, result: str) -> Outcome:
    """No record (the api dies between its enqueue and its write), or one still `scheduled`
    (the scheduler dies between its enqueue and its release): it may still come, so the queue
    message waits for it within the window, then is dropped. SentTimestamp is wall-clock time."""
    age = time.time() - sent_at if sent_at is not None else math.inf
    if age < get_settings().orphan_window_seconds:
        return Outcome("waiting_record", retry_after=NOT_THERE_RETRY_SECONDS)
    logger.warning(
        "queue message without a sendable record; dropped", extra={"message_id": body.message_id, "result": result}
    )
    return Outcome(result)


def _stale_claim(current: MessageItem, body: QueueBody, run: Run, clients: ClientCache) -> Outcome:
    """A sender took the message and vanished before recording the outcome."""
    dispatched = current.dispatched_at is not None
    if dispatched and not capabilities(current.provider).refuses_duplicate_ids:
        lost = Attempt(provider=current.provider, at=clock.iso(), outcome="unconfirmed", reason="sender_interrupted")
        return outcomes.unconfirmed(run, current, "sender_interrupted", lost)
    # Never dispatched: certainly not sent. Dispatched to a provider that refuses duplicate ids:
    # asking again with the same id is safe (and the attempt says it may have gone out).
    mark = attempt(current.provider, AMBIGUOUS, reason="sender_interrupted") if dispatched else None
    taken = messages.take_over(
        run.table, current.id, provider=current.provider, old_claim_at=current.claim_at, dispatched=dispatched,
        attempt=mark,
    )
    if taken is None:
        # Another delivery of this message took it over first. Keep this queue message: if that
        # one dies in turn, this copy is what finds its claim stale (dropping it left a record
        # `sending` with nothing queued, found by `make chaos`).
        stale_after = get_settings().claim_stale_seconds
        return Outcome("in_flight", retry_after=int(stale_after) + 1)
    logger.info("stale claim taken over", extra={"message_id": current.id, "dispatched": dispatched})
    return _send_claimed(taken, body, run, clients)


def _send_claimed(message: MessageItem, body: QueueBody, run: Run, clients: ClientCache) -> Outcome:
    failpoints.hit("sender.claimed", message_id=message.id)
    prepared = _prepare(message, run, clients)
    if isinstance(prepared, Outcome):
        return prepared
    client, outbound = prepared
    # Who sent to this number, written before the pacing wait and the dispatch mark: a reply can
    # come back before the provider's answer does, and nothing stands between the mark and the
    # call (a slow or throttled write there would be a send recorded as possibly made).
    outcomes.remember_sender(run.table, message)
    gather = lists.current()
    if gather is not None and not _may_share(message):
        lists.stay_out()  # the others need not wait for this one
        gather = None
    if gather is not None:  # a list request is paced as its members: sent at the latest one's slot
        together = _send_together(gather, lists.Member(message, client, outbound), run, clients)
        if together is not None:
            return together
    slot = pacing.take_turn(run.ticket)  # this message's slot of the provider's rate limit (tamtam.pacing)
    if slot is None:
        return outcomes.requeue_unpaced(run, message)
    # The dispatch mark is the last write before the call, after the pacing wait (a sender that
    # dies while it waits leaves a message that was certainly not sent). The wait ends
    # MARK_LEAD_SECONDS before the slot, so that the mark's latency never pushes calls together
    # past the provider's rate limit; the rest is a plain sleep, with no call to anything.
    kept = pacing.sleep_until(slot, run.ticket, lead=MARK_LEAD_SECONDS)
    if kept is None:
        return outcomes.requeue_unpaced(run, message)
    try:
        marked = messages.mark_dispatched(run.table, message.id, claim_at=message.claim_at)
    except Exception:  # noqa: BLE001 - not marked, so not called: release (the mark, if it landed, is cleared)
        logger.exception("dispatch mark not written", extra={"message_id": message.id})
        return _release(run, message, "dispatch mark not written")
    if not marked:
        logger.info("claim taken over before the call; not sending", extra={"message_id": message.id})
        return Outcome("taken_over")
    pacing.settle(kept)
    return _call_and_record(message, client, clients, outbound, run)


def _may_share(message: MessageItem) -> bool:
    """A message may go out in a list request: plain text to one recipient, never dispatched
    before (a resend carries its first request's id alone), never possibly taken already."""
    return (message.group_id is None and message.otp_id is None and message.dispatched_at is None
            and message.list_id is None and not possibly_sent(message))


def _send_together(gather: lists.Gather, member: lists.Member, run: Run, clients: ClientCache) -> Outcome | None:
    """Send in one request with the invocation's other recipients of the same text; None when
    none joined (a group of one: sent on its own)."""
    lists.joining()
    group = gather.join(member)
    if len(group) == 1:
        return None
    # Each member takes its own slot of the rate limit; the first one with a slot leads.
    try:
        member.slot = pacing.take_turn(run.ticket)
    finally:
        member.slotted.set()
    wait = (run.deadline - time.monotonic()) if run.deadline is not None else 60.0
    for other in group:
        other.slotted.wait(max(wait, 0.0))
    if member.slot is None:
        return outcomes.requeue_unpaced(run, member.message)
    paced = [m for m in group if m.slotted.is_set() and m.slot is not None]
    if paced[0] is member:
        _lead(paced, run, clients)
    else:
        member.done.wait(max((run.deadline - time.monotonic()) if run.deadline is not None else 60.0, 0.0))
    return _record_member(member, run, clients)


def _lead(group: list[lists.Member], run: Run, clients: ClientCache) -> None:
    """The list request: who each recipient is (for reports naming the request and a number),
    each member's dispatch mark (conditional on its own claim: a member taken over meanwhile
    is left out), the wait for the latest slot, one call. Every member gets its answer."""
    first = group[0]
    provider = first.message.provider
    list_id = first.client.list_id_for(first.message.id)  # None: the provider names it itself
    for member in group:
        member.answer = lists.NOT_MARKED
    try:
        latest = max(m.slot for m in group if m.slot is not None)
        pacing.settle(latest - MARK_LEAD_SECONDS)  # each member's slot is its share of the rate limit
        if list_id is not None:
            try:
                store_lists.put(run.table, provider, list_id, {m.message.to: m.message.id for m in group})
            except Exception:  # noqa: BLE001 - no list item: the group is not sent
                logger.exception("list item not written; not sending", extra={"provider": provider, "list_id": list_id})
                return
        marked = []
        for member in group:
            try:
                ok = messages.mark_dispatched(run.table, member.message.id, claim_at=member.message.claim_at,
                                              list_id=list_id)
            except Exception:  # noqa: BLE001 - not marked: this member is not sent
                logger.exception("dispatch mark not written", extra={"message_id": member.message.id})
                continue
            member.answer = lists.LEADER_LOST if ok else lists.TAKEN_OVER
            if ok:
                marked.append(member)
        if not marked:
            return
        pacing.settle(latest)
        outbounds = [replace(m.outbound, provider_id=list_id) for m in marked]
        try:
            answers: list[Any] = _call(first.client, clients, outbounds)
        except ProviderError as exc:  # the request as a whole: the same for every member
            answers = [_WholeList(exc)] * len(marked)
        for member, answer in zip(marked, answers, strict=True):
            member.answer = answer
    finally:
        for member in group:
            member.done.set()


@dataclass(frozen=True)
class _WholeList:
    """A list request's error, which holds for every recipient in it."""

    error: ProviderError


def _record_member(member: lists.Member, run: Run, clients: ClientCache) -> Outcome:
    message, client, answer = member.message, member.client, member.answer
    if answer == lists.TAKEN_OVER:
        logger.info("claim taken over before the call; not sending", extra={"message_id": message.id})
        return Outcome("taken_over")
    if answer == lists.NOT_MARKED:
        return _release(run, message, "dispatch mark not written")
    if answer == lists.LEADER_LOST:  # dispatched, no answer: the stale claim decides, later
        return Outcome("in_flight", retry_after=int(get_settings().claim_stale_seconds) + 1)
    if isinstance(answer, _WholeList):
        if isinstance(answer.error, PermanentError) and answer.error.reason == Reason.INVALID_NUMBER:
            return _send_alone(member, run, clients)  # one refused number refuses the list: not taken
        answer = answer.error
    failpoints.hit("sender.called", message_id=message.id)
    if isinstance(answer, ProviderError):
        outcome = _record_refusal(message, client, answer, run)
    else:
        health.record(message.provider, ok=True)
        taken_id = answer.provider_message_id
        outcome = _record_sent(run.table, message, taken_id, attempt(message.provider, "sent"),
                               deadline=run.deadline, reported=_reported(message, client, taken_id))
    failpoints.hit("sender.recorded", message_id=message.id)
    return outcome


def _send_alone(member: lists.Member, run: Run, clients: ClientCache) -> Outcome:
    """A list refused as a whole for a number in it: each member goes on its own, under its own
    id (the mark again, so that a resend names this request, not the refused list)."""
    message = member.message
    own = member.client.provider_id_for(message.id)
    try:
        marked = messages.mark_dispatched(run.table, message.id, claim_at=message.claim_at, list_id=own)
    except Exception:  # noqa: BLE001 - not marked, so not called: release
        logger.exception("dispatch mark not written", extra={"message_id": message.id})
        return _release(run, message, "dispatch mark not written")
    if not marked:
        return Outcome("taken_over")
    return _call_and_record(message, member.client, clients, replace(member.outbound, provider_id=own), run)


def _release(run: Run, message: MessageItem, detail: str) -> Outcome:
    return outcomes.retry_or_exhaust(run, message, TransientError(Reason.PROVIDER_UNAVAILABLE, detail=detail))


def _prepare(
    message: MessageItem, run: Run, clients: ClientCache
) -> tuple[ProviderClient, OutboundMessage] | Outcome:
    """Everything the call needs, or the outcome of a send that never left."""
    provider = message.provider
    try:
        circuit_open = (
            bool(next_provider(message)) and not possibly_sent(message) and health.is_open(run.table, provider)
        )
    except Exception:  # noqa: BLE001 - nothing sent yet: release and retry
        logger.exception("circuit breaker not readable", extra={"message_id": message.id, "provider": provider})
        return _release(run, message, "circuit breaker not readable")
    if circuit_open:
        unhealthy = TransientError(Reason.PROVIDER_UNAVAILABLE, detail="circuit open")
        return outcomes.fail_or_failover(run, message, unhealthy, exhausted=True)
    try:
        client = clients.get(provider)
    except Exception as exc:  # noqa: BLE001 - never logged with its text: a validation error quotes the secret
        logger.error(
            "provider client not available",
            extra={"message_id": message.id, "provider": provider, "error": type(exc).__name__},
        )
        if not _unusable_secret(exc):  # throttled, 5xx, unreachable: try again later
            return _release(run, message, "provider secret not readable")
        unusable = PermanentError(Reason.AUTH_FAILED, detail="provider secret unusable")
        if next_provider(message):
            return outcomes.fail_or_failover(run, message, unusable, exhausted=True)
        return outcomes.retry_or_exhaust(run, message, unusable)
    try:
        text = text_for(message, table=run.table)
    except OtpUnavailable as exc:  # the code expired or was used meanwhile: already recorded failed
        return Outcome("otp_" + exc.reason)
    except Exception:  # noqa: BLE001 - e.g. KMS throttled: nothing was sent, release the claim and retry
        logger.exception("message text not available", extra={"message_id": message.id})
        return _release(run, message, "message text not available")
    outbound = OutboundMessage(message.id, message.to, text, message.sender, message.channel, group_id=message.group_id,
                               provider_id=message.list_id)
    return client, outbound


def _unusable_secret(exc: Exception) -> bool:
    """The secret was read and is not a valid one (not JSON, not an object, fields missing or
    wrong, or none configured), as opposed to not readable right now."""
    from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError  # noqa: PLC0415

    return isinstance(exc, (ValueError, KeyError, TransformParameterError))


def _call(client: ProviderClient, clients: ClientCache, outbound: Any) -> Any:
    """One provider request: one message (a SendResult), or a list of them (one answer each)."""
    started = time.monotonic()
    try:
        return _call_once_renewing(client, clients, outbound)
    finally:  # one metric name per provider: the dashboard's latency graph
        metrics.add_metric(name=f"ProviderLatency_{client.name}", unit="Milliseconds",
                           value=round((time.monotonic() - started) * 1000, 1))


def _send_with(client: ProviderClient, outbound: Any) -> Any:
    return client.send_list(outbound) if isinstance(outbound, list) else client.send(outbound)


def _call_once_renewing(client: ProviderClient, clients: ClientCache, outbound: Any) -> Any:
    try:
        return _send_with(client, outbound)
    except AuthError:
        # Not taken; the secret may have been rotated since it was cached.
        logger.info("auth failed; refetching the provider secret", extra={"provider": client.name})
    refreshed = _renewed(lambda: clients.refresh(client.name))
    try:
        return _send_with(refreshed, outbound)
    except AuthError:
        # A rotation in flight: the provider may already hold the AWSPENDING credentials only.
        pending = _renewed(lambda: clients.pending(client.name, tried=refreshed))
        if pending is None:
            raise
        logger.info("auth failed again; trying the pending secret", extra={"provider": client.name})
        return _send_with(pending, outbound)


def _renewed(fetch: Any) -> Any:
    """A refetch after an auth failure (nothing was taken): a secret not readable now is a
    transient failure, not an error that would leave the claim to go stale."""
    try:
        return fetch()
    except Exception as exc:
        raise TransientError(
            Reason.PROVIDER_UNAVAILABLE, detail=f"secret refetch failed ({type(exc).__name__})"
        ) from exc


def _call_and_record(
    message: MessageItem, client: ProviderClient, clients: ClientCache, outbound: OutboundMessage, run: Run
) -> Outcome:
    provider = message.provider
    try:
        result = _call(client, clients, outbound)
    except ProviderError as exc:
        failpoints.hit("sender.called", message_id=message.id)
        outcome = _record_refusal(message, client, exc, run)
    else:
        failpoints.hit("sender.called", message_id=message.id)
        health.record(provider, ok=True)
        outcome = _record_sent(run.table, message, result.provider_message_id, attempt(provider, "sent"),
                               deadline=run.deadline,
                               reported=_reported(message, client, result.provider_message_id))
    failpoints.hit("sender.recorded", message_id=message.id)
    return outcome


def _record_refusal(message: MessageItem, client: ProviderClient, exc: ProviderError, run: Run) -> Outcome:
    provider = message.provider
    if isinstance(exc, DuplicateError):
        health.record(provider, ok=True)
        return _record_sent(run.table, message, None, attempt(provider, "duplicate", exc), deadline=run.deadline,
                            reported=_reported(message, client, None))
    if isinstance(exc, AmbiguousError):
        health.record(provider, ok=False)
        if capabilities(provider).refuses_duplicate_ids:  # asked again with the same id; never `failed` from here
            return outcomes.retry_or_exhaust(run, message, exc)
        return outcomes.unconfirmed(run, message, exc.reason.value, attempt(provider, "unconfirmed", exc))
    if isinstance(exc, TransientError):
        health.record(provider, ok=False)
        return outcomes.retry_or_exhaust(run, message, exc)
    if isinstance(exc, PermanentError):
        if exc.reason in PROVIDER_SIDE_REASONS:
            health.record(provider, ok=False)
        return outcomes.fail_or_failover(run, message, exc)
    raise exc


def _reported(message: MessageItem, client: ProviderClient, provider_message_id: str | None) -> bool:
    """Whether a delivery report can follow this send: the provider reports (registry), the
    message went to one recipient (a provider-side group gets no report per member), and, for
    a provider that is only polled, there is an id to ask about."""
    caps = capabilities(message.provider)
    if not caps.reports_delivery or message.group_id is not None:
        return False
    if caps.reports == {POLL}:
        return bool(provider_message_id or client.provider_id_for(message.id))
    return True


def _record_sent(
    table: Any, message: MessageItem, provider_message_id: str | None, taken: Attempt, *,
    deadline: float | None = None, reported: bool = True,
) -> Outcome:
    """`sent` (kept a module function: `make chaos` wraps it to kill senders right here)."""
    return outcomes.record_sent(Run(table, None, deadline=deadline), message, provider_message_id, taken,
                                reported=reported)
