"""The ingest door against moto and the provider sandbox: a request put on the ingest queue and
one put on the bus (PutEvents -> infra's rule -> the ingest queue) both reach the sandbox
through the sender; a request that can never succeed ends in the ingest DLQ with its reason
and is not retried; a transient failure is retried; each request is accepted once. And the
other way out: status changes published on the bus, read through a test rule and queue.

Who speaks for whom: the door is configured as conftest.INGEST_DOOR gives infra/ its variables
(sources, their tenants, the direct senders). A request for a tenant its source may not use, from
a sender or a source that is not configured, or from a sender naming another source, ends in the
DLQ with its reason; the bus rule does not even forward an unconfigured source's events.

moto reports one SenderId for every message; in AWS a message put on the queue directly carries
its sender's (an IAM role's unique id and session), one the bus rule delivered EventBridge's.
`run_ingest` gives the direct ones their sender's, as SQS would."""

from __future__ import annotations

import json
import time

import pytest

from local.stack.pollers import sqs_record
from tamtam import aws
from tamtam import events as status_events
from tamtam.settings import get_settings, reset_settings
from tamtam.store import batches, messages
from tests.integration import seed
from tests.integration.bulk_helpers import drain, fan_out
from tests.integration.conftest import ORDERS_SENDER
from tests.integration.lambdas import event, invoke

ORDERS_SESSION = f"{ORDERS_SENDER}:orders-service"  # SenderId of a message the orders service's role sent


def ingest_url() -> str:
    return get_settings().queue_urls["ingest"]


def dlq_url() -> str:
    return aws.client("sqs").get_queue_url(QueueName=ingest_url().rsplit("/", 1)[1] + "-dlq")["QueueUrl"]


def purge(url: str) -> None:
    sqs = aws.client("sqs")
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )


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
        answer = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"] if attributes else [],
            MessageSystemAttributeNames=["All"],
        )
        got += answer.get("Messages", [])
    for message in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert len(got) == count, got
    return got


def run_ingest(received: list[dict], *, direct_sender: str = ORDERS_SESSION) -> dict:
    """The ingest function invoked with what the queue held, as the event source mapping would;
    a message put on the queue directly (not an event) carries `direct_sender` as its SenderId."""
    arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=ingest_url(), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    records = [sqs_record(m, arn) for m in received]
    for record in records:
        if not _is_event(record["body"]):
            record["attributes"]["SenderId"] = direct_sender
    return invoke("ingest", {"Records": records})


def _is_event(body: str) -> bool:
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "detail-type" in parsed


def put_request(source: str, detail: dict, detail_type: str = "Send Message Requested") -> None:
    put = aws.client("events").put_events(Entries=[{
        "EventBusName": get_settings().event_bus_name, "Source": source, "DetailType": detail_type,
        "Detail": json.dumps(detail),
    }])
    assert put["FailedEntryCount"] == 0


def dead_letter_attributes() -> dict[str, str]:
    dead = receive_all(dlq_url(), 1, attributes=True)[0]
    return {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}


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
        (
            json.dumps({"tenant_id": seed.EVENTS_TENANT, "request": {"to": "+2246", "text": "hi"}}),
            "invalid_phone",
            "request.to",
        ),
        (
            json.dumps({"tenant_id": seed.EVENTS_TENANT, "request": {"to": "+224622000001"}}),
            "missing_field",
            "request.text",
        ),
        (
            json.dumps({"tenant_id": seed.EVENTS_TENANT, "request": {"to": "+224622000001", "text": "x" * 1531}}),
            "text_too_long",
            "request.text",
        ),
        (
            json.dumps({"tenant_id": "ten_nobody", "request": {"to": "+224622000001", "text": "hi"}}),
            "unknown_tenant",
            "tenant_id",
        ),
        (
            json.dumps({"tenant_id": seed.EVENTS_TENANT, "kind": "bulk", "request": {"to": ["hello"], "text": "hi"}}),
            "no_valid_recipient",
            "request.to",
        ),
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
    [batch_id] = [
        i["pk"].removeprefix("BATCH#")
        for i in seed.table().scan()["Items"]
        if i["pk"].startswith("BATCH#") and i["sk"] == "BATCH"
    ]
    assert fan_out(batch_id, then_send=True) == []
    assert sorted(o["to"] for o in sandbox.sandbox.outbox_items()) == ["+224622000010", "+224622000011"]
    assert batches.get_batch(seed.table(), batch_id).rejected == 1


def test_given_a_send_then_its_status_changes_are_published_on_the_bus(tenant, sandbox):
    events, sqs, bus = aws.client("events"), aws.client("sqs"), get_settings().event_bus_name
    copy_url = sqs.create_queue(QueueName="test-status-events")["QueueUrl"]
    copy_arn = sqs.get_queue_attributes(QueueUrl=copy_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="test-status-copy", EventBusName=bus,
        EventPattern=json.dumps({"detail-type": list(status_events.STATUS_DETAIL_TYPES)}),
    )
    events.put_targets(Rule="test-status-copy", EventBusName=bus, Targets=[{"Id": "copy", "Arn": copy_arn}])
    try:
        assert invoke("ingest", event("ingest/sqs_request")) == {"batchItemFailures": []}
        [message_id] = stored_ids()
        send_queued({message_id})
        published: list[dict] = []
        deadline = time.monotonic() + 10
        while sum(len(status_events.changes_in(e["detail-type"], e["detail"])) for e in published) < 3:
            assert time.monotonic() < deadline, "fewer than 3 status changes on the bus"
            got = sqs.receive_message(QueueUrl=copy_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            published += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    finally:
        events.remove_targets(Rule="test-status-copy", EventBusName=bus, Ids=["copy"])
        events.delete_rule(Name="test-status-copy", EventBusName=bus)
        sqs.delete_queue(QueueUrl=copy_url)
    details = sorted((d for e in published for d in status_events.changes_in(e["detail-type"], e["detail"])),
                     key=lambda d: d["at"])
    assert {e["source"] for e in published} == {"tamtam"}
    assert [(d["message_id"], d["old_status"], d["new_status"]) for d in details] == [
        (message_id, None, "queued"), (message_id, "queued", "sending"), (message_id, "sending", "sent")]
    assert all("text" not in d for d in details)


OTHER_TENANT = "ten_other000000000000000000demo"  # a tenant that exists, which no source may send for


@pytest.fixture
def other_tenant(tenant) -> str:
    seed.table().put_item(Item={"pk": f"TENANT#{OTHER_TENANT}", "sk": "TENANT", "name": "other"})
    return OTHER_TENANT


def test_given_a_direct_request_for_a_tenant_its_source_may_not_use_then_it_is_dead_lettered_with_its_reason(
    other_tenant, sandbox
):
    body = json.dumps({"tenant_id": other_tenant, "request": {"to": "+224622000001", "text": "Billed to another"}})
    aws.client("sqs").send_message(QueueUrl=ingest_url(), MessageBody=body)
    assert run_ingest(receive_all(ingest_url(), 1)) == {"batchItemFailures": []}  # done: never retried

    dead = receive_all(dlq_url(), 1, attributes=True)[0]
    assert dead["Body"] == body
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes == {
        "reason": "tenant_not_allowed", "field": "tenant_id", "source": "acme.orders", "sender_id": ORDERS_SESSION,
        "reason_message": f"the source 'acme.orders' may not send for tenant '{other_tenant}'",
    }
    assert stored_ids() == set()
    assert sandbox.sandbox.outbox_items() == []


def test_given_a_bus_request_for_a_tenant_its_source_may_not_use_then_it_is_dead_lettered_with_its_reason(other_tenant):
    put_request("acme.crm", {"tenant_id": other_tenant, "request": {"to": ["+224622000010"], "text": "Soldes"}},
                "Send Bulk Requested")
    assert run_ingest(receive_all(ingest_url(), 1)) == {"batchItemFailures": []}
    attributes = dead_letter_attributes()
    assert (attributes["reason"], attributes["field"], attributes["source"]) == (
        "tenant_not_allowed",
        "tenant_id",
        "acme.crm",
    )
    assert [i for i in seed.table().scan()["Items"] if i["pk"].startswith(("MSG#", "BATCH#"))] == []


def test_given_a_direct_request_from_a_sender_that_is_not_configured_then_it_is_dead_lettered(tenant):
    body = json.dumps({"tenant_id": tenant, "request": {"to": "+224622000001", "text": "hi"}})
    aws.client("sqs").send_message(QueueUrl=ingest_url(), MessageBody=body)
    stranger = "AROAEXAMPLESTRANGER01:some-service"
    assert run_ingest(receive_all(ingest_url(), 1), direct_sender=stranger) == {"batchItemFailures": []}
    attributes = dead_letter_attributes()
    assert attributes["reason"] == "unknown_sender" and attributes["sender_id"] == stranger
    assert "source" not in attributes
    assert stored_ids() == set()


def test_given_a_configured_sender_that_names_another_source_then_it_is_dead_lettered(tenant):
    """The orders service may not pass its requests off as the CRM's by shaping them as events."""
    forged = json.dumps(
        {
            "version": "0",
            "id": "forged-1",
            "detail-type": "Send Message Requested",
            "source": "acme.crm",
            "detail": {"tenant_id": tenant, "request": {"to": "+224622000001", "text": "hi"}},
        }
    )
    record = event("ingest/sqs_request")
    record["Records"][0]["body"] = forged
    assert invoke("ingest", record) == {"batchItemFailures": []}
    attributes = dead_letter_attributes()
    assert (attributes["reason"], attributes["field"], attributes["source"]) == (
        "source_mismatch",
        "source",
        "acme.orders",
    )
    assert stored_ids() == set()


def test_given_an_event_of_a_source_that_is_not_configured_then_the_rule_does_not_forward_it(tenant):
    put_request("acme.unknown", {"tenant_id": tenant, "request": {"to": "+224622000001", "text": "hi"}})
    put_request("acme.orders", {"tenant_id": tenant, "request": {"to": "+224622000002", "text": "hi"}})
    [forwarded] = receive_all(ingest_url(), 1)  # only the configured source's
    assert json.loads(forwarded["Body"])["source"] == "acme.orders"
    assert aws.client("sqs").receive_message(QueueUrl=ingest_url(), WaitTimeSeconds=1).get("Messages") is None
    # Had one reached the queue anyway, the function would refuse it for its source.
    record = event("ingest/eventbridge_request")
    record["Records"][0]["body"] = record["Records"][0]["body"].replace('"acme.orders"', '"acme.unknown"')
    assert invoke("ingest", record) == {"batchItemFailures": []}
    attributes = dead_letter_attributes()
    assert (attributes["reason"], attributes["source"]) == ("unknown_source", "acme.unknown")
    assert stored_ids() == set()


def test_given_a_reference_and_a_callback_url_then_the_ingest_door_carries_them_like_the_api(tenant):
    from tamtam.callbacks import endpoints

    request = {"to": "+224622000002", "text": "Out for delivery", "reference": "order-1042",
               "callback_url": "https://93.184.216.34/tamtam/status"}
    aws.client("sqs").send_message(
        QueueUrl=ingest_url(), MessageBody=json.dumps({"tenant_id": tenant, "request": request})
    )
    run_ingest(receive_all(ingest_url(), 1))
    # no callback secret yet: refused for good, like the API's 422
    assert dead_letter_attributes()["reason"] == "callback_secret_missing"
    assert stored_ids() == set()

    endpoints.new_callback_secret(seed.table(), tenant)
    aws.client("sqs").send_message(
        QueueUrl=ingest_url(), MessageBody=json.dumps({"tenant_id": tenant, "request": request})
    )
    assert run_ingest(receive_all(ingest_url(), 1)) == {"batchItemFailures": []}
    [message_id] = stored_ids()
    stored = messages.get(seed.table(), message_id)
    assert (stored.reference, stored.callback_url) == ("order-1042", "https://93.184.216.34/tamtam/status")
