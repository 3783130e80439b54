"""One lifecycle for every provider. A message only ever moves forward."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    ACCEPTED = "accepted"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # The request went out but no answer came back, through a provider that would not refuse
    # a duplicate: the message may or may not have been sent, and is never re-sent silently.
    UNCONFIRMED = "unconfirmed"


FINAL = frozenset({Status.DELIVERED, Status.FAILED, Status.EXPIRED, Status.CANCELLED})

# The reason a message is `sent` for good: the provider that took it gives no delivery report
# (FLOW SMS, Ventis, a provider-side group). `expired` keeps its own meaning: a provider that
# does report said nothing within the window.
NO_DELIVERY_REPORT = "no_delivery_report"


def is_final(status: Status | str, reason: str | None = None) -> bool:
    """True when the message will not change any more."""
    return Status(status) in FINAL or (Status(status) == Status.SENT and reason == NO_DELIVERY_REPORT)

_RANK = {
    Status.ACCEPTED: 0,
    Status.SCHEDULED: 1,
    Status.QUEUED: 1,
    Status.SENDING: 2,
    Status.SENT: 3,
    Status.UNCONFIRMED: 3,
    Status.DELIVERED: 4,
    Status.FAILED: 4,
    Status.EXPIRED: 4,
    Status.CANCELLED: 4,
}


def is_forward(old: Status | str, new: Status | str) -> bool:
    """True when moving from `old` to `new` is progress (never backwards, never out of a
    final status)."""
    old_s, new_s = Status(old), Status(new)
    if old_s in FINAL:
        return False
    return _RANK[new_s] > _RANK[old_s]
