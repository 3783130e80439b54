"""The sweeper's pass over open batches (docs/lifecycle.md): nothing is left behind.

Open batches are listed in gsi1 (`BATCHES#open`). A batch whose counters have not moved since
the previous pass is *stalled*: its records are recounted (read by id, per status) and
- counters that disagree with the recount are set to it, once none of its records changed for
  `SWEEP_QUIET_SECONDS` (a change still in the table's stream would otherwise count twice), and
  conditional on the counters read (a move landing meanwhile wins; the next pass looks again);
- records still `queued` or `sending` are enqueued again on their provider's bulk queue: an
  orphan (created, never enqueued) is sent, a stale claim is resolved by the sender's stale-claim
  path, and a record that already has its queue message gets a duplicate that its claim makes
  harmless;
- a batch whose records are all final is completed.
A batch whose counters move is left alone: the pipeline is working on it. A batch still
`accepting` long after the api's time was up is aborted (the api died mid-request).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from tamtam import clock, queues
from tamtam.bulk.sqs_batch import Entry, send_entries
from tamtam.queue_bodies import QueueBody
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import batch_sweep, batches
from tamtam.store.batches import BatchItem

_PENDING = (Status.QUEUED, Status.SENDING)
_BATCHES_PER_PASS = 200


@dataclass
class SweepResult:
    open_batches: int = 0
    stalled: int = 0
    recounted: int = 0
    reenqueued: int = 0
    completed: int = 0
    aborted: int = 0
    errors: list[str] = field(default_factory=list)


def _mark(batch: BatchItem) -> str:
    moving = {k: v for k, v in sorted(batch.counts.items()) if v} | {"written": batch.written, "state": batch.state}
    return hashlib.sha256(json.dumps(moving, sort_keys=True).encode()).hexdigest()[:16]


def _older_than(iso: str, seconds: int) -> bool:
    try:
        at = datetime.fromisoformat(iso).timestamp() if iso else 0.0
    except ValueError:
        return False
    return clock.now() - at >= seconds


def _quiet_since(latest: str, seconds: int) -> bool:
    """No record changed within `seconds`: whatever the stream held of them has been applied
    (or given up on). A change still in the stream, counted by a recount, would count twice."""
    return _older_than(latest, seconds)


def _reenqueue(sqs: Any, records: list[dict[str, Any]]) -> int:
    by_provider: dict[str, list[Entry]] = {}
    for record in records:
        body = QueueBody(message_id=record["id"], tenant_id=record.get("tenant_id"), provider=record["provider"],
                         lane=queues.BULK)
        by_provider.setdefault(record["provider"], []).append(Entry(id=str(record["id"])[-80:], body=body.to_json()))
    sent = 0
    for provider, entries in by_provider.items():
        unsent = send_entries(sqs, queues.provider_queue(provider, queues.BULK), entries)
        sent += len(entries) - len(unsent)
    return sent


def sweep_batch(table: Any, sqs: Any, batch: BatchItem, result: SweepResult) -> None:
    mark = _mark(batch)
    if batch_sweep.sweep_mark(table, batch.id) != mark:  # moved since the last pass (or first seen): next time
        batch_sweep.set_sweep_mark(table, batch.id, mark)
        return
    if batch.state == batches.ACCEPTING:
        # The api queues a batch's chunks within its 29 s: still `accepting` long after, the api
        # died mid-request (its caller got an error: nothing was accepted). Aborted, the fan-out
        # drops the chunks that did get queued.
        if _older_than(batch.created_at, get_settings().sweep_abort_accepting_seconds):
            with contextlib.suppress(ClientError):  # opened or aborted meanwhile
                batches.set_state(table, batch.id, batches.ABORTED)
                result.aborted += 1
        return
    result.stalled += 1
    # One read of the records serves the recount and the re-enqueue.
    found = batch_sweep.census(table, batch, _PENDING)
    drifted = found.counts != Counter({s: n for s, n in batch.counts.items() if n})
    settled = drifted and _quiet_since(found.latest, get_settings().sweep_quiet_seconds)
    if settled and batch_sweep.set_counts(table, batch, found.counts):
        result.recounted += 1
    if found.waiting:
        result.reenqueued += _reenqueue(sqs, found.waiting)
    batches.finish_if_done(table, batch.id)
    current = batches.get_batch(table, batch.id)
    if current is not None and current.finished_at:
        result.completed += 1


def sweep(table: Any, sqs: Any, *, deadline: float) -> SweepResult:
    result = SweepResult()
    for batch in batch_sweep.open_batches(table, limit=_BATCHES_PER_PASS):
        if time.monotonic() >= deadline:
            break
        result.open_batches += 1
        try:
            sweep_batch(table, sqs, batch, result)
        except Exception as exc:  # noqa: BLE001 - one batch never stops the pass; the handler reports them
            result.errors.append(f"{batch.id}: {type(exc).__name__}")
    return result
