"""template.yaml, infra/ and events/ agree: what the template reads, infra writes; every queue
has its DLQ and alarms; every function has events to be invoked with.

infra/ is evaluated for real (local.stack provisions it into a moto server with the default
name and environment), so the SSM names compared are the ones Terraform would write.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.stack.hcl import load_config
from local.stack.resources import Provisioned, provision
from local.stack.template import SSM_PARAMETER_TYPE, load_template
from tamtam.ingest import Door
from tamtam.providers.registry import PROVIDER_NAMES

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
TEMPLATE = load_template(ROOT / "template.yaml")


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
def deployed(endpoint: str) -> Provisioned:
    defaults = TEMPLATE["Parameters"]
    return provision(endpoint, REGION, defaults["Name"]["Default"], defaults["Environment"]["Default"],
                     variables=INGEST_DOOR)


# An ingest door configuration, as `terraform apply -var` would give it (infra/ingest.tf).
INGEST_DOOR = {"ingest_sources": {"acme.orders": ["ten_a"], "acme.crm": ["ten_a", "ten_b"]},
               "ingest_senders": {"AROAEXAMPLEORDERS0001": "acme.orders"}}


def _client(service: str, endpoint: str):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_infra_providers_are_the_registry_providers() -> None:
    variables = load_config(ROOT / "infra").variables
    assert tuple(variables["provider_names"]["default"]) == PROVIDER_NAMES


def test_every_ssm_parameter_the_template_reads_is_written_by_infra(deployed: Provisioned) -> None:
    read = {v["Default"] for v in TEMPLATE["Parameters"].values() if v["Type"] == SSM_PARAMETER_TYPE}
    missing = read - set(deployed.ssm_parameters)
    assert not missing, f"template.yaml reads SSM parameters infra/ does not write: {sorted(missing)}"


def test_queue_keys_are_the_contract_keys(deployed: Provisioned) -> None:
    main = {k for k in deployed.queue_urls if not k.endswith("-dlq")}
    expected = {f"{p}-{kind}" for p in PROVIDER_NAMES for kind in ("tx", "bulk")} | {"fanout", "ingest", "callbacks"}
    assert main == expected
    assert set(json.loads(deployed.function_env["QUEUE_URLS"])) == expected


def test_every_queue_has_a_dlq_with_redrive(deployed: Provisioned, endpoint: str) -> None:
    sqs = _client("sqs", endpoint)
    for key, url in deployed.queue_urls.items():
        if key.endswith("-dlq"):
            continue
        assert f"{key}-dlq" in deployed.queue_urls, f"{key} has no DLQ"
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == deployed.queue_arns[f"{key}-dlq"], key


def test_every_queue_has_a_dlq_alarm_and_an_age_alarm(deployed: Provisioned, endpoint: str) -> None:
    prefix = f"{TEMPLATE['Parameters']['Name']['Default']}-{TEMPLATE['Parameters']['Environment']['Default']}-"
    alarms = _client("cloudwatch", endpoint).describe_alarms(AlarmNamePrefix=prefix, MaxRecords=100)["MetricAlarms"]
    watched = {(a["MetricName"], d["Value"]) for a in alarms for d in a["Dimensions"] if d["Name"] == "QueueName"}
    for key, arn in deployed.queue_arns.items():
        queue_name = arn.rsplit(":", 1)[1]
        if key.endswith("-dlq"):
            assert ("ApproximateNumberOfMessagesVisible", queue_name) in watched, f"no alarm on {key}"
        else:
            assert ("ApproximateAgeOfOldestMessage", queue_name) in watched, f"no age alarm on {key}"


def test_every_provider_queue_is_consumed_and_its_dlq_finalized(deployed: Provisioned) -> None:
    consumed = {e.queue_key: f.logical_id for f in deployed.functions.values() for e in f.sqs_events}
    for provider in PROVIDER_NAMES:
        for kind in ("tx", "bulk"):
            assert consumed.get(f"{provider}-{kind}") == f"{provider.capitalize()}SenderFunction"
            assert consumed.get(f"{provider}-{kind}-dlq") == "FinalizerFunction"


def test_every_provider_has_a_secret(deployed: Provisioned) -> None:
    assert set(deployed.secret_ids) == set(PROVIDER_NAMES)
    assert json.loads(deployed.function_env["PROVIDER_SECRETS"]) == deployed.secret_ids


FUNCTION_DIRS = sorted({  # each function's package, functions/<name> (Handler `<name>.handler.lambda_handler`)
    r["Properties"]["Handler"].split(".", 1)[0]
    for r in TEMPLATE["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
})


@pytest.mark.parametrize("function_dir", FUNCTION_DIRS)
def test_every_function_has_json_events(function_dir: str) -> None:
    folder = ROOT / "events" / function_dir
    events = sorted(folder.glob("*.json"))
    assert events, f"events/{function_dir}/ holds no JSON event"
    for event in events:
        assert isinstance(json.loads(event.read_text(encoding="utf-8")), dict), event


def test_the_bus_rule_sends_requests_to_the_ingest_queue(deployed: Provisioned, endpoint: str) -> None:
    events = _client("events", endpoint)
    rules = events.list_rules(EventBusName=deployed.bus_name)["Rules"]
    [rule] = [r for r in rules if r["Name"].endswith("-ingest")]
    # the configured sources' requests only
    assert json.loads(rule["EventPattern"]) == {"detail-type": ["Send Message Requested", "Send Bulk Requested"],
                                                "source": ["acme.crm", "acme.orders"]}
    targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=deployed.bus_name)["Targets"]
    assert [t["Arn"] for t in targets] == [deployed.queue_arns["ingest"]]
    policy = _client("sqs", endpoint).get_queue_attributes(
        QueueUrl=deployed.queue_urls["ingest"], AttributeNames=["Policy"]
    )
    allow, deny = json.loads(policy["Attributes"]["Policy"])["Statement"]
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow",
        {"Service": "events.amazonaws.com"},
        "sqs:SendMessage",
    )
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": rule["Arn"]}}
    # nobody else sends: a message of an unconfigured sender came from the rule (tamtam.ingest.speaker)
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:SendMessage")
    assert deny["Condition"] == {"ArnNotEquals": {"aws:SourceArn": rule["Arn"]},
                                 "StringNotLike": {"aws:userid": ["AROAEXAMPLEORDERS0001", "AROAEXAMPLEORDERS0001:*"]}}


def test_the_ingest_function_reads_the_door_configuration_infra_writes(deployed: Provisioned, endpoint: str) -> None:
    name = deployed.function_env["INGEST_SOURCES_PARAMETER"]
    assert name in deployed.ssm_parameters
    stored = json.loads(_client("ssm", endpoint).get_parameter(Name=name)["Parameter"]["Value"])
    assert stored == {"sources": INGEST_DOOR["ingest_sources"], "senders": INGEST_DOOR["ingest_senders"]}
    assert Door.model_validate(stored).source_of("AROAEXAMPLEORDERS0001:orders") == "acme.orders"


def test_with_no_ingest_source_configured_there_is_no_rule_and_nobody_may_send(endpoint: str) -> None:
    closed = provision(endpoint, REGION, TEMPLATE["Parameters"]["Name"]["Default"], "closed")
    assert list(_client("events", endpoint).list_rules(EventBusName=closed.bus_name)["Rules"]) == []
    policy = _client("sqs", endpoint).get_queue_attributes(
        QueueUrl=closed.queue_urls["ingest"], AttributeNames=["Policy"]
    )
    [deny] = json.loads(policy["Attributes"]["Policy"])["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"], "Condition" in deny) == (
        "Deny",
        "*",
        "sqs:SendMessage",
        False,
    )
