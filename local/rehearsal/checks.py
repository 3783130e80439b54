"""The wiring, checked in the emulated account once infra/ and the stack exist: what AWS would
refuse, or what would deploy and then not work as the design says.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from local.rehearsal.design import STREAM, expected_sources
from local.rehearsal.findings import Finding
from local.rehearsal.server import Account
from local.rehearsal.stack import Deployment

# AWS: "set the source queue's visibility timeout to at least six times the configuration
# timeout on your function"; a function timeout over the visibility timeout is refused when the
# event source mapping is created (Lambda developer guide, "Creating and configuring an Amazon
# SQS event source mapping").
VISIBILITY_RATIO = 6
REQUIRED_OUTPUTS = (
    "sqs_queue_arns",
    "sqs_dlq_arns",
    "secretsmanager_secret_arns",
    "sns_topic_arn",
    "dynamodb_table_name",
)


@dataclass
class Check:
    name: str
    summary: str = ""
    findings: list[Finding] = field(default_factory=list)


@dataclass
class Emulated:
    """What the checks look at: the account, infra/'s outputs and state, the stack."""

    account: Account
    outputs: dict[str, Any]
    tf_state: list[dict[str, Any]]
    deployment: Deployment
    code_dirs: dict[str, str]  # function logical id -> its directory under functions/
    providers: tuple[str, ...]

    @cached_property
    def queue_labels(self) -> dict[str, str]:
        """Queue ARN -> its key in infra/ ("passeinfo-tx", "passeinfo-tx-dlq"...)."""
        labels = {arn: key for key, arn in self.outputs["sqs_queue_arns"].items()}
        labels |= {arn: f"{key}-dlq" for key, arn in self.outputs["sqs_dlq_arns"].items()}
        return labels

    @cached_property
    def stream_arn(self) -> str:
        table = self.account.client("dynamodb").describe_table(TableName=self.outputs["dynamodb_table_name"])["Table"]
        return table.get("LatestStreamArn", "")

    @cached_property
    def functions(self) -> dict[str, dict[str, Any]]:
        """Function name -> its configuration, for the stack's functions."""
        client = self.account.client("lambda")
        return {name: client.get_function_configuration(FunctionName=name)
                for lid, name in self.deployment.physical_ids.items()
                if self.deployment.types.get(lid) == "AWS::Lambda::Function"}

    @cached_property
    def logical_ids(self) -> dict[str, str]:
        return {name: lid for lid, name in self.deployment.physical_ids.items() if name in self.functions}

    @cached_property
    def mappings(self) -> list[dict[str, Any]]:
        return self.account.pages("lambda", "list_event_source_mappings", "EventSourceMappings")

    def configuration(self, function_arn: str) -> dict[str, Any]:
        name = function_arn.split(":")[6]
        if name not in self.functions:
            self.functions[name] = self.account.client("lambda").get_function_configuration(FunctionName=name)
        return self.functions[name]

    def label(self, arn: str) -> str:
        if arn in self.queue_labels:
            return self.queue_labels[arn]
        if arn == self.stream_arn:
            return STREAM
        return arn.rsplit(":", 1)[-1] if arn.startswith("arn:aws:sqs:") else arn

    def function_of(self, mapping: dict[str, Any]) -> str:
        name = mapping["FunctionArn"].split(":")[6]
        return self.logical_ids.get(name, name)

    def queue(self, arn: str) -> dict[str, str]:
        sqs = self.account.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def missing_outputs(outputs: dict[str, Any]) -> list[Finding]:
    return [
        Finding(f"output.{o}", "infra/ must declare it: the rehearsal reads it")
        for o in REQUIRED_OUTPUTS
        if o not in outputs
    ]


def redrive(e: Emulated) -> Check:
    check = Check("every queue redrives to its DLQ")
    dlqs = e.outputs["sqs_dlq_arns"]
    for key, arn in sorted(e.outputs["sqs_queue_arns"].items()):
        policy = e.queue(arn).get("RedrivePolicy")
        if not policy:
            check.findings.append(Finding(f"queue {key}", "has no redrive policy"))
            continue
        redrive_policy = json.loads(policy)
        target = redrive_policy.get("deadLetterTargetArn")
        if target != dlqs.get(key):
            check.findings.append(
                Finding(f"queue {key}", f"redrives to {e.label(str(target))}, not to its DLQ {key}-dlq")
            )
        if int(redrive_policy.get("maxReceiveCount", 0)) < 1:
            check.findings.append(Finding(f"queue {key}", f"maxReceiveCount {redrive_policy.get('maxReceiveCount')}"))
    # Every other queue of the account must be a DLQ or a failure destination, never a dead end.
    sqs = e.account.client("sqs")
    terminal = set(dlqs.values()) | {(m.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
                                     for m in e.mappings}
    urls = e.account.pages("sqs", "list_queues", "QueueUrls")
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn", "RedrivePolicy"])["Attributes"]
        arn = attributes["QueueArn"]
        if arn not in e.queue_labels and arn not in terminal and "RedrivePolicy" not in attributes:
            check.findings.append(
                Finding(f"queue {e.label(arn)}", "has no DLQ and is neither a DLQ nor a failure destination")
            )
    check.summary = f"{len(e.outputs['sqs_queue_arns'])} queues, {len(urls)} in the account"
    return check


def event_sources(e: Emulated) -> Check:
    check = Check("each function reads exactly the queues the design gives it")
    expected, check.findings = expected_sources(e.providers, e.outputs["sqs_queue_arns"], e.code_dirs)
    actual: dict[str, set[str]] = {lid: set() for lid in e.code_dirs}
    for mapping in e.mappings:
        actual.setdefault(e.function_of(mapping), set()).add(e.label(mapping["EventSourceArn"]))
    for logical_id in sorted(set(expected) | set(actual)):
        want, have = expected.get(logical_id, set()), actual.get(logical_id, set())
        if have - want:
            check.findings.append(
                Finding(logical_id, f"reads {sorted(have - want)}, which the design does not give it")
            )
        if want - have:
            check.findings.append(Finding(logical_id, f"does not read {sorted(want - have)}, as the design says"))
    readers: dict[str, list[str]] = {}
    for logical_id, sources in actual.items():
        for source in sources:
            readers.setdefault(source, []).append(logical_id)
    check.findings += [Finding(f"queue {s}", f"is read by {sorted(r)}") for s, r in sorted(readers.items())
                       if len(r) > 1 and s != STREAM]
    check.summary = f"{len(e.mappings)} event source mappings, {sum(1 for s in actual.values() if s)} functions"
    return check


def timeouts(e: Emulated) -> Check:
    check = Check(f"function timeouts fit their queues' visibility timeout ({VISIBILITY_RATIO}x)")
    ratios = []
    for mapping in e.mappings:
        arn = mapping["EventSourceArn"]
        if not arn.startswith("arn:aws:sqs:"):
            continue
        function = e.configuration(mapping["FunctionArn"])
        timeout, visibility = int(function["Timeout"]), int(e.queue(arn)["VisibilityTimeout"])
        logical_id, queue = e.function_of(mapping), e.label(arn)
        ratios.append(visibility / timeout)
        if timeout > visibility:
            check.findings.append(
                Finding(
                    logical_id,
                    f"timeout {timeout} s is longer than the visibility timeout of queue "
                    f"{queue} ({visibility} s): AWS refuses the event source mapping",
                )
            )
        elif visibility < VISIBILITY_RATIO * timeout:
            check.findings.append(Finding(logical_id, f"queue {queue}'s visibility timeout {visibility} s is under "
                                          f"{VISIBILITY_RATIO} x its timeout {timeout} s, the least AWS recommends"))
    check.summary = (
        f"{len(ratios)} SQS event sources, visibility / timeout "
        f"from {min(ratios, default=0):.1f} to {max(ratios, default=0):.1f}"
    )
    return check


def rotation(e: Emulated) -> Check:
    check = Check("every provider secret is rotated by the rotation function")
    secrets = e.outputs["secretsmanager_secret_arns"]
    if set(secrets) != set(e.providers):
        check.findings.append(Finding("output.secretsmanager_secret_arns", f"holds {sorted(secrets)}, "
                                      f"the providers are {sorted(e.providers)}"))
    rotators = [lid for lid, d in e.code_dirs.items() if d == "rotation"]
    if len(rotators) != 1:
        check.findings.append(Finding("functions/rotation", f"expected one rotation function, found {rotators}"))
        return check
    name = e.deployment.physical_ids.get(rotators[0], "")
    arn = e.functions[name]["FunctionArn"] if name in e.functions else ""
    client = e.account.client("secretsmanager")
    for _provider, secret in sorted(secrets.items()):
        described = client.describe_secret(SecretId=secret)
        if described.get("RotationLambdaARN") != arn:
            rotated_by = described.get("RotationLambdaARN") or "nothing"
            check.findings.append(
                Finding(f"secret {described['Name']}", f"is rotated by {rotated_by}, not {rotators[0]}")
            )
    check.findings += _invokable_by_secrets_manager(e, rotators[0], name)
    check.summary = f"{len(secrets)} provider secrets, rotated by {rotators[0]}"
    return check


def _invokable_by_secrets_manager(e: Emulated, logical_id: str, name: str) -> list[Finding]:
    try:
        policy = json.loads(e.account.client("lambda").get_policy(FunctionName=name)["Policy"])
    except ClientError:
        policy = {"Statement": []}
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal") or {}
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if service == "secretsmanager.amazonaws.com" and statement.get("Effect") == "Allow" \
                and statement.get("Action") in ("lambda:InvokeFunction", ["lambda:InvokeFunction"]):
            return []
    return [Finding(logical_id, "Secrets Manager may not invoke it: AWS refuses to rotate a secret with it")]


def alarms(e: Emulated) -> Check:
    check = Check("every alarm notifies the alarm topic")
    topic = e.outputs["sns_topic_arn"]
    found = e.account.pages("cloudwatch", "describe_alarms", "MetricAlarms")
    found += e.account.pages("cloudwatch", "describe_alarms", "CompositeAlarms", AlarmTypes=["CompositeAlarm"])
    for alarm in found:
        actions = alarm.get("AlarmActions") or []
        if actions != [topic]:
            check.findings.append(
                Finding(f"alarm {alarm['AlarmName']}", f"notifies {actions or 'nobody'}, not only the alarm topic")
            )
    from_infra = {r["values"]["alarm_name"] for r in e.tf_state if r["type"] == "aws_cloudwatch_metric_alarm"}
    from_stack = set(e.deployment.created.alarms.values())
    missing = (from_infra | from_stack) - {a["AlarmName"] for a in found}
    check.findings += [Finding(f"alarm {name}", "was declared but does not exist") for name in sorted(missing)]
    check.summary = f"{len(found)} alarms ({len(from_infra)} from infra/, {len(from_stack)} from template.yaml)"
    return check


CHECKS: tuple[Callable[[Emulated], Check], ...] = (redrive, event_sources, timeouts, rotation, alarms)
