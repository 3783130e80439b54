"""Failures reach an alarm (issue 14, point 6): infra/alarms.tf, provisioned into moto as
Terraform would create it, alarms on the metrics the code emits, with the names template.yaml
gives the API; the webhook route is throttled and the webhooks function capped."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local.stack.resources import Provisioned, provision
from local.stack.template import load_template
from tamtam.observability import FUNCTION_DIMENSION, OTP_RANGE_METRIC, STATUS_METRICS, UNHANDLED_METRIC

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS, RESOURCES = TEMPLATE["Parameters"], TEMPLATE["Resources"]
NAME = PARAMETERS["Name"]["Default"]
# An environment of its own: moto servers of one process share their state (test_consistency
# provisions the default one), and the alarms must follow whatever environment is deployed.
ENVIRONMENT = "alarmcheck"
WEBHOOK_EVENT = RESOURCES["WebhooksFunction"]["Properties"]["Events"]["SmsGate"]["Properties"]


@pytest.fixture(scope="module")
def alarms() -> Iterator[tuple[list[dict[str, Any]], Provisioned]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        deployed = provision(endpoint, REGION, NAME, ENVIRONMENT)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=endpoint,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
        found = cloudwatch.describe_alarms(AlarmNamePrefix=f"{NAME}-{ENVIRONMENT}-", MaxRecords=100)["MetricAlarms"]
        yield found, deployed
    finally:
        server.stop()


def _parameter_default(value: Any) -> Any:
    assert set(value) == {"Ref"}, value
    return PARAMETERS[value["Ref"]]["Default"]


def _watching(found: list[dict[str, Any]], namespace: str, metric: str) -> list[dict[str, Any]]:
    return [a for a in found if a["Namespace"] == namespace and a["MetricName"] == metric]


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm["Dimensions"]}


def _notifies_the_alarm_topic(alarm: dict[str, Any], deployed: Provisioned) -> None:
    topic = deployed.ssm_parameters[f"/{NAME}/{ENVIRONMENT}/alarms/topic_arn"]
    assert alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic], alarm["AlarmName"]


def _functions_counting_unhandled_errors() -> set[str]:
    """The functions whose code calls count_unhandled("<name>")."""
    found = set()
    for path in (ROOT / "functions").glob("*/*.py"):
        found |= set(re.findall(r'count_unhandled\("(\w+)"\)', path.read_text(encoding="utf-8")))
    return found


def test_errors_the_api_and_webhooks_answer_500_for_are_alarmed_per_function(alarms) -> None:
    found, deployed = alarms
    watched = _watching(found, NAME, UNHANDLED_METRIC)
    assert _functions_counting_unhandled_errors() == {"api", "webhooks"}
    assert {_dimensions(a)[FUNCTION_DIMENSION] for a in watched} == {"api", "webhooks"}
    for alarm in watched:
        assert _dimensions(alarm) == {FUNCTION_DIMENSION: _dimensions(alarm)[FUNCTION_DIMENSION], "service": NAME}
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Sum",
            0,
            "GreaterThanThreshold",
        )
        _notifies_the_alarm_topic(alarm, deployed)


def test_the_api_stage_s_5xx_answers_are_alarmed(alarms) -> None:
    found, deployed = alarms
    [alarm] = _watching(found, "AWS/ApiGateway", "5XXError")
    api = RESOURCES["Api"]["Properties"]
    assert api["Name"] == {"Fn::Sub": "${Name}-${Environment}"} and api["StageName"] == {"Ref": "Environment"}
    assert _dimensions(alarm) == {"ApiName": f"{NAME}-{ENVIRONMENT}", "Stage": ENVIRONMENT}
    assert alarm["Statistic"] == "Sum"
    _notifies_the_alarm_topic(alarm, deployed)


@pytest.mark.parametrize("status", sorted(STATUS_METRICS))
def test_messages_ending_failed_or_unconfirmed_are_alarmed(alarms, status: str) -> None:
    found, deployed = alarms
    [alarm] = _watching(found, NAME, STATUS_METRICS[status])
    assert _dimensions(alarm) == {"service": NAME}
    assert alarm["Statistic"] == "Sum" and alarm["Threshold"] > 0  # some failures are ordinary (wrong numbers)
    _notifies_the_alarm_topic(alarm, deployed)


def test_the_webhook_route_s_request_rate_is_alarmed(alarms) -> None:
    found, deployed = alarms
    [alarm] = _watching(found, "AWS/ApiGateway", "Count")
    assert _dimensions(alarm) == {"ApiName": f"{NAME}-{ENVIRONMENT}", "Stage": ENVIRONMENT,
                                  "Resource": WEBHOOK_EVENT["Path"], "Method": WEBHOOK_EVENT["Method"]}
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 60)
    throttle_per_minute = 60 * _parameter_default(_webhook_method_setting()["ThrottlingRateLimit"])
    assert 0 < alarm["Threshold"] < throttle_per_minute  # it fires before the throttle answers 429
    _notifies_the_alarm_topic(alarm, deployed)


def test_a_burst_of_codes_to_one_number_range_is_alarmed(alarms) -> None:
    found, deployed = alarms
    [alarm] = _watching(found, NAME, OTP_RANGE_METRIC)
    assert _dimensions(alarm) == {"service": NAME} and alarm["Threshold"] == 0
    _notifies_the_alarm_topic(alarm, deployed)


def _webhook_method_setting() -> dict[str, Any]:
    encoded = WEBHOOK_EVENT["Path"].replace("/", "~1")  # API Gateway's encoding of a resource path
    settings = [s for s in RESOURCES["Api"]["Properties"].get("MethodSettings", [])
                if s["ResourcePath"] == f"/{encoded}" and s["HttpMethod"] == WEBHOOK_EVENT["Method"]]
    assert len(settings) == 1, RESOURCES["Api"]["Properties"].get("MethodSettings")
    return settings[0]


def test_the_webhook_route_has_a_throttle_of_its_own_and_its_metrics() -> None:
    setting = _webhook_method_setting()
    rate, burst = (
        _parameter_default(setting["ThrottlingRateLimit"]),
        _parameter_default(setting["ThrottlingBurstLimit"]),
    )
    assert 0 < rate <= burst
    assert rate < _parameter_default(RESOURCES["UsagePlan"]["Properties"]["Throttle"]["RateLimit"])
    assert setting["MetricsEnabled"] is True  # the Count by resource and method the rate alarm reads


def test_the_webhooks_function_has_reserved_concurrency() -> None:
    reserved = RESOURCES["WebhooksFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert 1 <= _parameter_default(reserved) <= 10
    assert PARAMETERS[reserved["Ref"]]["MinValue"] >= 1  # 0 would stop the function altogether
