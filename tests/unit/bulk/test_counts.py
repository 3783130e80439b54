"""Batch counters: transitions counted in memory, written once per batch and invocation, and
the batch completed by the write that makes every message done."""

from __future__ import annotations

from typing import Any

from tamtam.bulk.progress import progress_of
from tamtam.store import batches
from tamtam.store.batches import BatchItem


class FakeTable:
    """Just enough of a boto3 Table for add_counts / _maybe_finish."""

    def __init__(self, item: dict[str, Any]):
        self.item = item
        self.updates: list[dict[str, Any]] = []

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        self.updates.append(kwargs)
        expression = kwargs["UpdateExpression"]
        if expression.startswith("ADD"):
            for clause in expression[4:].split(", "):
                name, value = clause.split(" ")
                attribute = kwargs["ExpressionAttributeNames"][name]
                self.item[attribute] = self.item.get(attribute, 0) + kwargs["ExpressionAttributeValues"][value]
        else:
            self.item["finished_at"] = kwargs["ExpressionAttributeValues"][":at"]
        return {"Attributes": dict(self.item)}


def batch_item(**extra: Any) -> dict[str, Any]:
    return {"pk": "BATCH#bat_1", "sk": "BATCH", "id": "bat_1", "tenant_id": "ten_1", "kind": "list", "state": "open",
            "total": 3, "requested": 3, "text": "hi", "created_at": "2026-11-22T08:00:00.000Z", **extra}


def test_given_many_transitions_then_one_write_per_batch_with_the_net_deltas():
    table = FakeTable(batch_item(count_queued=3))
    for _ in range(3):
        batches.count_transition("bat_1", "queued", "sending")
    batches.count_transition("bat_1", "sending", "sent")
    assert batches.flush_counts(table) == 1
    assert len(table.updates) == 1
    assert (table.item["count_queued"], table.item["count_sending"], table.item["count_sent"]) == (0, 2, 1)
    assert batches.flush_counts(table) == 0


def test_given_the_last_message_done_then_finished_at_is_set_once():
    table = FakeTable(batch_item(count_sent=2, count_sending=1))
    batches.count_transition("bat_1", "sending", "failed")
    batches.flush_counts(table)
    assert table.item.get("finished_at")
    assert progress_of(BatchItem.from_item(table.item)).state == "completed"


def test_given_a_failing_write_then_flush_logs_and_goes_on():
    class Broken(FakeTable):
        def update_item(self, **kwargs: Any) -> dict[str, Any]:
            raise RuntimeError("throttled")

    batches.count_transition("bat_1", "queued", "sending")
    assert batches.flush_counts(Broken(batch_item())) == 0


def test_given_counters_then_progress_and_state_follow():
    scheduled = BatchItem.from_item(batch_item(count_scheduled=3, schedule_at="2099-01-01T00:00:00.000Z"))
    assert progress_of(scheduled).state == "scheduled"
    moving = BatchItem.from_item(batch_item(count_queued=-1, count_sent=2, count_unconfirmed=0))
    view = progress_of(moving)
    assert (view.state, view.done, view.progress, view.counts["queued"]) == ("processing", 2, 0.6667, 0)
    accepting = BatchItem.from_item(batch_item(state="accepting", count_sent=3))
    assert progress_of(accepting).state == "accepting"
