"""bench.awscalls: every botocore call counted by client tag (moto in-process as the fake)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from bench.awscalls import ESM, CallCounter
from bench.dynamo_units import TableSchema


@pytest.fixture
def counter(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    counter = CallCounter().install()
    with mock_aws():
        yield counter
    counter.uninstall()


def test_given_app_bench_and_esm_clients_then_only_billed_calls_are_counted(counter):
    with counter.creating("bench"):
        setup = boto3.client("sqs")
    url = setup.create_queue(QueueName="q")["QueueUrl"]
    app, esm = boto3.client("sqs"), boto3.client("sqs")
    counter.tag(esm, ESM)
    counter.enabled = True
    app.send_message(QueueUrl=url, MessageBody="x" * 70_000)  # two 64 KB chunks
    setup.send_message(QueueUrl=url, MessageBody="not counted")
    esm.receive_message(QueueUrl=url, MaxNumberOfMessages=10)  # returns both (over 64 KB): billed twice
    esm.receive_message(QueueUrl=url, WaitTimeSeconds=0)  # empty: an idle poll
    esm.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])  # the stack's bookkeeping
    snap = counter.snapshot()
    assert snap.calls == {("sqs", "SendMessage"): 1, ("sqs", "ReceiveMessage"): 1}
    assert snap.sqs_requests == 2 + 2 and snap.idle_polls == 1


def test_given_dynamodb_and_eventbridge_calls_then_units_and_entries_are_counted(counter):
    with counter.creating("bench"):
        setup = boto3.client("dynamodb")
    setup.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    counter.schemas.update({"t": TableSchema(key=("pk",))})
    counter.reset()
    counter.enabled = True
    table = boto3.resource("dynamodb").Table("t")
    table.put_item(Item={"pk": "a", "text": "x" * 2000})
    table.get_item(Key={"pk": "a"})
    boto3.client("events").put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 3)
    snap = counter.snapshot()
    assert snap.calls[("dynamodb", "PutItem")] == 1 and snap.calls[("dynamodb", "GetItem")] == 1
    assert snap.ddb_write_units == 2 and snap.ddb_read_units == 0.5
    assert snap.events_entries == 3


def test_given_counting_off_then_nothing_is_counted(counter):
    client = boto3.client("sqs")
    client.create_queue(QueueName="q")
    assert counter.snapshot().calls == {}


def test_given_overlapping_calls_then_busy_time_counts_their_union():
    counter = CallCounter()
    counter.intervals = {"dynamodb": [(0.0, 1.0), (0.5, 1.5), (2.0, 2.5), (2.1, 2.2)]}
    assert counter.busy_seconds("dynamodb") == 2.0
    assert counter.busy_seconds("sqs") == 0.0


def test_item_kind_is_the_partition_key_prefix_or_the_index():
    from bench.awscalls import item_kind

    assert item_kind({"Key": {"pk": {"S": "MSG#msg_1"}, "sk": {"S": "MSG"}}}) == "MSG"
    assert item_kind({"Item": {"pk": {"S": "RATE#passeinfo#17"}}}) == "RATE"
    assert item_kind({"IndexName": "gsi2", "KeyConditionExpression": "gsi2pk = :b"}) == "gsi2"
    assert item_kind({"RequestItems": {"t": [{"PutRequest": {"Item": {"pk": {"S": "MSG#2"}}}}]}}) == "MSG"
    assert item_kind({"RequestItems": {"t": {"Keys": [{"pk": {"S": "PROVIDER#x"}}]}}}) == "PROVIDER"
    assert item_kind({"TransactItems": [{"Put": {"Item": {"pk": {"S": "BATCH#b"}}}}]}) == "BATCH"
    assert item_kind({}) == "?"
