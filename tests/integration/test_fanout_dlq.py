"""The fan-out DLQ consumer against moto and the provider sandbox: a chunk that exhausted its
deliveries still lets its batch complete: recipients without a record end `failed/fanout_failed`,
records its dead fan-out wrote but never enqueued are enqueued again, and a redelivery of the
dead chunk changes nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from local.stack.invoker import FunctionConfig, FunctionError, Invoker
from tamtam import clock, failpoints
from tamtam.status import Status
from tamtam.store import batches, messages
from tamtam.store.batches import BatchItem, message_id_for
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, drain_all, send_all
from tests.integration.lambdas import event, invoke, pump_stream

ROOT = Path(__file__).resolve().parents[2]
EVENTS_BATCH = "bat_events00000000000000000001"
_dlq = Invoker([FunctionConfig.package("fanout_dlq", ROOT / "functions")])


@pytest.fixture(autouse=True)
def _empty_queues(provisioned, sandbox):
    drain("fanout")
    drain_all("bulk")
    sandbox.sandbox.sims["passeinfo"].configure({"balance": 1_000_000})
    yield
    failpoints.uninstall()
    drain("fanout")
    drain_all("bulk")


def dead_letter(payload: dict[str, Any]) -> dict[str, Any]:
    """The fan-out DLQ consumer invoked (as its event source mapping would), then the table's
    changes applied (batch counters)."""
    try:
        return _dlq.invoke("fanout_dlq", payload)
    finally:
        pump_stream()


def batch_view(batch_id: str) -> dict[str, Any]:
    status, body = api("GET", f"/v1/batches/{batch_id}")
    assert status == 200, body
    return body


def test_given_a_chunk_in_the_fanout_dlq_then_its_recipients_fail_with_a_reason_and_the_batch_completes(
    sandbox, monkeypatch
):
    monkeypatch.setenv("BULK_CHUNK_RECIPIENTS", "10")
    status, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(20)], "text": "hi"})
    assert status == 202, accepted
    batch_id = accepted["batch_id"]
    first, dead = sorted((b for b in drain("fanout") if b["batch_id"] == batch_id), key=lambda b: b["chunk"])
    assert invoke("fanout", seed.sqs_event([first]))["batchItemFailures"] == []
    send_all()
    assert batch_view(batch_id)["state"] == "processing"  # the second chunk never fanned out

    assert dead_letter(seed.sqs_event([dead])) == {"batchItemFailures": []}

    table = seed.table()
    failed = [messages.get(table, message_id_for(batch_id, i)) for i in range(10, 20)]
    assert {(m.status, m.reason, m.batch_id) for m in failed} == {(Status.FAILED, "fanout_failed", batch_id)}
    assert drain_all() == []
    view = batch_view(batch_id)
    assert (view["state"], view["counts"]["sent"], view["counts"]["failed"]) == ("completed", 10, 10)

    assert dead_letter(seed.sqs_event([dead])) == {"batchItemFailures": []}  # delivered again: nothing moves
    assert batch_view(batch_id)["counts"] == view["counts"]
    assert batches.get_batch(table, batch_id).written == 20
    assert len(sandbox.sandbox.outbox_items()) == 10


def test_given_a_dead_chunk_whose_fanout_died_after_a_slice_then_its_orphans_are_sent_and_the_rest_failed(
    sandbox, monkeypatch
):
    from tamtam.bulk import fanout

    monkeypatch.setattr(fanout, "SLICE", 4)
    _, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(10)], "text": "hi"})
    batch_id = accepted["batch_id"]
    [chunk] = [b for b in drain("fanout") if b["batch_id"] == batch_id]

    def die_after_the_first_slice(point: str, context: dict[str, Any]) -> None:
        if point == "fanout.written":
            raise failpoints.Killed(point)

    failpoints.install(die_after_the_first_slice)
    with pytest.raises((failpoints.Killed, FunctionError)):  # every delivery dies the same way: to the DLQ
        invoke("fanout", seed.sqs_event([chunk]))
    failpoints.uninstall()
    assert drain_all() == []

    later = time.time() + 3600  # the DLQ holds it after the last visibility timeout: its fan-out is over
    with monkeypatch.context() as m:
        m.setattr(clock, "now", lambda: later)
        assert dead_letter(seed.sqs_event([chunk])) == {"batchItemFailures": []}
    send_all()

    table = seed.table()
    statuses = [
        (
            messages.get(table, message_id_for(batch_id, i)).status,
            messages.get(table, message_id_for(batch_id, i)).reason,
        )
        for i in range(10)
    ]
    assert statuses[:4] == [(Status.SENT, None)] * 4  # written by the dead fan-out, enqueued by the DLQ consumer
    assert statuses[4:] == [(Status.FAILED, "fanout_failed")] * 6
    assert len(sandbox.sandbox.outbox_items()) == 4
    view = batch_view(batch_id)
    assert (view["state"], view["counts"]["sent"], view["counts"]["failed"]) == ("completed", 4, 6)


def test_given_the_events_dead_chunk_then_every_recipient_is_failed_and_the_batch_completes(provisioned):
    table = seed.table()
    batches.put_batch(
        table,
        BatchItem(
            id=EVENTS_BATCH,
            tenant_id=seed.EVENTS_TENANT,
            kind="list",
            state="open",
            total=4,
            requested=4,
            chunks=1,
            text="Hello from tamtam",
            created_at="2026-11-22T11:00:00.000Z",
        ),
    )

    assert dead_letter(event("fanout_dlq/dead_chunk")) == {"batchItemFailures": []}

    records = [messages.get(table, f"msg_events00000000000000000001_00000{i}") for i in range(4)]
    assert [(m.to, m.status, m.reason) for m in records] == [
        ("+224622000001", "failed", "fanout_failed"), ("+224622000002", "failed", "fanout_failed"),
        ("+24106123456", "failed", "fanout_failed"), ("+224999", "failed", "fanout_failed")]
    current = batches.get_batch(table, EVENTS_BATCH)
    assert (current.written, current.counts, bool(current.finished_at)) == (4, {"failed": 4}, True)
