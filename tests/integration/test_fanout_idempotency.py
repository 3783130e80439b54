"""The fan-out under duplicate deliveries of one chunk, against moto: two deliveries at the same
moment (two threads), a sender's claim between them, and a redelivery after a crash between the
records' write and their enqueue (failpoint `fanout.written`).

The deliveries run through their own invoker (no stream pumping between them); botocore hooks
on the table's client make the two deliveries read before either writes, and count the records
each write really created."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from local.stack.invoker import FunctionConfig, FunctionError, Invoker
from tamtam import clock, failpoints
from tamtam.status import Status
from tamtam.store import messages
from tamtam.store.batches import message_id_for
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, drain_all

ROOT = Path(__file__).resolve().parents[2]
_fanout = Invoker([FunctionConfig.package("fanout", ROOT / "functions")])
RECIPIENTS = 30


@pytest.fixture(autouse=True)
def _empty_queues(provisioned, sandbox):
    drain("fanout")
    drain_all("bulk")
    yield
    failpoints.uninstall()
    drain("fanout")
    drain_all("bulk")


def deliver(chunk: dict[str, Any]) -> dict[str, Any]:
    return _fanout.invoke("fanout", seed.sqs_event([chunk]))


def new_chunk() -> tuple[str, dict[str, Any]]:
    status, accepted = api(
        "POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(RECIPIENTS)], "text": "hi"}
    )
    assert status == 202, accepted
    [chunk] = [b for b in drain("fanout") if b["batch_id"] == accepted["batch_id"]]
    return accepted["batch_id"], chunk


class Hooks:
    """On the table's client: the first BatchGetItem of each delivery thread waits at a barrier
    (both have read before either writes), then `gate(thread name)` may hold it; every write that
    succeeded counts the message records it put."""

    def __init__(self, client: Any, deliveries: int):
        self.client = client
        self.barrier = threading.Barrier(deliveries, timeout=30)
        self.released: dict[str, threading.Event] = {}
        self.created: Counter[str] = Counter()
        self._read: set[str] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> Hooks:
        events = self.client.meta.events
        events.register("after-call.dynamodb.BatchGetItem", self._after_read, unique_id="t-read")
        events.register("before-call.dynamodb.PutItem", self._before_write, unique_id="t-put-b")
        events.register("before-call.dynamodb.BatchWriteItem", self._before_write, unique_id="t-batch-b")
        events.register("after-call.dynamodb.PutItem", self._after_write, unique_id="t-put-a")
        events.register("after-call.dynamodb.BatchWriteItem", self._after_write, unique_id="t-batch-a")
        return self

    def __exit__(self, *exc: object) -> None:
        events = self.client.meta.events
        events.unregister("after-call.dynamodb.BatchGetItem", unique_id="t-read")
        for op, uid in (("PutItem", "t-put"), ("BatchWriteItem", "t-batch")):
            events.unregister(f"before-call.dynamodb.{op}", unique_id=f"{uid}-b")
            events.unregister(f"after-call.dynamodb.{op}", unique_id=f"{uid}-a")

    def _after_read(self, **_: Any) -> None:
        name = threading.current_thread().name
        with self._lock:
            first = name.startswith("delivery") and name not in self._read
            self._read.add(name)
        if first:
            self.barrier.wait()
            if name in self.released:
                assert self.released[name].wait(30)

    def _before_write(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"])
        items = [body["Item"]] if "Item" in body else [
            r["PutRequest"]["Item"] for rs in body["RequestItems"].values() for r in rs if "PutRequest" in r]
        context["test_pks"] = [i["pk"]["S"] for i in items if i["pk"]["S"].startswith("MSG#")]

    def _after_write(self, http_response: Any, context: dict[str, Any], **_: Any) -> None:
        if http_response.status_code == 200:
            with self._lock:
                self.created.update(context.get("test_pks", []))


def run(name: str, chunk: dict[str, Any], results: dict[str, Any]) -> threading.Thread:
    def target() -> None:
        try:
            results[name] = deliver(chunk)
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            results[name] = exc

    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def enqueued() -> Counter[str]:
    return Counter(b["message_id"] for b in drain_all())


def test_given_two_deliveries_of_a_chunk_at_the_same_moment_then_each_record_is_created_and_enqueued_once():
    batch_id, chunk = new_chunk()
    ids = {message_id_for(batch_id, i) for i in range(RECIPIENTS)}
    results: dict[str, Any] = {}

    with Hooks(seed.table().meta.client, deliveries=2) as hooks:
        threads = [run(name, chunk, results) for name in ("delivery-a", "delivery-b")]
        for thread in threads:
            thread.join(60)

    assert not any(isinstance(r, BaseException) for r in results.values()), results
    assert hooks.created == Counter({f"MSG#{i}": 1 for i in ids})
    queued = enqueued()
    assert set(queued) == ids and set(queued.values()) == {1}


def test_given_a_record_claimed_between_two_deliveries_then_the_later_one_neither_resets_nor_enqueues_it():
    batch_id, chunk = new_chunk()
    ids = {message_id_for(batch_id, i) for i in range(RECIPIENTS)}
    claimed = message_id_for(batch_id, 0)
    table, results = seed.table(), {}

    with Hooks(table.meta.client, deliveries=2) as hooks:
        hooks.released["delivery-b"] = threading.Event()  # b has read (nothing there yet), then waits
        a, b = run("delivery-a", chunk, results), run("delivery-b", chunk, results)
        a.join(60)
        assert results["delivery-a"] == {"batchItemFailures": []}
        first = enqueued()
        assert messages.transition(table, claimed, Status.SENDING, expect={Status.QUEUED},
                                   fields={"claim_at": clock.now()}) is not None  # a sender took it
        hooks.released["delivery-b"].set()
        b.join(60)

    assert not isinstance(results["delivery-b"], BaseException), results
    assert messages.get(table, claimed).status == Status.SENDING
    assert hooks.created == Counter({f"MSG#{i}": 1 for i in ids})
    assert set(first) == ids and set(first.values()) == {1}
    assert enqueued() == Counter()  # b enqueued nothing: a did


def test_given_a_crash_after_the_write_then_a_redelivery_enqueues_the_orphans_once_the_creator_is_certainly_over(
    monkeypatch,
):
    batch_id, chunk = new_chunk()
    ids = {message_id_for(batch_id, i) for i in range(RECIPIENTS)}
    table = seed.table()
    kills: list[str] = []

    def kill_once(point: str, context: dict[str, Any]) -> None:
        if point == "fanout.written" and not kills:
            kills.append(point)
            raise failpoints.Killed(point)

    failpoints.install(kill_once)
    with pytest.raises((failpoints.Killed, FunctionError)):  # the runtime exited: the chunk stays on its queue
        deliver(chunk)
    assert kills == ["fanout.written"]
    assert enqueued() == Counter()  # written, never enqueued
    assert {messages.get(table, i).status for i in ids} == {Status.QUEUED}

    # Moments later (a duplicate delivery, the creator maybe still at work): not enqueued, and
    # the chunk comes back later rather than being completed without them.
    assert deliver(chunk)["batchItemFailures"] == [{"itemIdentifier": "id-0"}]
    assert enqueued() == Counter()

    # After the visibility timeout (the creator is certainly over): the orphans go, once.
    later = time.time() + 3600
    monkeypatch.setattr(clock, "now", lambda: later)
    assert deliver(chunk)["batchItemFailures"] == []
    queued = enqueued()
    assert set(queued) == ids and set(queued.values()) == {1}
    assert deliver(chunk)["batchItemFailures"] == []  # the chunk is done: nothing again
    assert enqueued() == Counter()

