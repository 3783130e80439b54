"""The local stack's moto process (local.stack.moto_server): it starts and stops, and its changes
to the emulator keep what AWS promises: a conditional write has one winner under concurrency, a
failed transaction changes nothing, a queue still counts its messages."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from local.stack.child import ChildServer
from local.stack.moto_server import MotoProcess

REGION = "eu-west-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChildServer]:
    process = MotoProcess(log_dir=Path(tmp_path_factory.mktemp("moto"))).start()
    try:
        yield process
    finally:
        process.stop()


def _client(moto: ChildServer, service: str):
    return boto3.client(service, endpoint_url=moto.url, config=Config(max_pool_connections=20), **CREDENTIALS)


@pytest.fixture(scope="module")
def table(moto: MotoProcess) -> str:
    ddb = _client(moto, "dynamodb")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    return "t"


def test_given_twenty_concurrent_claims_of_one_item_then_exactly_one_wins(moto, table):
    ddb = _client(moto, "dynamodb")
    for n in range(10):
        key = {"pk": {"S": f"claim-{n}"}}
        ddb.put_item(TableName=table, Item={**key, "status": {"S": "queued"}})

        def claim(worker: int, key=key) -> bool:
            try:
                ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #s = :s, #w = :w",
                                ConditionExpression="#s = :q", ExpressionAttributeNames={"#s": "status", "#w": "by"},
                                ExpressionAttributeValues={":s": {"S": "sending"}, ":q": {"S": "queued"},
                                                           ":w": {"N": str(worker)}})
                return True
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
                return False

        with ThreadPoolExecutor(20) as pool:
            wins = list(pool.map(claim, range(20)))
        assert wins.count(True) == 1, f"round {n}: {wins.count(True)} winners"


def test_given_a_transaction_whose_condition_fails_then_no_item_changes(moto, table):
    ddb = _client(moto, "dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "b"}, "n": {"N": "1"}})
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}, "n": {"N": "1"}}}},
            {"Update": {"TableName": table, "Key": {"pk": {"S": "b"}}, "UpdateExpression": "SET n = :two",
                        "ConditionExpression": "n = :nine",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":nine": {"N": "9"}}}},
        ])
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "1"}
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "b"}})["Item"]["n"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}})

    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}, "n": {"N": "1"}}}},
    ])
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "2"}
    assert "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}})


def test_given_messages_sent_then_the_queue_counts_them_and_expires_none(moto):
    sqs = _client(moto, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for start in range(0, 30, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)}
                                                      for i in range(start, start + 10)])
    sqs.send_message(QueueUrl=url, MessageBody="one more")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "31"
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 10


def test_given_stop_then_the_port_is_closed(tmp_path):
    process = MotoProcess(log_dir=tmp_path).start()
    assert requests.get(f"{process.url}/moto-api/", timeout=5).ok
    process.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{process.url}/moto-api/", timeout=5)
    process.stop()  # a second stop does nothing


def test_given_awscurrent_moved_then_the_next_value_leaves_it_on_one_version(moto):
    sm = _client(moto, "secretsmanager")
    arn = sm.create_secret(Name="s", SecretString="v1")["ARN"]
    first = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    (v1,) = first
    sm.put_secret_value(SecretId=arn, ClientRequestToken="0" * 32 + "0000", SecretString="v2",
                        VersionStages=["AWSPENDING"])
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId="0" * 36,
                                   RemoveFromVersionId=v1)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v2"
    sm.put_secret_value(SecretId=arn, SecretString="v3")
    stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert sum("AWSCURRENT" in s for s in stages.values()) == 1
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v3"


def test_given_items_of_every_type_then_the_fast_answers_are_moto_s_own(tmp_path, monkeypatch):
    """MOTO_FAST_JSON_CHECK=1: the moto process computes both answers and fails on a difference."""
    monkeypatch.setenv("MOTO_FAST_JSON_CHECK", "1")
    process = MotoProcess(log_dir=tmp_path).start()
    try:
        ddb = _client(process, "dynamodb")
        ddb.create_table(
            TableName="typed",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gidx",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        item = {"pk": {"S": "p"}, "sk": {"S": "s"}, "g": {"S": "G"}, "n": {"N": "1.5"}, "i": {"N": "7"},
                "b": {"B": b"\x00\xffbytes"}, "t": {"BOOL": True}, "z": {"NULL": True}, "ss": {"SS": ["a", "b"]},
                "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x", b"y"]},
                "l": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"k": {"B": b"\x01"}}}]},
                "m": {"M": {"deep": {"L": [{"BOOL": False}, {"SS": ["q"]}]}}}}
        key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
        ddb.put_item(TableName="typed", Item=item)
        got = ddb.get_item(TableName="typed", Key=key)["Item"]
        assert got == item
        updated = ddb.update_item(TableName="typed", Key=key, UpdateExpression="SET l = list_append(l, :x) ADD i :one",
                                  ExpressionAttributeValues={":x": {"L": [{"S": "y"}]}, ":one": {"N": "1"}},
                                  ReturnValues="ALL_NEW")["Attributes"]
        assert updated["i"] == {"N": "8"} and updated["l"]["L"][-1] == {"S": "y"} and updated["b"] == item["b"]
        assert ddb.update_item(
            TableName="typed",
            Key=key,
            UpdateExpression="SET i = :i",
            ExpressionAttributeValues={":i": {"N": "9"}},
            ReturnValues="UPDATED_OLD",
        )["Attributes"] == {"i": {"N": "8"}}
        page = ddb.query(TableName="typed", IndexName="gidx", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "G"}}, Limit=1)
        assert page["Count"] == 1 and page["Items"][0]["b"] == item["b"]
        assert ddb.scan(TableName="typed")["Count"] == 1
        batch = ddb.batch_get_item(RequestItems={"typed": {"Keys": [key]}})
        assert batch["Responses"]["typed"][0]["bs"] == item["bs"] and batch["UnprocessedKeys"] == {}
        assert ddb.batch_write_item(RequestItems={"typed": [{"PutRequest": {"Item": {**item, "sk": {"S": "2"}}}}]})[
            "UnprocessedItems"] == {}
        with pytest.raises(ClientError) as refused:
            ddb.put_item(TableName="typed", Item=item, ConditionExpression="attribute_not_exists(pk)")
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        deleted = ddb.delete_item(TableName="typed", Key=key, ReturnValues="ALL_OLD")["Attributes"]
        assert deleted["m"] == item["m"]
        assert "Item" not in ddb.get_item(TableName="typed", Key=key)
    finally:
        process.stop()
