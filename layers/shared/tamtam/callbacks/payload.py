"""The JSON a receiver gets: one status change of one message.

    {"id": "msg_...:3", "type": "message.delivered", "created_at": "...", "message_id": "msg_...",
     "sequence": 3, "status": "delivered", "previous_status": "sent", "final": true,
     "reason": null, "provider": "smsgate", "batch_id": null, "reference": "order-1042"}

An inbound message (docs: README "Inbound messages and opt-outs") is POSTed as type
`message.received`, to the endpoints that asked for it: it carries what was received, the
sender's number and text included (that is its point), and its `id` is the inbound id.

`id` is the event id of the bus event (`<message id>:<n>`): the same change delivered twice has
the same id, so receivers dedupe on it. `sequence` (n, the index of the change in the message's
history) orders one message's events; it grows but may skip numbers (a history entry that did
not change the status, a failover to another provider, is not a status change and is not
POSTed). `created_at` is when the status changed. Never a text, a number or a code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tamtam.status import Status, is_final

if TYPE_CHECKING:
    from tamtam.lifecycle.changes import Change
    from tamtam.store.inbound import InboundItem

TYPE_PREFIX = "message."
RECEIVED = "message.received"
# One type per status a message can take (`accepted` is never stored), and inbound messages.
EVENT_TYPES = (*(f"{TYPE_PREFIX}{s.value}" for s in Status if s != Status.ACCEPTED), RECEIVED)


def type_of(status: str) -> str:
    return f"{TYPE_PREFIX}{status}"


def is_status_change(change: Change) -> bool:
    """A change a receiver hears of: the record's creation or a new status."""
    return change.old_status != change.new_status


def event_of(change: Change) -> dict[str, Any]:
    return {
        "id": change.event_id,
        "type": type_of(change.new_status),
        "created_at": change.at,
        "message_id": change.message_id,
        "sequence": change.sequence,
        "status": change.new_status,
        "previous_status": change.old_status,
        "final": is_final(change.new_status, change.reason),
        "reason": change.reason,
        "provider": change.provider,
        "batch_id": change.batch_id,
        "reference": change.reference,
    }


def received_event(item: InboundItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "type": RECEIVED,
        "created_at": item.received_at,
        "inbound_id": item.id,
        "from": item.from_,
        "to": item.to,
        "text": item.text,
        "channel": item.channel,
        "provider": item.provider,
        "keyword": item.keyword,
        "in_reply_to": item.in_reply_to,
    }
