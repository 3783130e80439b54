"""Status-change events on the EventBridge bus (detail-type `Message Status Changed`).

One event per entry of a message's history, published by the lifecycle function from the
table's change stream (tamtam.lifecycle), at least once: a receiver dedupes on `event_id`
(`<message id>:<n>`, n the entry's index, also given as `sequence` to order one message's
events). Entries carry ids and statuses only: never a message text or a code. `final` says
the message will not change any more (a `sent` with reason `no_delivery_report` is final).
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any

from tamtam.errors import ServiceUnavailable
from tamtam.observability import logger
from tamtam.status import is_final

if TYPE_CHECKING:
    from tamtam.lifecycle.changes import Change

SOURCE = "tamtam"
DETAIL_TYPE = "Message Status Changed"
# A message a provider received for a tenant (functions/webhooks, README "Inbound messages and
# opt-outs"), put by the webhooks function: detail `tamtam.inbound.event_detail`.
INBOUND_DETAIL_TYPE = "Inbound Message Received"
_MAX_ENTRIES = 10
_TRIES = 6


def detail_of(change: Change) -> dict[str, Any]:
    return {
        "event_id": change.event_id,
        "sequence": change.sequence,
        "tenant_id": change.tenant_id,
        "message_id": change.message_id,
        "batch_id": change.batch_id,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "final": is_final(change.new_status, change.reason),
        "reason": change.reason,
        "provider": change.provider,
        "at": change.at,
    }


def entry_of(change: Change, bus: str) -> dict[str, Any]:
    return {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail_of(change)),
            "EventBusName": bus}


def inbound_entry(detail: dict[str, Any], bus: str) -> dict[str, Any]:
    return {"Source": SOURCE, "DetailType": INBOUND_DETAIL_TYPE, "Detail": json.dumps(detail), "EventBusName": bus}


def publish(client: Any, entries: list[dict[str, Any]]) -> int:
    """PutEvents in calls of 10; entries EventBridge refused, and calls that failed, are tried
    again with backoff. Raises ServiceUnavailable when some are still not published (the caller
    fails, and its stream records come back: events already published go out again, with the
    same ids)."""
    published = 0
    for start in range(0, len(entries), _MAX_ENTRIES):
        pending = entries[start : start + _MAX_ENTRIES]
        for attempt in range(_TRIES):
            try:
                answer = client.put_events(Entries=pending)
            except Exception as exc:  # noqa: BLE001 - throttled, 5xx, connection: all retried alike
                logger.warning(
                    "status events not published; retrying", extra={"count": len(pending), "error": type(exc).__name__}
                )
            else:
                results = answer.get("Entries") or []
                refused = [e for e, r in zip(pending, results, strict=False) if r.get("ErrorCode")]
                if not answer.get("FailedEntryCount"):
                    refused = []
                published += len(pending) - len(refused)
                if not refused:
                    break
                pending = refused
            time.sleep(min(0.1 * 2**attempt, 2.0) * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
        else:
            raise ServiceUnavailable(f"{len(pending)} status events not published", code="events_unavailable")
    return published
