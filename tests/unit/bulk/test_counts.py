"""Batch progress and state from the counters (the counters themselves are moved by the
lifecycle function: tests/unit/lifecycle, tests/integration/test_lifecycle.py)."""

from __future__ import annotations

from typing import Any

from tamtam.bulk.progress import progress_of
from tamtam.store.batches import BatchItem


def batch_item(**extra: Any) -> dict[str, Any]:
    return {"pk": "BATCH#bat_1", "sk": "BATCH", "id": "bat_1", "tenant_id": "ten_1", "kind": "list", "state": "open",
            "total": 3, "requested": 3, "text": "hi", "created_at": "2026-11-22T08:00:00.000Z", **extra}


def test_given_counters_then_progress_and_state_follow():
    scheduled = BatchItem.from_item(batch_item(count_scheduled=3, schedule_at="2099-01-01T00:00:00.000Z"))
    assert progress_of(scheduled).state == "scheduled"
    moving = BatchItem.from_item(batch_item(count_queued=-1, count_sent=2, count_unconfirmed=0))
    view = progress_of(moving)
    assert (view.state, view.done, view.progress, view.counts["queued"]) == ("processing", 2, 0.6667, 0)
    accepting = BatchItem.from_item(batch_item(state="accepting", count_sent=3))
    assert progress_of(accepting).state == "accepting"
