"""The sweeper against moto: an open batch that stopped moving is recounted, its records left
`queued` (created, never enqueued) go back on their queue, and a batch whose records are all
final is completed, even when its counters drifted."""

from __future__ import annotations

from typing import Any

from tamtam.messaging.accept import SendRequest, build_message
from tamtam.settings import reset_settings
from tamtam.status import Status
from tamtam.store import batches, messages
from tamtam.store.batches import BatchItem
from tests.integration import seed, stream
from tests.integration.bulk_helpers import drain_all
from tests.integration.lambdas import event, invoke, pump_stream

BATCH = "bat_sweeper00000000000000001"


def a_batch(total: int) -> None:
    batches.put_batch(seed.table(), BatchItem(id=BATCH, tenant_id=seed.EVENTS_TENANT, kind="list", state=batches.OPEN,
                                              total=total, requested=total, written=total, text="hi",
                                              created_at="2026-12-07T08:00:00.000Z"))


def records(n: int) -> list[str]:
    """`n` records of the batch written as the fan-out writes them (`queued`), never enqueued."""
    ids = []
    for i in range(n):
        item = build_message(SendRequest(to=f"+22462201{i:04d}", text="hi"), seed.EVENTS_TENANT, batch_id=BATCH)
        item = item.model_copy(update={"id": batches.message_id_for(BATCH, i)})
        messages.put_new(seed.table(), item)
        ids.append(item.id)
    return ids


def sweep() -> dict[str, Any]:
    return invoke("sweeper", event("sweeper/scheduled"))


def test_given_records_created_and_never_enqueued_then_the_second_pass_enqueues_them(provisioned):
    a_batch(total=3)
    ids = records(3)
    pump_stream()
    drain_all()
    first = sweep()  # notes where the batch stands
    assert (first["stalled"], drain_all()) == (0, [])
    second = sweep()  # nothing moved since: stalled
    assert (second["stalled"], second["reenqueued"]) == (1, 3)
    assert sorted(b["message_id"] for b in drain_all()) == ids


def test_given_counters_that_drifted_and_records_all_final_then_recounted_and_completed(provisioned, monkeypatch):
    monkeypatch.setenv("SWEEP_QUIET_SECONDS", "0")
    reset_settings()
    a_batch(total=2)
    ids = records(2)
    pump_stream()  # counters: queued 2
    for message_id in ids:
        messages.transition(seed.table(), message_id, Status.CANCELLED, expect={Status.QUEUED}, reason="cancelled")
    stream.skip_to_latest()  # those moves were lost (the lifecycle function gave up on them)
    assert {k: v for k, v in batches.get_batch(seed.table(), BATCH).counts.items() if v} == {"queued": 2}
    sweep()
    result = sweep()
    batch = batches.get_batch(seed.table(), BATCH)
    assert (result["recounted"], result["completed"]) == (1, 1)
    assert {k: v for k, v in batch.counts.items() if v} == {"cancelled": 2}
    assert batch.finished_at


def test_given_records_that_changed_within_the_quiet_window_then_the_counters_are_not_touched(provisioned):
    """Their changes may still be in the stream: a recount now would count them twice."""
    a_batch(total=2)
    ids = records(2)
    pump_stream()
    for message_id in ids:
        messages.transition(seed.table(), message_id, Status.CANCELLED, expect={Status.QUEUED}, reason="cancelled")
    stream.skip_to_latest()  # not applied yet, as far as the counters know
    sweep()
    result = sweep()
    assert (result["stalled"], result["recounted"]) == (1, 0)
    assert {k: v for k, v in batches.get_batch(seed.table(), BATCH).counts.items() if v} == {"queued": 2}


def test_given_a_batch_whose_counters_move_then_it_is_left_alone(provisioned):
    a_batch(total=3)
    ids = records(3)
    pump_stream()
    sweep()
    messages.transition(seed.table(), ids[0], Status.CANCELLED, expect={Status.QUEUED}, reason="cancelled")
    pump_stream()  # the lifecycle function moved the counters in between
    result = sweep()
    assert (result["stalled"], result["reenqueued"]) == (0, 0)


def test_given_a_batch_left_accepting_by_a_dead_api_then_it_is_aborted_and_leaves_the_open_index(provisioned):
    batches.put_batch(seed.table(), BatchItem(id=BATCH, tenant_id=seed.EVENTS_TENANT, kind="list", total=3, requested=3,
                                              text="hi", created_at="2026-01-07T08:00:00.000Z"))  # accepting, long ago
    sweep()
    result = sweep()
    assert result["aborted"] == 1
    assert batches.get_batch(seed.table(), BATCH).state == batches.ABORTED
    assert sweep()["open_batches"] == 0


def test_given_a_stalled_batch_then_one_pass_reads_each_record_once(provisioned, monkeypatch):
    a_batch(total=3)
    records(3)
    pump_stream()
    drain_all()
    sweep()
    read: list[str] = []
    real = batches.get_many

    def counting(table: Any, keys: list[dict[str, str]], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        read.extend(k["pk"] for k in keys if k["pk"].startswith("MSG#"))
        return real(table, keys, *args, **kwargs)

    monkeypatch.setattr(batches, "get_many", counting)
    assert sweep()["reenqueued"] == 3  # recounted and re-enqueued from the same read
    assert sorted(read) == sorted(f"MSG#{batches.message_id_for(BATCH, i)}" for i in range(3))
