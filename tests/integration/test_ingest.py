"""The ingest door against moto and the provider sandbox: a request put on the ingest queue and
one put on the bus (PutEvents -> infra's rule -> the ingest queue) both reach the sandbox
through the sender; a request that can never succeed ends in the ingest DLQ with its reason
and is not retried; a transient failure is retried; each request is accepted once. And the
other way out: status changes published on the bus, read through a test rule and queue."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import pytest

from local.stack.pollers import sqs_record
from tamtam import aws
from tamtam.ingest import BulkRequestBody, MessageRequest
from tamtam.settings import get_settings, reset_settings
from tamtam.store import batches, messages
from tests.integration import seed
from tests.integration.bulk_helpers import drain, fan_out
from tests.integration.lambdas import event, invoke

ROOT = Path(__file__).resolve().parents[2]


def ingest_url() -> str:
    return get_settings().queue_urls["ingest"]


def dlq_url() -> str:
    return aws.client("sqs").get_queue_url(QueueName=ingest_url().rsplit("/", 1)[1] + "-dlq")["QueueUrl"]


def purge(url: str) -> None:
    sqs = aws.client("sqs")
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])


@pytest.fixture
def tenant(provisioned) -> str:
    """The events tenant (the id events/ingest/*.json name), and empty ingest queues."""
    seed.table().put_item(Item={"pk": f"TENANT#{seed.EVENTS_TENANT}", "sk": "TENANT", "name": "events"})
    purge(ingest_url())
    purge(dlq_url())
    return seed.EVENTS_TENANT


def receive_all(url: str, count: int, *, attributes: bool = False) -> list[dict]:
    """`count` messages of queue `url` (waiting up to 10 s), deleted from it."""
    sqs, got, deadline = aws.client("sqs"), [], time.monotonic() + 10
    while len(got) < count and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"] if attributes else [], MessageSystemAttributeNames=["All"])
        got += answer.get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) == count, got
    return got


def run_ingest(received: list[dict]) -> dict:
    """The ingest function invoked with what the queue held, as the event source mapping would."""
    arn = aws.client("sqs").get_queue_attributes(QueueUrl=ingest_url(), AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return invoke("ingest", {"Records": [sqs_record(m, arn) for m in received]})


def send_queued(message_ids: set[str]) -> None:
    """The senders invoked with these messages from the provider queues."""
    bodies = [b for key in get_settings().queue_urls if key.endswith("-tx") for b in drain(key)]
    mine = [b for b in bodies if b["message_id"] in message_ids]
    assert {b["message_id"] for b in mine} == message_ids
    assert invoke("sender", seed.sqs_event(mine)) == {"batchItemFailures": []}


def stored_ids() -> set[str]:
    return {i["pk"].removeprefix("MSG#") for i in seed.table().scan()["Items"] if i["sk"] == "MSG"}


def test_given_a_request_on_the_queue_and_one_on_the_bus_then_both_reach_the_sandbox(tenant, sandbox):
    direct = json.loads(event("ingest/sqs_request")["Records"][0]["body"])
    aws.client("sqs").send_message(QueueUrl=ingest_url(), MessageBody=json.dumps(direct))
    detail = {"tenant_id": tenant, "request": {"to": "+224622000002", "text": "Out for delivery"}}
    put = aws.client("events").put_events(Entries=[{
        "EventBusName": get_settings().event_bus_name, "Source": "acme.orders",
        "DetailType": "Send Message Requested", "Detail": json.dumps(detail),
    }])
    assert put["FailedEntryCount"] == 0

    assert run_ingest(receive_all(ingest_url(), 2)) == {"batchItemFailures": []}
    send_queued(stored_ids())

    outbox = {(o["to"], o["text"]) for o in sandbox.sandbox.outbox_items(provider="passeinfo")}
    assert outbox == {("+224622000001", "Your order has shipped"), ("+224622000002", "Out for delivery")}
    assert {messages.get(seed.table(), i).status for i in stored_ids()} == {"sent"}


def test_given_the_same_request_delivered_twice_then_it_is_accepted_once(tenant):
    ev = event("ingest/sqs_request")
    assert invoke("ingest", ev) == {"batchItemFailures": []}
    again = event("ingest/sqs_request")
    again["Records"][0]["messageId"] = "another-delivery"  # same idempotency_key in the body
    assert invoke("ingest", again) == {"batchItemFailures": []}
    assert invoke("ingest", event("ingest/eventbridge_request")) == {"batchItemFailures": []}
    assert invoke("ingest", event("ingest/eventbridge_request")) == {"batchItemFailures": []}  # same event id
    assert len(stored_ids()) == 2


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ("{not json", "invalid_json", None),
        (json.dumps({"tenant_id": seed.EVENTS_TENANT, "request": {"to": "+2246", "text": "hi"}}), "invalid_phone", "request.to"),
        (json.dumps({"tenant_id": seed.EVENTS_TENANT, "request": {"to": "+224622000001"}}), "missing_field", "request.text"),
        (json.dumps({"tenant_id": seed.EVENTS_TENANT, "request": {"to": "+224622000001", "text": "x" * 1531}}), "text_too_long", "request.text"),
        (json.dumps({"tenant_id": "ten_nobody", "request": {"to": "+224622000001", "text": "hi"}}), "unknown_tenant", "tenant_id"),
        (json.dumps({"tenant_id": seed.EVENTS_TENANT, "kind": "bulk", "request": {"to": ["hello"], "text": "hi"}}),
         "no_valid_recipient", "request.to"),
    ],
)
def test_given_a_request_that_can_never_succeed_then_it_is_dead_lettered_with_its_reason_and_not_retried(
    tenant, body, reason, field
):
    aws.client("sqs").send_message(QueueUrl=ingest_url(), MessageBody=body)
    received = receive_all(ingest_url(), 1)
    assert run_ingest(received) == {"batchItemFailures": []}  # done: the mapping deletes it, no retry
    dead = receive_all(dlq_url(), 1, attributes=True)[0]
    assert dead["Body"] == body
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["reason"] == reason and attributes.get("field") == field
    assert stored_ids() == set()


def test_given_a_transient_failure_then_only_that_record_fails_and_nothing_is_dead_lettered(tenant, monkeypatch):
    urls = dict(get_settings().queue_urls)
    monkeypatch.setenv("QUEUE_URLS", json.dumps({**urls, "passeinfo-tx": urls["passeinfo-tx"] + "-missing"}))
    reset_settings()
    ev = event("ingest/sqs_request")
    ev["Records"] += event("ingest/eventbridge_request")["Records"]
    ev["Records"][1]["body"] = ev["Records"][1]["body"].replace("+224622000002", "+24106123456")  # via ventis
    answer = invoke("ingest", ev)
    assert answer == {"batchItemFailures": [{"itemIdentifier": ev["Records"][0]["messageId"]}]}
    assert aws.client("sqs").receive_message(QueueUrl=dlq_url(), WaitTimeSeconds=0).get("Messages") is None
    monkeypatch.setenv("QUEUE_URLS", json.dumps(urls))
    reset_settings()
    assert invoke("ingest", event("ingest/sqs_request")) == {"batchItemFailures": []}  # the retry goes through
    # The refused enqueue stored nothing (enqueue first, then the record): only the two sent.
    assert sorted(messages.get(seed.table(), i).status for i in stored_ids()) == ["queued", "queued"]


def test_given_a_bulk_request_on_the_bus_then_its_batch_is_sent(tenant, sandbox):
    detail = {"tenant_id": tenant, "request": {"to": ["+224622000010", "622000011", "nope"], "text": "Soldes"}}
    aws.client("events").put_events(Entries=[{
        "EventBusName": get_settings().event_bus_name, "Source": "acme.crm",
        "DetailType": "Send Bulk Requested", "Detail": json.dumps(detail),
    }])
    assert run_ingest(receive_all(ingest_url(), 1)) == {"batchItemFailures": []}
    [batch_id] = [i["pk"].removeprefix("BATCH#") for i in seed.table().scan()["Items"] if i["pk"].startswith("BATCH#") and i["sk"] == "BATCH"]
    assert fan_out(batch_id, then_send=True) == []
    assert sorted(o["to"] for o in sandbox.sandbox.outbox_items()) == ["+224622000010", "+224622000011"]
    assert batches.get_batch(seed.table(), batch_id).rejected == 1


def test_given_a_send_then_its_status_changes_are_published_on_the_bus(tenant, sandbox):
    events, sqs, bus = aws.client("events"), aws.client("sqs"), get_settings().event_bus_name
    copy_url = sqs.create_queue(QueueName="test-status-events")["QueueUrl"]
    copy_arn = sqs.get_queue_attributes(QueueUrl=copy_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="test-status-copy", EventBusName=bus, EventPattern=json.dumps({"detail-type": ["Message Status Changed"]}))
    events.put_targets(Rule="test-status-copy", EventBusName=bus, Targets=[{"Id": "copy", "Arn": copy_arn}])
    try:
        assert invoke("ingest", event("ingest/sqs_request")) == {"batchItemFailures": []}
        [message_id] = stored_ids()
        send_queued({message_id})
        published = [json.loads(m["Body"]) for m in receive_all(copy_url, 3)]
    finally:
        events.remove_targets(Rule="test-status-copy", EventBusName=bus, Ids=["copy"])
        events.delete_rule(Name="test-status-copy", EventBusName=bus)
        sqs.delete_queue(QueueUrl=copy_url)
    details = sorted((e["detail"] for e in published), key=lambda d: d["at"])
    assert {e["source"] for e in published} == {"tamtam"}
    assert [(d["message_id"], d["old_status"], d["new_status"]) for d in details] == [
        (message_id, None, "queued"), (message_id, "queued", "sending"), (message_id, "sending", "sent")]
    assert all("text" not in d for d in details)


def test_the_ingest_models_take_the_fields_the_api_takes():
    api_dir = str(ROOT / "functions" / "api")
    if api_dir not in sys.path:
        sys.path.append(api_dir)
    api_models, api_batches_models = importlib.import_module("api_models"), importlib.import_module("api_batches_models")
    assert set(MessageRequest.model_fields) == set(api_models.SendMessageIn.model_fields)
    assert set(BulkRequestBody.model_fields) == set(api_batches_models.BulkSendIn.model_fields)
