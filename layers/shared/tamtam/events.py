"""Status-change events on the EventBridge bus (detail-type `Message Status Changed`).

Transitions add an entry to a per-invocation buffer; the handler flushes it once at the end
(`flushing` decorator) with PutEvents in calls of up to 10 entries. Entries carry ids and
statuses only: never a message text or a code.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tamtam import aws
from tamtam.observability import logger
from tamtam.settings import get_settings

SOURCE = "tamtam"
DETAIL_TYPE = "Message Status Changed"
_MAX_ENTRIES = 10

F = TypeVar("F", bound=Callable[..., Any])

# One buffer per process: a sender's worker threads emit, its handler flushes. (The local
# stack runs several invocations in one process; whichever flushes first publishes all.)
_shared: list[dict[str, Any]] = []
_shared_lock = threading.Lock()


def emit(*, tenant_id: str, message_id: str, batch_id: str | None, old: str | None, new: str, reason: str | None,
         provider: str | None, at: str) -> None:
    detail = {
        "tenant_id": tenant_id,
        "message_id": message_id,
        "batch_id": batch_id,
        "old_status": old,
        "new_status": new,
        "reason": reason,
        "provider": provider,
        "at": at,
    }
    entry = {"Source": SOURCE, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail)}
    with _shared_lock:
        _shared.append(entry)


def flush(events_client: Any | None = None) -> int:
    """Publish what was emitted since the last flush; returns how many entries went out."""
    with _shared_lock:
        entries = list(_shared)
        _shared.clear()
    bus = get_settings().event_bus_name
    if not entries or not bus:
        return 0
    client = events_client or aws.client("events")
    sent = 0
    for start in range(0, len(entries), _MAX_ENTRIES):
        chunk = [{**e, "EventBusName": bus} for e in entries[start : start + _MAX_ENTRIES]]
        try:
            answer = client.put_events(Entries=chunk)
        except Exception:  # a lost status event must not fail the send it describes
            logger.exception("status events not published", extra={"count": len(chunk)})
            continue
        sent += len(chunk) - int(answer.get("FailedEntryCount", 0))
        if answer.get("FailedEntryCount"):
            logger.warning("some status events were refused", extra={"failed": answer["FailedEntryCount"]})
    return sent


def flushing(handler: F) -> F:
    """Flush the status events, and the batch counters the same transitions moved
    (tamtam.store.batches), at the end of every invocation, whatever its outcome."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            flush()
            from tamtam.store import batches  # noqa: PLC0415 (the store imports this module)

            batches.flush_counts()

    return wrapper  # type: ignore[return-value]
