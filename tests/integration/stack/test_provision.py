"""provision(): every resource of infra/ exists in moto with its attributes, the SSM parameters
hold the created resources' names, and the function environment points at them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from local.stack.hcl import HclError
from local.stack.resources import Provisioned, provision

REGION = "eu-west-1"
PROVIDERS = ("passeinfo", "messagepro", "flowsms", "ventis", "smsgate")
QUEUE_KEYS = {f"{p}-{kind}" for p in PROVIDERS for kind in ("tx", "bulk")} | {"fanout", "ingest", "callbacks"}
# moto's backends are shared by every server of the process: a name of its own keeps this
# module's resources apart from other tests' stacks.
ENVIRONMENT = "itest"
PREFIX = f"/tamtam/{ENVIRONMENT}"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def stack(endpoint: str) -> Provisioned:
    return provision(endpoint, REGION, environment=ENVIRONMENT)


@pytest.fixture(scope="module")
def aws(endpoint: str):
    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def _ssm(stack: Provisioned, key: str) -> str:
    return stack.ssm_parameters[f"{PREFIX}/{key}"]


def test_table_has_keys_indexes_ttl_recovery_and_kms(stack: Provisioned, aws) -> None:
    dynamodb = aws("dynamodb")
    table = dynamodb.describe_table(TableName=stack.table_name)["Table"]
    assert stack.table_name == f"tamtam-{ENVIRONMENT}"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {("pk", "HASH"), ("sk", "RANGE")}
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"gsi1", "gsi3"}  # a batch's messages are found by id, in no index
    for name, index in indexes.items():
        assert [k["AttributeName"] for k in index["KeySchema"]] == [f"{name}pk", f"{name}sk"]
    assert indexes["gsi1"]["Projection"]["ProjectionType"] == "ALL"
    # message search: only attributes that never change after creation (no write on a transition)
    assert indexes["gsi3"]["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["to", "batch_id"]}
    ttl = dynamodb.describe_time_to_live(TableName=stack.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    backups = dynamodb.describe_continuous_backups(TableName=stack.table_name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert table["SSEDescription"]["KMSMasterKeyArn"] == _ssm(stack, "kms/key_arn")
    assert _ssm(stack, "table/name") == stack.table_name
    assert _ssm(stack, "table/arn") == table["TableArn"]


def test_kms_key_rotates(stack: Provisioned, aws) -> None:
    kms = aws("kms")
    key_arn = _ssm(stack, "kms/key_arn")
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    aliases = {a["AliasName"] for a in kms.list_aliases(KeyId=key_arn)["Aliases"]}
    assert f"alias/tamtam-{ENVIRONMENT}" in aliases


def test_queues_have_dlqs_redrive_timeouts_and_kms(stack: Provisioned, aws) -> None:
    sqs = aws("sqs")
    assert set(stack.queue_urls) == QUEUE_KEYS | {f"{k}-dlq" for k in QUEUE_KEYS}
    key_arn = _ssm(stack, "kms/key_arn")
    for key in QUEUE_KEYS:
        main = sqs.get_queue_attributes(QueueUrl=stack.queue_urls[key], AttributeNames=["All"])["Attributes"]
        dlq = sqs.get_queue_attributes(QueueUrl=stack.queue_urls[f"{key}-dlq"], AttributeNames=["All"])["Attributes"]
        assert json.loads(main["RedrivePolicy"]) == {"deadLetterTargetArn": dlq["QueueArn"], "maxReceiveCount": 5}
        assert main["VisibilityTimeout"] == "180"
        assert main["KmsMasterKeyId"] == key_arn and dlq["KmsMasterKeyId"] == key_arn
        assert dlq["MessageRetentionPeriod"] == "1209600"
        assert _ssm(stack, f"queues/{key}/url") == stack.queue_urls[key]
        assert _ssm(stack, f"queues/{key}/arn") == main["QueueArn"] == stack.queue_arns[key]
        assert _ssm(stack, f"queues/{key}-dlq/arn") == dlq["QueueArn"]


def test_secrets_exist_encrypted_and_empty(stack: Provisioned, aws) -> None:
    secrets = aws("secretsmanager")
    assert set(stack.secret_ids) == set(PROVIDERS)
    for provider, arn in stack.secret_ids.items():
        described = secrets.describe_secret(SecretId=arn)
        assert described["Name"] == f"tamtam/{ENVIRONMENT}/providers/{provider}"
        assert described["KmsKeyId"] == _ssm(stack, "kms/key_arn")
        assert _ssm(stack, f"secrets/{provider}/arn") == arn
        with pytest.raises(ClientError) as error:
            secrets.get_secret_value(SecretId=arn)  # the operator (or the caller) sets the value
        assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert secrets.describe_secret(SecretId=stack.otp_pepper_secret_id)["Name"] == f"tamtam/{ENVIRONMENT}/otp-pepper"
    assert _ssm(stack, "secrets/otp-pepper/arn") == stack.otp_pepper_secret_id


def test_bus_topic_and_alarms(stack: Provisioned, aws) -> None:
    bus = aws("events").describe_event_bus(Name=stack.bus_name)
    assert stack.bus_name == f"tamtam-{ENVIRONMENT}"
    assert _ssm(stack, "bus/arn") == bus["Arn"]
    topic_arn = _ssm(stack, "alarms/topic_arn")
    assert aws("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]["KmsMasterKeyId"] == _ssm(
        stack, "kms/key_arn"
    )
    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=f"tamtam-{ENVIRONMENT}-", MaxRecords=100)["MetricAlarms"]
    for alarm in alarms:
        assert alarm["AlarmActions"] == [topic_arn]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # per queue: its DLQ's depth and its own oldest message's age (service alarms: test_service_alarms)
    queue_alarms = [a for a in alarms if any(d["Name"] == "QueueName" for d in a.get("Dimensions", []))]
    dlq_alarms = [a for a in alarms if a["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    assert len(queue_alarms) == 2 * len(QUEUE_KEYS) + 1  # + the lifecycle function's failure destination
    assert len(dlq_alarms) == len(QUEUE_KEYS) + 1 and all(a["Threshold"] == 0 for a in dlq_alarms)
    assert {a["AlarmName"] for a in dlq_alarms} >= {f"tamtam-{ENVIRONMENT}-lifecycle-failures"}


def test_ssm_json_maps_and_values_read_back(stack: Provisioned, aws) -> None:
    ssm = aws("ssm")
    published = ssm.get_parameters_by_path(Path=PREFIX, Recursive=True)
    names = {p["Name"] for p in published["Parameters"]}
    while "NextToken" in published:
        published = ssm.get_parameters_by_path(Path=PREFIX, Recursive=True, NextToken=published["NextToken"])
        names |= {p["Name"] for p in published["Parameters"]}
    assert names == set(stack.ssm_parameters)
    assert json.loads(_ssm(stack, "queues/urls")) == {k: stack.queue_urls[k] for k in QUEUE_KEYS}
    assert json.loads(_ssm(stack, "secrets/arns")) == stack.secret_ids


def test_function_env_points_at_the_created_resources(stack: Provisioned) -> None:
    env = stack.function_env
    assert env["TABLE_NAME"] == stack.table_name
    assert env["EVENT_BUS_NAME"] == stack.bus_name
    assert json.loads(env["QUEUE_URLS"]) == {k: stack.queue_urls[k] for k in QUEUE_KEYS}
    assert json.loads(env["PROVIDER_SECRETS"]) == stack.secret_ids
    assert env["POWERTOOLS_SERVICE_NAME"] == "tamtam"


def test_functions_and_their_triggers(stack: Provisioned) -> None:
    sender = stack.functions["VentisSenderFunction"]
    assert sender.code_dir.name == "functions" and sender.handler == "sender.handler.lambda_handler"
    assert sender.package == "sender" and sender.handler_file == sender.code_dir / "sender" / "handler.py"
    assert sender.timeout == 30 and sender.memory_mb == 256
    assert {e.queue_key: e.queue_url for e in sender.sqs_events} == {
        "ventis-tx": stack.queue_urls["ventis-tx"], "ventis-bulk": stack.queue_urls["ventis-bulk"]}
    assert all(e.batch_size == 10 and e.report_batch_item_failures and e.maximum_concurrency == 2
               for e in sender.sqs_events)
    assert {e.queue_key: e.maximum_batching_window_in_seconds for e in sender.sqs_events} == {
        "ventis-tx": 0, "ventis-bulk": 1}
    finalizer = stack.functions["FinalizerFunction"]
    assert {e.queue_key for e in finalizer.sqs_events} == {f"{p}-{k}-dlq" for p in PROVIDERS for k in ("tx", "bulk")}
    routes = {(e.method, e.path): (e.authorizer, e.api_key_required) for e in stack.functions["ApiFunction"].api_events}
    assert routes == {("ANY", "/v1/{proxy+}"): ("TenantAuthorizer", True),
                      ("GET", "/openapi.json"): (None, False), ("GET", "/docs"): (None, False)}
    assert stack.authorizer is not None
    assert (stack.authorizer.function_logical_id, stack.authorizer.identity_header) == (
        "AuthorizerFunction",
        "Authorization",
    )
    denied = stack.gateway_responses["UNAUTHORIZED"]
    assert denied.status_code == 401
    assert json.loads(denied.render('no "key"')) == {
        "error": {"code": "unauthorized", "message": 'no "key"', "field": None}
    }
    assert stack.gateway_responses["DEFAULT_5XX"].status_code is None


VARIABLES = 'variable "name" {\n  type = string\n}\n\nvariable "environment" {\n  type = string\n}\n'


def _infra(tmp_path: Path, queue_body: str) -> Path:
    (tmp_path / "main.tf").write_text(
        f'{VARIABLES}\nresource "aws_sqs_queue" "this" {{\n  {queue_body}\n}}\n', encoding="utf-8")
    return tmp_path


def test_a_minimal_infra_evaluates(endpoint: str, tmp_path: Path, aws) -> None:
    # evaluated and created; then refused because the outputs the stack is built from are absent
    with pytest.raises(HclError, match="must declare the outputs"):
        provision(endpoint, REGION, name="mini", environment="test",
                  infra_dir=_infra(tmp_path, 'name = "${var.name}-${var.environment}-q"'))
    assert aws("sqs").get_queue_url(QueueName="mini-test-q")["QueueUrl"]


@pytest.mark.parametrize(("queue_body", "message"), [
    ('count = 2\n  name = "a"', "meta-argument count"),
    ('name = format("%s", "b")', "function format() is not supported"),
    ('name = "${var.missing}"', "var.missing is not declared"),
    ('name = "%{ if true }c%{ endif }"', "template directive"),
    ('name = "d"\n  fifo_queue = true', "['fifo_queue'] are not supported"),
    ('name = "${local.nowhere}"', "local.nowhere is not defined"),
])
def test_what_the_evaluator_cannot_reproduce_is_an_error(endpoint: str, tmp_path: Path, queue_body: str,
                                                         message: str) -> None:
    with pytest.raises(HclError, match=re.escape(message)):
        provision(endpoint, REGION, name="broken", environment="test", infra_dir=_infra(tmp_path, queue_body))
