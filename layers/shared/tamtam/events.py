"""Status-change events on the EventBridge bus, published by the lifecycle function from the
table's change stream (tamtam.lifecycle), at least once.

Every entry of a message's history is one *change*: `event_id` (`<message id>:<n>`, n the
entry's index, also given as `sequence` to order one message's changes) is what a receiver
dedupes on. A change carries ids and statuses only: never a message text or a code. `final`
says the message will not change any more (a `sent` with reason `no_delivery_report` is final).

How changes go on the bus is the `STATUS_EVENTS` setting (stack parameter `StatusEvents`):
- `grouped` (the default): one `Message Status Changes` event per lifecycle invocation and
  tenant, its detail `{"tenant_id", "count", "changes": [change, ...]}`, split so that no event
  is over one 64 KB billing chunk (about 150 changes). EventBridge bills per event: a bulk
  message's three changes cost about $0.02 per million messages instead of $3.
- `each`: one `Message Status Changed` event per change, its detail the change itself ($1 per
  million changes). A rule can then match single statuses without reading a list.
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
DETAIL_TYPE = "Message Status Changed"  # STATUS_EVENTS=each: one change per event
GROUPED_DETAIL_TYPE = "Message Status Changes"  # STATUS_EVENTS=grouped: a tenant's changes of an invocation
STATUS_DETAIL_TYPES = (DETAIL_TYPE, GROUPED_DETAIL_TYPE)
# A message a provider received for a tenant (functions/webhooks, README "Inbound messages and
# opt-outs"), put by the webhooks function: detail `tamtam.inbound.event_detail`.
INBOUND_DETAIL_TYPE = "Inbound Message Received"
_MAX_ENTRIES = 10
# EventBridge bills each 64 KB chunk of an event as one event, and takes at most 256 KB per
# PutEvents call: a grouped event's detail stays under one chunk, a call under the call's limit.
_GROUP_DETAIL_BYTES = 60_000
_CALL_BYTES = 240_000
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


def grouped_entries(changes: list[Change], bus: str) -> list[dict[str, Any]]:
    """A tenant's changes in as few `Message Status Changes` events as fit one billing chunk
    each, in stream order."""
    by_tenant: dict[str, list[dict[str, Any]]] = {}
    for change in changes:
        by_tenant.setdefault(change.tenant_id, []).append(detail_of(change))
    entries = []
    for tenant_id, details in by_tenant.items():
        group: list[str] = []
        size = 0
        for detail in details:
            encoded = json.dumps(detail)
            if group and size + len(encoded) + 2 > _GROUP_DETAIL_BYTES:
                entries.append(_group_entry(tenant_id, group, bus))
                group, size = [], 0
            group.append(encoded)
            size += len(encoded) + 2
        entries.append(_group_entry(tenant_id, group, bus))
    return entries


def _group_entry(tenant_id: str, encoded: list[str], bus: str) -> dict[str, Any]:
    detail = f'{{"tenant_id": {json.dumps(tenant_id)}, "count": {len(encoded)}, "changes": [{", ".join(encoded)}]}}'
    return {"Source": SOURCE, "DetailType": GROUPED_DETAIL_TYPE, "Detail": detail, "EventBusName": bus}


def status_entries(changes: list[Change], bus: str, mode: str) -> list[dict[str, Any]]:
    """The bus entries of `changes` under the `STATUS_EVENTS` mode (`grouped` or `each`)."""
    if not changes:
        return []
    if mode == "each":
        return [entry_of(change, bus) for change in changes]
    return grouped_entries(changes, bus)


def changes_in(detail_type: str, detail: dict[str, Any]) -> list[dict[str, Any]]:
    """The changes an event of either status detail type carries (for receivers and tests)."""
    if detail_type == GROUPED_DETAIL_TYPE:
        return list(detail["changes"])
    return [detail] if detail_type == DETAIL_TYPE else []


def _size(entry: dict[str, Any]) -> int:
    return len(entry["Source"]) + len(entry["DetailType"]) + len(entry["Detail"].encode()) + 14


def _calls(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Entries cut into PutEvents calls: at most 10 entries and `_CALL_BYTES` a call."""
    calls: list[list[dict[str, Any]]] = []
    size = 0
    for entry in entries:
        if not calls or len(calls[-1]) == _MAX_ENTRIES or size + _size(entry) > _CALL_BYTES:
            calls.append([])
            size = 0
        calls[-1].append(entry)
        size += _size(entry)
    return calls


def inbound_entry(detail: dict[str, Any], bus: str) -> dict[str, Any]:
    return {"Source": SOURCE, "DetailType": INBOUND_DETAIL_TYPE, "Detail": json.dumps(detail), "EventBusName": bus}


def publish(client: Any, entries: list[dict[str, Any]]) -> int:
    """PutEvents in calls of at most 10 entries and 240 KB; entries EventBridge refused, and
    calls that failed, are tried again with backoff. Raises ServiceUnavailable when some are
    still not published (the caller fails, and its stream records come back: events already
    published go out again, with the same ids)."""
    published = 0
    for call in _calls(entries):
        pending = call
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
