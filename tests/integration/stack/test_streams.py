"""The local stack's DynamoDB stream event source (local/stack/streams.py) against a moto server:
records in order and filtered, a failed batch retried with the same records, then its position
sent to the on-failure queue, as Lambda does."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.stack.invoker import FunctionError
from local.stack.streams import StreamPoller, matches
from local.stack.template import StreamEventSource

REGION = "eu-west-1"
MSG_ONLY = '{"dynamodb": {"Keys": {"sk": {"S": ["MSG"]}}}}'


class FakeInvoker:
    def __init__(self, fail_first: int = 0):
        self.batches: list[list[dict[str, Any]]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        with self.lock:
            self.batches.append(event["Records"])
            if len(self.batches) <= self.fail_first:
                raise FunctionError(function, "Runtime.ExitError", "died", "req")
        return None

    def arn(self, function: str) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{function}"


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")  # the poller's own clients, as in the local stack
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    kw = {"region_name": REGION, "endpoint_url": url, "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    ddb = boto3.client("dynamodb", **kw)
    table = ddb.create_table(
        TableName=f"t{time.monotonic_ns()}",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    sqs = boto3.client("sqs", **kw)
    queue = sqs.create_queue(QueueName="failures")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        yield {"url": url, "ddb": ddb, "table": table, "sqs": sqs, "queue": queue, "queue_arn": arn}
    finally:
        server.stop()


def source(moto: dict[str, Any], *, retries: int = 2, size: int = 10) -> StreamEventSource:
    return StreamEventSource(name="TableStream", stream_arn=moto["table"]["LatestStreamArn"], batch_size=size,
                             maximum_batching_window_in_seconds=0, starting_position="TRIM_HORIZON",
                             maximum_retry_attempts=retries, maximum_record_age_seconds=-1,
                             filter_patterns=(MSG_ONLY,),
                             on_failure_arn=moto["queue_arn"])


def put(moto: dict[str, Any], pk: str, sk: str = "MSG") -> None:
    moto["ddb"].put_item(TableName=moto["table"]["TableName"], Item={"pk": {"S": pk}, "sk": {"S": sk}})


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_given_writes_then_message_items_are_delivered_in_order_in_batches(moto):
    for i in range(25):
        put(moto, f"MSG#{i:02d}")
        put(moto, f"BATCH#{i:02d}", "BATCH")
    invoker = FakeInvoker()
    poller = StreamPoller(invoker, "LifecycleFunction", source(moto), endpoint_url=moto["url"], region=REGION).start()
    try:
        wait_for(poller.idle)
    finally:
        poller.stop()
    delivered = [r["dynamodb"]["Keys"]["pk"]["S"] for batch in invoker.batches for r in batch]
    assert delivered == [f"MSG#{i:02d}" for i in range(25)]
    assert max(len(b) for b in invoker.batches) <= 10
    record = invoker.batches[0][0]
    assert record["eventSourceARN"] == moto["table"]["LatestStreamArn"]
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    json.dumps(invoker.batches)  # a Lambda event: plain JSON


def test_given_a_failing_function_then_the_same_records_are_retried_then_sent_to_the_failure_queue(moto):
    for i in range(3):
        put(moto, f"MSG#{i}")
    invoker = FakeInvoker(fail_first=10)
    poller = StreamPoller(invoker, "LifecycleFunction", source(moto, retries=2), endpoint_url=moto["url"],
                          region=REGION, retry_pause=0.01).start()
    try:
        wait_for(lambda: poller.gave_up == 1)
    finally:
        poller.stop()
    first = [r["eventID"] for r in invoker.batches[0]]
    assert [[r["eventID"] for r in b] for b in invoker.batches[:3]] == [first] * 3  # 1 + 2 retries, same records
    [failure] = moto["sqs"].receive_message(QueueUrl=moto["queue"]).get("Messages", [])
    info = json.loads(failure["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 3 and info["startSequenceNumber"] == invoker.batches[0][0]["dynamodb"]["SequenceNumber"]


def test_given_records_older_than_the_maximum_age_then_a_failure_gives_them_up_without_more_retries(moto):
    put(moto, "MSG#old")
    invoker = FakeInvoker(fail_first=10)
    aged = dataclasses.replace(source(moto, retries=20), maximum_record_age_seconds=0)
    time.sleep(1.1)  # the record's creation time has a one-second grain
    poller = StreamPoller(invoker, "LifecycleFunction", aged, endpoint_url=moto["url"], region=REGION,
                          retry_pause=0.01).start()
    try:
        wait_for(lambda: poller.gave_up == 1)
    finally:
        poller.stop()
    assert len(invoker.batches) == 1  # given up after its first failure, not after 20 retries


def test_filter_patterns_match_nested_keys_and_exact_values():
    pattern = json.loads(MSG_ONLY)
    assert matches(pattern, {"dynamodb": {"Keys": {"sk": {"S": "MSG"}}}})
    assert not matches(pattern, {"dynamodb": {"Keys": {"sk": {"S": "BATCH"}}}})
    assert not matches(pattern, {"dynamodb": {}})


def test_the_fast_stream_answer_reads_back_as_motos_own(moto):
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    from local.stack import moto_server

    moto["ddb"].put_item(
        TableName=moto["table"]["TableName"],
        Item={"pk": {"S": "MSG#1"}, "sk": {"S": "MSG"}, "n": {"N": "1.5"}, "l": {"L": [{"M": {"b": {"BOOL": True}}}]}},
    )
    moto["ddb"].update_item(TableName=moto["table"]["TableName"], Key={"pk": {"S": "MSG#1"}, "sk": {"S": "MSG"}},
                            UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "2"}})
    streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=moto["url"])
    arn = moto["table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]

    def read() -> list[dict[str, Any]]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        return streams.get_records(ShardIterator=it)["Records"]

    moto_server.patch_dynamodb_in_process()
    fast = read()
    patched = DynamoDBStreamsHandler.get_records
    DynamoDBStreamsHandler.get_records = moto_server.original_stream_get_records
    try:
        own = read()
    finally:
        DynamoDBStreamsHandler.get_records = patched
    assert len(fast) == 2
    for a, b in zip(fast, own, strict=True):
        assert a == b, (a, b)
