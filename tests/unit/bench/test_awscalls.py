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
