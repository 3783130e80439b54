"""What Secrets Manager does before it calls a rotation function, for moto (which cannot call
the function): `start_rotation` stages an empty AWSPENDING version for the token. The test
suite and `make invoke` then call the function's four steps themselves."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# No such function exists in moto: RotateSecret stages the pending version, then fails to find
# the function to call. That failure is expected here; the version is what we want.
ROTATION_FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:tamtam-local-rotation"


def start_rotation(sm: Any, secret_id: str, token: str, *, rotation_days: int = 30) -> None:
    """Stage version `token` of the secret as AWSPENDING (no value yet) with rotation enabled,
    as RotateSecret does. A finished rotation leaves AWSPENDING beside AWSCURRENT, which real
    Secrets Manager accepts and moto refuses ("previous rotation in progress"): moto gets it
    removed first."""
    stages = sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {}
    for version, labels in stages.items():
        if "AWSPENDING" in labels and "AWSCURRENT" in labels:
            sm.update_secret_version_stage(SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=version)
    try:
        sm.rotate_secret(
            SecretId=secret_id, ClientRequestToken=token, RotationLambdaARN=ROTATION_FUNCTION_ARN,
            RotationRules={"AutomaticallyAfterDays": rotation_days},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    staged = sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"].get(token, [])
    if "AWSPENDING" not in staged:
        raise RuntimeError(f"moto did not stage version {token} as AWSPENDING: {staged}")


def cancel_rotations(sm: Any, secret_ids: Any) -> None:
    """Take AWSPENDING off every version of these secrets, as an operator ends a rotation that
    will not finish (docs/secrets.md). Tests call it so that a rotation left half-done does not
    reach the next test."""
    for secret_id in secret_ids:
        stages = sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages") or {}
        for version, labels in stages.items():
            if "AWSPENDING" in labels:
                sm.update_secret_version_stage(
                    SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=version
                )


def align_moto_current() -> None:
    """A moto gap, for moto running in this process (the test suite's server): UpdateSecretVersionStage
    moves the AWSCURRENT label but not moto's own idea of the current version, so the next
    PutSecretValue leaves AWSCURRENT on two versions. Re-align moto with the labels (tests call this
    after a rotation, before anything else puts a value)."""
    from moto.secretsmanager.models import secretsmanager_backends

    for _account, _region, backend in secretsmanager_backends.iter_backends():
        for secret in backend.secrets.values():
            versions = getattr(secret, "versions", {}) or {}
            holder = next((vid for vid, v in versions.items() if "AWSCURRENT" in v.get("version_stages", [])), None)
            if holder is not None:
                secret.set_default_version_id(holder)
