"""Provider credentials from Secrets Manager, cached per warm Lambda (Powertools parameters),
with a forced refetch after an auth failure. Values never reach a log line."""

from __future__ import annotations

from typing import Any

from tamtam.settings import get_settings


def provider_secret(provider: str, *, force: bool = False) -> dict[str, Any]:
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415  (only senders pay)

    secret_id = get_settings().provider_secrets.get(provider)
    if not secret_id:
        raise KeyError(f"no secret configured for provider {provider!r}")
    value = parameters.get_secret(
        secret_id, transform="json", max_age=get_settings().secret_max_age_seconds, force_fetch=force
    )
    if not isinstance(value, dict):
        raise ValueError(f"the secret of {provider!r} is not a JSON object")
    return value
