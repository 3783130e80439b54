"""The lifecycle function against moto: the table's change stream -> status events (at least
once, with ids), batch counters (exactly once, whatever is redelivered or conflicts), and a
batch completed when its last record is final. Records are written by the real store
(tamtam.store), read back from moto's stream, and handed to the function as Lambda would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.stack.invoker import FunctionError
from tamtam import aws, failpoints
from tamtam import events as events_module
from tamtam.lifecycle.changes import Change
from tamtam.messaging.accept import SendRequest, build_message
from tamtam.settings import get_settings, reset_settings
from tamtam.status import Status
from tamtam.store import batches, messages
from tamtam.store.batches import BatchItem
from tests.integration import seed, stream
from tests.integration.lambdas import _invoker, event

BATCH = "bat_lifecycle000000000000001"


@pytest.fixture
def bus_copy(provisioned) -> Iterator[str]:
    """An SQS queue receiving every status event of the bus."""
    events, sqs, bus = aws.client("events"), aws.client("sqs"), get_settings().event_bus_name
    url = sqs.create_queue(QueueName=f"test-lifecycle-{time.monotonic_ns()}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="test-lifecycle-copy",
        EventBusName=bus,
        EventPattern=json.dumps({"detail-type": list(events_module.STATUS_DETAIL_TYPES)}),
    )
    events.put_targets(Rule="test-lifecycle-copy", EventBusName=bus, Targets=[{"Id": "copy", "Arn": arn}])
    try:
        yield url
    finally:
        events.remove_targets(Rule="test-lifecycle-copy", EventBusName=bus, Ids=["copy"])
        events.delete_rule(Name="test-lifecycle-copy", EventBusName=bus)
        sqs.delete_queue(QueueUrl=url)


def published(url: str) -> list[dict[str, Any]]:
    sqs, out = aws.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        for message in got:
            body = json.loads(message["Body"])
            out += events_module.changes_in(body["detail-type"], body["detail"])
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )


def a_batch(total: int) -> BatchItem:
    batch = BatchItem(id=BATCH, tenant_id=seed.EVENTS_TENANT, kind="list", state=batches.OPEN, total=total,
                      requested=total, text="hi", created_at="2026-12-07T08:00:00.000Z")
    batches.put_batch(seed.table(), batch)
    return batch


def batch_messages(n: int) -> list[str]:
    ids = []
    for i in range(n):
        item = build_message(SendRequest(to=f"+22462200{i:04d}", text="hi"), seed.EVENTS_TENANT, batch_id=BATCH)
        item = item.model_copy(update={"id": f"msg_lifecycle{i:017d}"})
        messages.put_new(seed.table(), item)
        ids.append(item.id)
    return ids


def walk_to_sent(message_id: str) -> None:
    table = seed.table()
    messages.transition(table, message_id, Status.SENDING, expect={Status.QUEUED}, provider="passeinfo")
    messages.transition(table, message_id, Status.SENT, expect={Status.SENDING}, provider="passeinfo")


def msg_records() -> list[dict[str, Any]]:
    return [r for r in stream.read() if r["dynamodb"]["Keys"]["sk"]["S"] == "MSG"]


def lifecycle(records: list[dict[str, Any]]) -> Any:
    return _invoker.invoke("lifecycle", {"Records": records})


@pytest.fixture(params=["grouped", "each"])
def status_events(request, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("STATUS_EVENTS", request.param)
    reset_settings()
    yield request.param
    monkeypatch.undo()
    reset_settings()


def test_given_the_events_file_then_one_change_per_history_entry_with_its_id(provisioned, bus_copy, status_events):
    answer = lifecycle(event("lifecycle/stream_batch")["Records"])
    details = sorted(published(bus_copy), key=lambda d: d["sequence"])
    assert answer == {"records": 3, "changes": 3, "events": 1 if status_events == "grouped" else 3}
    assert [(d["event_id"], d["old_status"], d["new_status"]) for d in details] == [
        ("msg_events00000000000000000001_000000:0", None, "queued"),
        ("msg_events00000000000000000001_000000:1", "queued", "sending"),
        ("msg_events00000000000000000001_000000:2", "sending", "sent")]


def test_given_a_writer_that_dies_right_after_its_transitions_then_events_and_counts_still_follow(
    provisioned, bus_copy
):
    """Before: transitions buffered their event and count in the process, flushed at the end of
    the invocation; a writer dying in between lost both."""
    a_batch(total=2)
    ids = batch_messages(2)
    for message_id in ids:
        walk_to_sent(message_id)  # no handler, no flush: the process could die here
    lifecycle(msg_records())
    batch = batches.get_batch(seed.table(), BATCH)
    assert {k: v for k, v in batch.counts.items() if v} == {"sent": 2}
    assert batch.finished_at  # completed by the write that made the last record final
    assert sorted(d["event_id"] for d in published(bus_copy)) == sorted(f"{m}:{i}" for m in ids for i in range(3))


def test_given_the_same_records_delivered_again_then_the_counters_do_not_move_twice(provisioned, bus_copy):
    a_batch(total=3)
    ids = batch_messages(3)
    walk_to_sent(ids[0])
    records = msg_records()
    lifecycle(records)
    lifecycle(records)  # the stream source retried the batch (Lambda retries the same records)
    lifecycle(records)
    counts = {k: v for k, v in batches.get_batch(seed.table(), BATCH).counts.items() if v}
    assert counts == {"queued": 2, "sent": 1}
    assert len({d["event_id"] for d in published(bus_copy)}) == 3 + 2  # duplicates carry the same ids


def test_given_an_invocation_killed_after_publishing_then_the_retry_counts_once(provisioned, bus_copy):
    a_batch(total=2)
    ids = batch_messages(2)
    records = msg_records()

    def die(point: str, context: dict[str, Any]) -> None:
        if point == "lifecycle.published":
            raise failpoints.Killed(point)

    failpoints.install(die)
    try:
        with pytest.raises(FunctionError):
            lifecycle(records)
    finally:
        failpoints.uninstall()
    lifecycle(records)
    assert {k: v for k, v in batches.get_batch(seed.table(), BATCH).counts.items() if v} == {"queued": 2}
    assert {d["event_id"] for d in published(bus_copy)} == {f"{m}:0" for m in ids}


def _conflict_once(operation: str, code: str, index: int) -> Any:
    """A botocore handler on the functions' DynamoDB client: the first `operation` is cancelled
    with `code` at item `index` (as DynamoDB answers a conflicting transaction)."""
    state = {"done": False}

    def handler(params: dict[str, Any], **_: Any) -> None:
        if not state["done"]:
            state["done"] = True
            reasons = [{"Code": "None"}] * len(params["TransactItems"])
            reasons[index] = {"Code": code, "Message": "conflict"}
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                               "CancellationReasons": reasons}, operation)

    return handler


def test_given_a_transaction_conflict_on_the_batch_item_then_the_counts_are_retried_not_dropped(provisioned):
    """Before: any TransactionCanceledException was taken for "already applied"."""
    a_batch(total=1)
    batch_messages(1)
    records = msg_records()
    client = seed.table().meta.client
    handler = _conflict_once("TransactWriteItems", "TransactionConflict", 1)
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", handler)
    try:
        lifecycle(records)
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", handler)
    assert batches.get_batch(seed.table(), BATCH).counts.get("queued") == 1


def test_given_a_chunk_completion_that_conflicts_then_it_is_retried_not_taken_for_a_duplicate(provisioned):
    a_batch(total=5)
    client = seed.table().meta.client
    handler = _conflict_once("TransactWriteItems", "TransactionConflict", 1)
    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", handler)
    try:
        assert batches.complete_chunk(seed.table(), BATCH, 0, 5) is True
    finally:
        client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", handler)
    assert batches.complete_chunk(seed.table(), BATCH, 0, 5) is False  # a real duplicate
    assert batches.get_batch(seed.table(), BATCH).written == 5


def test_given_eventbridge_refusing_entries_then_they_are_published_again(provisioned, bus_copy):
    seed.message(message_id="msg_lifecycle_refused0000000")
    records = msg_records()
    events_client = aws.client("events")
    state = {"refused": False}

    def refuse_first(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "PutEvents" and not state["refused"]:
            state["refused"] = True
            parsed["FailedEntryCount"] = len(parsed["Entries"])
            parsed["Entries"] = [
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} for _ in parsed["Entries"]
            ]

    events_client.meta.events.register("after-call.events.PutEvents", refuse_first)
    try:
        lifecycle(records)
    finally:
        events_client.meta.events.unregister("after-call.events.PutEvents", refuse_first)
    assert state["refused"]
    assert {d["event_id"] for d in published(bus_copy)} == {"msg_lifecycle_refused0000000:0"}


def _changes(tenant: str, n: int) -> list[Change]:
    return [Change(stream_event_id=f"s{i}", message_id=f"msg_{tenant[-6:]}{i:020d}", tenant_id=tenant, batch_id=BATCH,
                   sequence=i % 4, old_status="queued", new_status="sent", reason="accepted_by_provider_" + "x" * 40,
                   provider="flowsms", at="2026-12-07T08:00:00.000Z", created=False) for i in range(n)]


def test_given_many_changes_of_two_tenants_then_grouped_events_each_within_one_billing_chunk(provisioned, bus_copy):
    changes = _changes("ten_grouped0000000000000000000a", 700) + _changes("ten_grouped0000000000000000000b", 5)
    entries = events_module.grouped_entries(changes, get_settings().event_bus_name)
    calls: list[list[dict[str, Any]]] = []
    client = aws.client("events")

    def seen(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["Entries"])

    client.meta.events.register("provide-client-params.events.PutEvents", seen)
    try:
        assert events_module.publish(client, entries) == len(entries)
    finally:
        client.meta.events.unregister("provide-client-params.events.PutEvents", seen)
    details = [json.loads(e["Detail"]) for e in entries]
    assert all(len(e["Detail"].encode()) <= 60_000 for e in entries)  # one 64 KB billing chunk each
    tenants = [d["tenant_id"] for d in details]
    assert tenants[-1].endswith("b") and details[-1]["count"] == 5 and all(t.endswith("a") for t in tenants[:-1])
    assert sum(d["count"] for d in details[:-1]) == 700 and len(details) - 1 == -(-sum(
        len(e["Detail"]) for e in entries[:-1]) // 60_000)  # as few events as fit one 64 KB billing chunk each
    assert all(len(call) <= 10 and sum(len(e["Detail"]) for e in call) <= 240_000 for call in calls)
    assert len(calls) > 1  # 256 KB a call at most
    got = published(bus_copy)
    assert sorted(d["event_id"] for d in got) == sorted(c.event_id for c in changes)
    assert [d["message_id"] for d in got if d["tenant_id"].endswith("a")][:3] == [c.message_id for c in changes[:3]]
