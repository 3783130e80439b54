"""Finalising a message whose queue deliveries ran out (it reached a dead-letter queue).

The word depends on whether the provider may have it: a `queued` record, or a `sending` one
without a dispatch mark, was certainly not sent (`failed`); a dispatched claim, or an earlier
ambiguous answer from a provider that refuses duplicates, may have been (`unconfirmed`).
"""

from __future__ import annotations

from typing import Any

from tamtam import clock
from tamtam.messaging.outcomes import LEAVES_SENDING, possibly_sent
from tamtam.messaging.writes import retried
from tamtam.providers.base import Reason
from tamtam.status import Status
from tamtam.store import messages
from tamtam.store.message_item import Attempt


def finalize(message_id: str, *, table: Any) -> str:
    current = messages.get(table, message_id)
    if current is None:
        return "unknown"
    if current.status not in (Status.QUEUED, Status.SENDING):
        return "already_" + current.status
    status = Status(current.status)
    if status == Status.SENDING and current.dispatched_at is not None:
        # The provider was called (or about to be) and no outcome was written: it may have sent it.
        new, reason = Status.UNCONFIRMED, "sender_interrupted"
    elif possibly_sent(current):
        new, reason = Status.UNCONFIRMED, Reason.TIMEOUT.value
    else:  # never dispatched: certainly not sent
        new, reason = Status.FAILED, (current.reason if status == Status.QUEUED else None) or "retries_exhausted"
    last = Attempt(provider=current.provider, at=clock.iso(), outcome=new.value, reason=reason)
    done = retried(
        lambda: messages.transition(
            table,
            message_id,
            new,
            expect={status},
            reason=reason,
            provider=current.provider,
            fields=dict(LEAVES_SENDING),
            attempt=last if status == Status.SENDING or new == Status.UNCONFIRMED else None,
        ),
        what="finalize",
    )
    return new.value if done else "raced"
