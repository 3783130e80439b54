"""One batch of stream records -> its events, its batch counter moves, its failure counts.

Order matters for what a death in between leaves behind, and every step is safe to repeat:
1. the events are published (grouped per tenant, or one per change: the `STATUS_EVENTS`
   setting; at least once; `event_id` lets receivers dedupe), and the status
   callbacks they call for are put on the callbacks queue (tamtam.callbacks.enqueue: at least
   once too, same ids);
2. each batch's counters move in one transaction with a marker named after the stream records
   that moved them (tamtam.store.batches.apply_counts): the same records delivered again move
   nothing;
3. the failure metrics, last (a metric may count twice when the invocation dies after it; it
   never misses a failure that the records show): `MessagesFailed` by provider and reason, once
   per message, and `FailedMessages` / `UnconfirmedMessages`, once per transition into that
   status (the alarms of infra/alarms.tf).
Any error raises: the stream source retries the same records.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tamtam import events, failpoints
from tamtam.callbacks import enqueue as callbacks
from tamtam.lifecycle.changes import Change, all_changes, received_of
from tamtam.observability import STATUS_METRICS, count, count_failure
from tamtam.status import Status
from tamtam.store import batches

_FAILURES = frozenset({Status.FAILED.value, Status.UNCONFIRMED.value})


@dataclass(frozen=True)
class Derived:
    changes: int
    events: int
    batches_moved: int
    failures: int
    callbacks: int = 0


def batch_moves(changes: list[Change]) -> dict[str, tuple[Counter[str], str]]:
    """batch id -> (status -> delta, token naming the stream records behind it)."""
    deltas: dict[str, Counter[str]] = defaultdict(Counter)
    sources: dict[str, set[str]] = defaultdict(set)
    for change in changes:
        if not change.batch_id or change.old_status == change.new_status:
            continue
        if change.old_status:
            deltas[change.batch_id][change.old_status] -= 1
        deltas[change.batch_id][change.new_status] += 1
        sources[change.batch_id].add(f"{change.stream_event_id}/{change.sequence}")
    out = {}
    for batch_id, delta in deltas.items():
        digest = hashlib.sha256("|".join(sorted(sources[batch_id])).encode()).hexdigest()[:40]
        out[batch_id] = (Counter({s: n for s, n in delta.items() if n}), digest)
    return out


def _first_failures(changes: list[Change]) -> list[Change]:
    """Changes that put a message in a failure status for the first time (a message counts once:
    unconfirmed then failed is one failure). A record created failed (a recipient refused at
    fan-out) is an input rejection, not counted."""
    out = []
    failed_before: set[str] = set()
    for change in changes:
        if change.new_status in _FAILURES and not change.created and change.old_status not in _FAILURES \
                and change.message_id not in failed_before:
            out.append(change)
            failed_before.add(change.message_id)
    return out


def status_transitions(changes: list[Change]) -> Counter[str]:
    """failed / unconfirmed -> how many messages moved into it (a record created failed, a
    recipient refused at fan-out, is an input rejection: not counted)."""
    return Counter(c.new_status for c in changes
                   if c.new_status in STATUS_METRICS and not c.created and c.old_status != c.new_status)


def derive(records: list[Mapping[str, Any]], *, table: Any, events_client: Any, bus: str | None,
           sqs: Any = None, status_events: str = "grouped") -> Derived:
    """`status_events`: how the changes go on the bus, `grouped` or `each` (tamtam.events);
    `Derived.events` counts the bus entries published."""
    changes = all_changes(records)
    published = 0
    if changes and bus:
        published = events.publish(events_client, events.status_entries(changes, bus, status_events))
    failpoints.hit("lifecycle.published", changes=len(changes))
    received = received_of(records)
    queued = (
        callbacks.enqueue(changes, table=table, sqs=sqs, received=received)
        if (changes or received) and sqs is not None
        else 0
    )
    moved = 0
    for batch_id, (delta, token) in batch_moves(changes).items():
        if delta and batches.apply_counts(table, batch_id, delta, token):
            moved += 1
    failures = _first_failures(changes)
    for change in failures:
        count_failure(change.provider, change.reason)
    for status, moved_in in status_transitions(changes).items():
        count(STATUS_METRICS[status], moved_in)
    return Derived(changes=len(changes), events=published, batches_moved=moved, failures=len(failures),
                   callbacks=queued)
