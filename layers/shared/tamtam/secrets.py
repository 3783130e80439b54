"""Provider credentials from Secrets Manager, cached per warm Lambda (Powertools parameters),
with a forced refetch after an auth failure and, while a rotation is in flight, a read of the
AWSPENDING version. Values never reach a log line."""

from __future__ import annotations

from typing import Any

from tamtam.settings import get_settings

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"


class SecretUnavailable(LookupError):
    """The secret has no readable JSON object under the staging label asked for (no version
    holds AWSPENDING, or it holds an empty or broken one)."""


def provider_secret(provider: str, *, force: bool = False, stage: str = CURRENT) -> dict[str, Any]:
    """The provider's secret JSON. AWSCURRENT is cached for `secret_max_age_seconds`;
    any other stage is always fetched and never cached (Powertools keys its cache by name
    only, so it must not replace the cached current value)."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415  (only senders pay)

    secret_id = get_settings().provider_secrets.get(provider)
    if not secret_id:
        raise KeyError(f"no secret configured for provider {provider!r}")
    max_age = get_settings().secret_max_age_seconds
    if stage == CURRENT:
        # The stage is explicit: a read without one may still see the previous version right
        # after a rotation moved AWSCURRENT (moto does; the API contract does not promise).
        value: object = parameters.get_secret(
            secret_id, transform="json", max_age=max_age, force_fetch=force, VersionStage=stage
        )
    else:
        from aws_lambda_powertools.utilities.parameters.exceptions import (  # noqa: PLC0415
            GetParameterError,
            TransformParameterError,
        )

        from tamtam import aws  # noqa: PLC0415

        reader = parameters.SecretsProvider(boto3_client=aws.client("secretsmanager"))
        try:
            value = reader.get(secret_id, transform="json", max_age=max_age, force_fetch=True, VersionStage=stage)
        except (GetParameterError, TransformParameterError) as exc:
            raise SecretUnavailable(f"the secret of {provider!r} has no readable {stage} version") from exc
    if not isinstance(value, dict):
        raise ValueError(f"the secret of {provider!r} is not a JSON object")
    return value
