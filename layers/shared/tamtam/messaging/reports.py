"""Delivery reports (SMSGate webhooks, status polling) applied to message records.

A report only ever moves a message forward: the transition is conditional on the statuses
strictly earlier than the reported one (`tamtam.status.is_forward`), so a repeated report, a
late `sent` after `delivered`, or a report racing another writer changes nothing. The
provider's own word for the status is kept beside it, as an attempt with outcome `report`.
"""

from __future__ import annotations

from typing import Any

from tamtam import clock
from tamtam.status import NO_DELIVERY_REPORT, Status, is_forward
from tamtam.store import messages
from tamtam.store.message_item import Attempt, MessageItem

REPORT = "report"
# The only lifecycle words a provider report may carry that change a message.
REPORTED: dict[str, Status] = {"sent": Status.SENT, "delivered": Status.DELIVERED, "failed": Status.FAILED}
EXPIRED_REASON = "no_final_report"
_RAW_MAX = 500


def earlier_than(status: Status) -> frozenset[Status]:
    """Every status a message may leave for `status`."""
    return frozenset(s for s in Status if is_forward(s, status))


def apply_report(
    table: Any,
    message_id: str,
    status: Status,
    *,
    provider: str,
    raw_status: str,
    reason: str | None = None,
    raw_text: str | None = None,
    only_if_provider: bool = False,
) -> MessageItem | None:
    """Move the message to `status` as `provider` reported it; None when that is not progress
    (or the message is unknown). `only_if_provider`: apply only while `provider` still holds
    the message (a failure report about an attempt the message has since left is stale)."""
    attempt = Attempt(
        provider=provider,
        at=clock.iso(),
        outcome=REPORT,
        reason=reason,
        raw_status=raw_status[:_RAW_MAX],
        raw_text=raw_text[:_RAW_MAX] if raw_text else None,
    )
    return messages.transition(
        table,
        message_id,
        status,
        expect=earlier_than(status),
        reason=reason,
        provider=provider,
        attempt=attempt,
        # A success report names the provider that carried the message (after a failover that
        # raced an earlier provider's late success, that is the earlier one).
        fields={"claim_at": None, "provider": provider},
        expect_provider=provider if only_if_provider else None,
    )


def final_sent(table: Any, message_id: str, *, provider: str, raw_status: str) -> MessageItem | None:
    """The provider says `sent` and will say nothing more: `sent` for good (reason
    `no_delivery_report`, out of the poller's index, never `expired`)."""
    attempt = Attempt(provider=provider, at=clock.iso(), outcome=REPORT, raw_status=raw_status[:_RAW_MAX])
    return messages.transition(table, message_id, Status.SENT, expect={Status.SENT}, reason=NO_DELIVERY_REPORT,
                               provider=provider, attempt=attempt, final=True, expect_provider=provider)


def expire(table: Any, message_id: str) -> MessageItem | None:
    """A message left `sent` with no final report within the window: `expired`."""
    return messages.transition(table, message_id, Status.EXPIRED, expect={Status.SENT}, reason=EXPIRED_REASON)
