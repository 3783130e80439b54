"""Secrets Manager plumbing of a rotation: the versions and their staging labels, reads by
label or version, the pending version written once, AWSCURRENT moved. Values never reach a
log line or an error message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"


class RotationError(Exception):
    """The rotation cannot go on. The function fails, Secrets Manager retries the step, and the
    rotation function's error alarm fires."""


@dataclass(frozen=True)
class SecretVersions:
    arn: str
    name: str
    rotation_enabled: bool
    stages: dict[str, list[str]]  # version id -> its staging labels

    def holding(self, label: str) -> str | None:
        """The id of the version carrying `label`, if any."""
        return next((version for version, labels in self.stages.items() if label in labels), None)


def describe(sm: Any, secret_id: str) -> SecretVersions:
    metadata = sm.describe_secret(SecretId=secret_id)
    return SecretVersions(
        arn=metadata["ARN"],
        name=metadata["Name"],
        rotation_enabled=bool(metadata.get("RotationEnabled")),
        stages={k: list(v) for k, v in (metadata.get("VersionIdsToStages") or {}).items()},
    )


def has_work(versions: SecretVersions, token: str) -> bool:
    """The guard of every step: False when the token's version is already AWSCURRENT (the
    rotation finished); True when it is AWSPENDING; RotationError otherwise."""
    if not versions.rotation_enabled:
        raise RotationError(f"rotation is not enabled on {versions.name}")
    if token not in versions.stages:
        raise RotationError(f"version {token} of {versions.name} has no stage for rotation")
    if CURRENT in versions.stages[token]:
        return False
    if PENDING not in versions.stages[token]:
        raise RotationError(f"version {token} of {versions.name} is not AWSPENDING")
    return True


def read(sm: Any, arn: str, *, stage: str | None = None, version_id: str | None = None) -> dict[str, Any] | None:
    """The JSON object of one version (by label and/or id), or None when it has no value."""
    arguments = {"SecretId": arn}
    if stage:
        arguments["VersionStage"] = stage
    if version_id:
        arguments["VersionId"] = version_id
    try:
        answer = sm.get_secret_value(**arguments)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise
    try:
        value = json.loads(answer.get("SecretString") or "")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RotationError(f"version {answer.get('VersionId')} of {arn} is not a JSON object") from None
    return value


def put_pending(sm: Any, arn: str, token: str, value: dict[str, Any]) -> None:
    """Store `value` as the token's version, labelled AWSPENDING."""
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(value), VersionStages=[PENDING])


def make_current(sm: Any, versions: SecretVersions, token: str) -> None:
    """Move AWSCURRENT to the token's version (Secrets Manager moves AWSPREVIOUS along), then
    take AWSPENDING off it: no version is pending once a rotation is over, so senders never try
    a stale one, and a value put by hand later cannot look like a rotation in progress."""
    current = versions.holding(CURRENT)
    if current != token:
        arguments = {"SecretId": versions.arn, "VersionStage": CURRENT, "MoveToVersionId": token}
        if current is not None:
            arguments["RemoveFromVersionId"] = current
        sm.update_secret_version_stage(**arguments)
    if PENDING in versions.stages.get(token, []):
        sm.update_secret_version_stage(SecretId=versions.arn, VersionStage=PENDING, RemoveFromVersionId=token)
