"""What moto's CloudFormation accepts in a template but silently does not create: CloudWatch
alarms and Secrets Manager rotation schedules. The rehearsal creates them through the API after
the stack, from the same translated properties, resolved against the stack (intrinsics.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from local.rehearsal.findings import Finding
from local.rehearsal.intrinsics import StackValues
from local.rehearsal.server import Account

_ALARM_PROPERTIES = {
    "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions", "InsufficientDataActions",
    "MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period", "Unit", "EvaluationPeriods",
    "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData", "EvaluateLowSampleCountPercentile",
    "Metrics", "ThresholdMetricId", "Tags",
}
_INTEGERS = {"Period", "EvaluationPeriods", "DatapointsToAlarm", "AutomaticallyAfterDays"}
_BOOLEANS = {"ActionsEnabled", "ReturnData", "RotateImmediatelyOnUpdate"}
# What an operator puts in a provider secret before rotation can run (docs/secrets.md): moto's
# RotateSecret fails on a secret that has no value yet.
PLACEHOLDER_SECRET = json.dumps({"base_url": "https://provider.invalid", "note": "set by the deploy rehearsal"})


@dataclass
class Created:
    """What was created through the API, to check and to remove."""

    alarms: dict[str, str] = field(default_factory=dict)  # logical id -> alarm name
    rotations: dict[str, str] = field(default_factory=dict)  # logical id -> secret id
    placeholders: list[str] = field(default_factory=list)  # secrets given a value first
    notes: list[str] = field(default_factory=list)  # what moto kept less of than AWS would


def _typed(value: Any, key: str = "") -> Any:
    """CloudFormation takes numbers and booleans as strings; the API wants them typed."""
    if isinstance(value, dict):
        return {k: _typed(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if key in _INTEGERS:
        return int(value)
    if key == "Threshold":
        return float(value)
    if key in _BOOLEANS and isinstance(value, str):
        return value.lower() == "true"
    return value


def create_alarm(account: Account, values: StackValues, stack_name: str, logical_id: str,
                 properties: Mapping[str, Any], created: Created) -> list[Finding]:
    unknown = set(properties) - _ALARM_PROPERTIES
    if unknown:
        return [
            Finding(logical_id, f"AWS::CloudWatch::Alarm properties {sorted(unknown)} are not created by the rehearsal")
        ]
    arguments = _typed(values.resolve(dict(properties)))
    arguments.setdefault("AlarmName", f"{stack_name}-{logical_id}")
    account.client("cloudwatch").put_metric_alarm(**arguments)
    created.alarms[logical_id] = arguments["AlarmName"]
    return []


def create_rotation(account: Account, values: StackValues, stack_name: str, logical_id: str,
                    properties: Mapping[str, Any], created: Created) -> list[Finding]:
    if "HostedRotationLambda" in properties:
        return [Finding(logical_id, "HostedRotationLambda is not created by the rehearsal")]
    resolved = _typed(values.resolve(dict(properties)))
    secrets = account.client("secretsmanager")
    secret_id = resolved["SecretId"]
    try:
        secrets.get_secret_value(SecretId=secret_id)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        secrets.put_secret_value(SecretId=secret_id, SecretString=PLACEHOLDER_SECRET)
        created.placeholders.append(secret_id)
    arguments: dict[str, Any] = {
        "SecretId": secret_id,
        "RotateImmediately": resolved.get("RotateImmediatelyOnUpdate", True),
    }
    if "RotationLambdaARN" in resolved:
        arguments["RotationLambdaARN"] = resolved["RotationLambdaARN"]
    if "RotationRules" in resolved:
        arguments["RotationRules"] = resolved["RotationRules"]
        if "ScheduleExpression" in resolved["RotationRules"]:
            created.notes.append(f"{logical_id}: moto keeps the rotation function but drops RotationRules."
                                 f"ScheduleExpression ({resolved['RotationRules']['ScheduleExpression']})")
    secrets.rotate_secret(**arguments)
    created.rotations[logical_id] = secret_id
    return []


HANDLERS: dict[str, Callable[[Account, StackValues, str, str, Mapping[str, Any], Created], list[Finding]]] = {
    "AWS::CloudWatch::Alarm": create_alarm,
    "AWS::SecretsManager::RotationSchedule": create_rotation,
}


def remove(account: Account, created: Created) -> None:
    """Undo what create_* did: delete the alarms, cancel the rotations."""
    names = list(created.alarms.values())
    for i in range(0, len(names), 100):
        account.client("cloudwatch").delete_alarms(AlarmNames=names[i:i + 100])
    for secret_id in created.rotations.values():
        account.client("secretsmanager").cancel_rotate_secret(SecretId=secret_id)
