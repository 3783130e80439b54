"""What a batch's counters say: its state, its counts per status, its progress.

- `accepting` / `aborted`: the request is being stored / its chunks could not be queued;
- `completed`: every message is done (tamtam.store.batches.DONE: sent and unconfirmed count as
  done, the gateway has finished with them; delivered/failed may still follow from reports);
- `scheduled`: not completed, due later, not cancelled;
- `processing`: anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from tamtam import clock
from tamtam.status import Status
from tamtam.store import batches
from tamtam.store.batches import BatchItem

_SHOWN = [s.value for s in Status if s != Status.ACCEPTED]


@dataclass(frozen=True)
class Progress:
    state: str
    counts: dict[str, int]
    done: int
    progress: float


def progress_of(batch: BatchItem, now: float | None = None) -> Progress:
    counts = {status: max(batch.counts.get(status, 0), 0) for status in _SHOWN}
    done = min(batch.done(), batch.total)
    if batch.state in (batches.ACCEPTING, batches.ABORTED):
        state = batch.state
    elif batch.finished_at or done >= batch.total:
        state = "completed"
    elif batch.schedule_at and not batch.cancelled_at and batch.schedule_at > clock.iso(now):
        state = "scheduled"
    else:
        state = "processing"
    return Progress(state, counts, done, round(done / batch.total, 4) if batch.total else 1.0)
