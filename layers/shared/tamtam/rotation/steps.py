"""The four steps, each behind the staging-label guard (`labels.has_work`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tamtam.observability import logger
from tamtam.rotation import labels
from tamtam.rotation.labels import CURRENT, PENDING, PREVIOUS, RotationError, SecretVersions
from tamtam.rotation.rotators import rotator_for


def provider_of(versions: SecretVersions, provider_secrets: Mapping[str, str]) -> str:
    """The provider whose secret this is: PROVIDER_SECRETS (provider -> ARN or name), inverted."""
    for provider, secret_id in provider_secrets.items():
        if secret_id in (versions.arn, versions.name):
            return provider
    raise RotationError(f"{versions.name} is not a provider secret (PROVIDER_SECRETS)")


def create_step(sm: Any, versions: SecretVersions, provider: str, token: str) -> None:
    """The pending version, written once: a second call finds it and does nothing (PasseInfo
    must never renew twice: the key stored as pending would die with the second renewal)."""
    if labels.read(sm, versions.arn, stage=PENDING, version_id=token) is not None:
        logger.info("pending version already stored")
        return
    current = labels.read(sm, versions.arn, stage=CURRENT)
    if current is None:
        raise RotationError(f"{versions.name} has no current value: put the provider's credentials first")
    value = rotator_for(provider).new_value(current)
    try:
        labels.put_pending(sm, versions.arn, token, value)
    except Exception:
        if value != current:
            # The provider already holds credentials that are stored nowhere (docs/secrets.md).
            logger.critical(
                "new credentials issued but not stored: set the secret by hand", extra={"provider": provider}
            )
        raise
    logger.info("pending version stored")


def set_step(sm: Any, versions: SecretVersions, provider: str, token: str) -> None:
    """Nothing to set: the provider already holds the new credentials (renewed key, issued
    token) or nothing changed (a re-check). Only the pending value must exist."""
    if labels.read(sm, versions.arn, stage=PENDING, version_id=token) is None:
        raise RotationError(f"version {token} of {versions.name} has no value: createSecret did not run")


def test_step(sm: Any, versions: SecretVersions, provider: str, token: str) -> None:
    """One authenticated call with the pending version only; any refusal raises."""
    pending = labels.read(sm, versions.arn, stage=PENDING, version_id=token)
    if pending is None:
        raise RotationError(f"version {token} of {versions.name} has no value: createSecret did not run")
    rotator_for(provider).test(pending)
    logger.info("pending version works")


def finish_step(sm: Any, versions: SecretVersions, provider: str, token: str) -> None:
    """AWSCURRENT moves to the token's version, then what it replaced is retired. Run again
    after it moved, it only retires again (harmless), from the AWSPREVIOUS version."""
    current = versions.holding(CURRENT)
    replaced_id = versions.holding(PREVIOUS) if current == token else current
    new = labels.read(sm, versions.arn, version_id=token)
    if new is None:
        raise RotationError(f"version {token} of {versions.name} has no value")
    previous = labels.read(sm, versions.arn, version_id=replaced_id) if replaced_id else None
    labels.make_current(sm, versions, token)
    rotator_for(provider).replaced(new, previous)
    logger.info("rotation finished")


Step = Callable[[Any, SecretVersions, str, str], None]
STEPS: dict[str, Step] = {
    "createSecret": create_step,
    "setSecret": set_step,
    "testSecret": test_step,
    "finishSecret": finish_step,
}


def rotate(step: str, secret_id: str, token: str, *, sm: Any, provider_secrets: Mapping[str, str]) -> None:
    """Run one rotation step for the secret `secret_id` (ARN or name) and version `token`."""
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {step!r}")
    versions = labels.describe(sm, secret_id)
    provider = provider_of(versions, provider_secrets)
    logger.append_keys(provider=provider, step=step, version_id=token)
    try:
        if not labels.has_work(versions, token) and step != "finishSecret":
            logger.info("version already current: nothing to do")
            return
        STEPS[step](sm, versions, provider, token)
    finally:
        logger.remove_keys(["provider", "step", "version_id"])  # the Logger is shared
