"""The deploy rehearsal (local.rehearsal, `make deploy-rehearsal`): infra/ applied with the real
terraform in a throwaway moto server, the SAM stack created, the wiring checked. Once here,
~2 min; then, against the same applied infra/, the failures a first real deploy would meet,
each on a copy: an SSM path typo, a bulk queue parameter naming a DLQ, a 300 s function
timeout, a map variable missing a key.

The only allowed skip: no terraform binary on this machine.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.rehearsal.design import sender_of
from local.rehearsal.findings import Finding, StepFailed
from local.rehearsal.run import Rehearsal
from local.stack.hcl import load_config
from local.stack.template import SSM_PARAMETER_TYPE, load_template
from tamtam.providers.registry import PROVIDER_NAMES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
PARAMETERS = TEMPLATE["Parameters"]
PREFIX = f"/{PARAMETERS['Name']['Default']}/{PARAMETERS['Environment']['Default']}/"

pytestmark = [
    pytest.mark.skipif(shutil.which("terraform") is None,
                       reason="skipped: no terraform on PATH (the deploy rehearsal applies infra/ with it)"),
    pytest.mark.timeout(900),
]


@pytest.fixture(scope="module")
def rehearsal() -> Iterator[Rehearsal]:
    lines: list[str] = []
    with Rehearsal(say=lines.append) as rehearsed:
        rehearsed.outcome = rehearsed.run()  # type: ignore[attr-defined]
        rehearsed.lines = lines  # type: ignore[attr-defined]
        yield rehearsed


def _parameter_reading(path: str) -> str:
    [name] = [n for n, p in PARAMETERS.items() if p["Type"] == SSM_PARAMETER_TYPE and p.get("Default") == PREFIX + path]
    return name


def _copy(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of template.yaml, changed by `change`, written as JSON (which is YAML)."""
    template = json.loads(json.dumps(TEMPLATE))
    change(template)
    copy = tmp_path / "template.yaml"
    copy.write_text(json.dumps(template), encoding="utf-8")
    return copy


def _set(section: str, name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(template: dict[str, Any]) -> None:
        entry = template[section][name]
        (entry.setdefault("Properties", {}) if section == "Resources" else entry)[key] = value

    return change


def _findings(rehearsal: Rehearsal) -> list[Finding]:
    return [f for check in rehearsal.check() for f in check.findings]


def test_the_rehearsal_applies_infra_creates_the_stack_and_finds_nothing(rehearsal: Rehearsal) -> None:
    report = "\n".join(rehearsal.lines)  # type: ignore[attr-defined]
    assert rehearsal.outcome.passed, report  # type: ignore[attr-defined]
    assert re.search(r"terraform apply: [1-9]\d+ resources created", report), report
    assert "terraform plan (second): no change" in report
    deployment = rehearsal.deployment
    assert deployment is not None and deployment.by_stack > 0
    alarms = [k for k, t in deployment.types.items() if t == "AWS::CloudWatch::Alarm"]
    assert sorted(deployment.created.alarms) == sorted(alarms), "every alarm of the template exists"


def test_it_says_what_moto_could_not_represent(rehearsal: Rehearsal) -> None:
    report = "\n".join(rehearsal.lines)  # type: ignore[attr-defined]
    assert "not rehearsed (moto cannot represent it; a real deploy creates it):" in report
    for kind in ("AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::UsagePlan"):
        assert f"({kind})" in report
    assert "exists without its Body" in report
    assert "This was a rehearsal in an emulator, not a deploy." in report


def test_given_an_ssm_path_typo_then_the_stack_is_refused_naming_the_parameter(
    rehearsal: Rehearsal, tmp_path: Path
) -> None:
    name = _parameter_reading(f"queues/{PROVIDER_NAMES[0]}-tx/arn")
    typo = PREFIX + f"queues/{PROVIDER_NAMES[0][:-1]}-tx/arn"
    with pytest.raises(StepFailed) as refused:
        rehearsal.deploy(_copy(tmp_path, _set("Parameters", name, "Default", typo)), code_root=ROOT)
    assert refused.value.step == "stack parameters"
    [finding] = refused.value.findings
    assert finding.resource == f"template.yaml Parameters.{name}"
    assert f"reads the SSM parameter {typo}, which does not exist" in finding.message
    assert f"infra/ wrote {PREFIX}queues/{PROVIDER_NAMES[0]}-tx/arn" in finding.message


def test_given_a_bulk_queue_parameter_naming_a_dlq_then_the_sender_is_named(
    rehearsal: Rehearsal, tmp_path: Path
) -> None:
    provider = PROVIDER_NAMES[0]
    name = _parameter_reading(f"queues/{provider}-bulk/arn")
    rehearsal.deploy(_copy(tmp_path, _set("Parameters", name, "Default", PREFIX + f"queues/{provider}-bulk-dlq/arn")),
                     code_root=ROOT)
    findings = _findings(rehearsal)
    sender = sender_of(provider)
    assert Finding(sender, f"reads ['{provider}-bulk-dlq'], which the design does not give it") in findings
    assert Finding(sender, f"does not read ['{provider}-bulk'], as the design says") in findings
    rehearsal.remove()


def test_given_a_function_timeout_of_300_s_then_aws_would_refuse_its_event_sources(
    rehearsal: Rehearsal, tmp_path: Path
) -> None:
    sender = sender_of(PROVIDER_NAMES[0])
    rehearsal.deploy(_copy(tmp_path, _set("Resources", sender, "Timeout", 300)), code_root=ROOT)
    refused = [f for f in _findings(rehearsal) if f.resource == sender]
    assert len(refused) == 2, refused  # its tx and bulk queues
    for finding in refused:
        assert finding.message.startswith("timeout 300 s is longer than the visibility timeout of queue ")
        assert finding.message.endswith("AWS refuses the event source mapping")
    rehearsal.remove()


def test_given_an_alarm_elsewhere_and_rotation_unwired_then_the_alarm_secret_and_function_are_named(
        rehearsal: Rehearsal, tmp_path: Path) -> None:
    resources = TEMPLATE["Resources"]
    alarm = min(k for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm")
    [permission] = [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Permission"
                    and r["Properties"].get("Principal") == "secretsmanager.amazonaws.com"]
    secret_parameter = _parameter_reading(f"secrets/{PROVIDER_NAMES[0]}/arn")
    [schedule] = [k for k, r in resources.items() if r["Type"] == "AWS::SecretsManager::RotationSchedule"
                  and r["Properties"]["SecretId"] == {"Ref": secret_parameter}]
    elsewhere = "arn:aws:sns:eu-west-1:123456789012:somebody-else"

    def change(template: dict[str, Any]) -> None:
        template["Resources"][alarm]["Properties"]["AlarmActions"] = [elsewhere]
        del template["Resources"][permission], template["Resources"][schedule]

    deployment = rehearsal.deploy(_copy(tmp_path, change), code_root=ROOT)
    findings = _findings(rehearsal)
    alarm_name = deployment.created.alarms[alarm]
    assert Finding(f"alarm {alarm_name}", f"notifies ['{elsewhere}'], not only the alarm topic") in findings
    [rotator] = [lid for lid, d in rehearsal.code_dirs.items() if d == "rotation"]
    assert Finding(rotator, "Secrets Manager may not invoke it: AWS refuses to rotate a secret with it") in findings
    secret = [f for f in findings if f.resource.startswith("secret ") and f.resource.endswith(f"/{PROVIDER_NAMES[0]}")]
    assert secret and secret[0].message.endswith(f"not {rotator}"), findings
    rehearsal.remove()


def test_given_a_queue_redriven_elsewhere_then_the_check_and_the_second_plan_name_it(rehearsal: Rehearsal) -> None:
    rehearsal.deploy()
    first, second = sorted(rehearsal.outputs["sqs_queue_arns"])[:2]
    dlqs = rehearsal.outputs["sqs_dlq_arns"]
    sqs = rehearsal.account.client("sqs")
    url = sqs.get_queue_url(QueueName=rehearsal.outputs["sqs_queue_arns"][first].rsplit(":", 1)[-1])["QueueUrl"]
    redrive = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlqs[second], "maxReceiveCount": 5})})
    try:
        assert Finding(f"queue {first}", f"redrives to {second}-dlq, not to its DLQ {first}-dlq") in _findings(
            rehearsal
        )
        plan = rehearsal.plan()
        assert plan.findings == [
            Finding(f'aws_sqs_queue.this["{first}"]', "a second plan would update it (redrive_policy differ)")
        ]
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive})


def _indexed_map_variables() -> list[tuple[str, list[str]]]:
    """Map variables with a default that infra/ indexes (`var.x[...]`), with the resources doing it."""
    config = load_config(ROOT / "infra")
    found = []
    for name, spec in sorted(config.variables.items()):
        if not str(spec.get("type", "")).startswith("${map(") or not spec.get("default"):
            continue
        users = sorted(b.address for b in config.resources if f"var.{name}[" in json.dumps(b.body))
        if users:
            found.append((name, users))
    return found


MAP_VARIABLES = _indexed_map_variables()


def test_infra_indexes_a_map_variable_the_next_test_drops_a_key_of() -> None:
    assert MAP_VARIABLES, "no map variable of infra/ is indexed: the missing-key case has nothing to drop"


@pytest.mark.parametrize(("variable", "users"), MAP_VARIABLES, ids=[v for v, _ in MAP_VARIABLES])
def test_given_a_map_variable_missing_a_key_then_plan_fails_naming_the_resource(
        rehearsal: Rehearsal, tmp_path: Path, variable: str, users: list[str]) -> None:
    default = load_config(ROOT / "infra").variables[variable]["default"]
    providers = sorted(set(default) & set(PROVIDER_NAMES))
    dropped = (providers or sorted(default))[-1]  # a provider when the map is keyed by provider
    var_file = tmp_path / "missing.tfvars.json"
    var_file.write_text(json.dumps({variable: {k: v for k, v in default.items() if k != dropped}}), encoding="utf-8")
    plan = rehearsal.plan([var_file], refresh=False)
    named = [f for f in plan.findings if f.resource in users]
    assert named, plan.findings
    assert all("Invalid index" in f.message and f"var.{variable}" in f.message for f in named)
