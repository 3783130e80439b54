"""Finalising a message whose queue deliveries ran out (it reached a dead-letter queue)."""

from __future__ import annotations

from typing import Any

from tamtam import clock
from tamtam.status import Status
from tamtam.store import messages
from tamtam.store.message_item import Attempt


def finalize(message_id: str, *, table: Any) -> str:
    current = messages.get(table, message_id)
    if current is None:
        return "unknown"
    if current.status == Status.QUEUED:
        reason = current.reason or "retries_exhausted"
        done = messages.transition(
            table, message_id, Status.FAILED, expect={Status.QUEUED}, reason=reason, provider=current.provider
        )
        return "failed" if done else "raced"
    if current.status == Status.SENDING:
        # The provider was called and no outcome was written: it may have sent it.
        done = messages.transition(
            table, message_id, Status.UNCONFIRMED, expect={Status.SENDING}, reason="sender_interrupted",
            provider=current.provider, fields={"claim_at": None},
            attempt=Attempt(provider=current.provider, at=clock.iso(), outcome="unconfirmed", reason="sender_interrupted"),
        )
        return "unconfirmed" if done else "raced"
    return "already_" + current.status
