"""Idempotency keys on the one table (Powertools idempotency, DynamoDB persistence layer).

`run_once(fn, tenant_id=, scope=, key=, payload=)` runs `fn` once per (tenant, scope, key) and
keeps its JSON answer for 24 h; a retry with the same key gets that answer again. The record:
pk `IDEMPOTENCY#<tenant>` (so two tenants may use the same key, and each tenant's keys are one
partition, not the whole table's), sk `<scope>#<sha256 of the key>`, TTL on `expires_at`.
`payload` (what the key was used for) is hashed beside it: the same key with another payload is
refused (`KeyReused`), and a key whose first call is still running is refused (`InFlight`).
A call that raises leaves no record: the caller may retry it with the same key.

The records and Powertools' persistence layer that keeps them: tamtam.store.idempotency_records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tamtam import aws
from tamtam.errors import Conflict, InvalidRequest
from tamtam.settings import get_settings
from tamtam.store import idempotency_records

EXPIRY_SECONDS = 24 * 3600


class KeyReused(InvalidRequest):
    code = "idempotency_key_reused"


class InFlight(Conflict):
    code = "request_in_flight"


def run_once(
    fn: Callable[[], Any],
    *,
    tenant_id: str,
    scope: str,
    key: str,
    payload: Any,
    field: str | None = None,
    lambda_context: Any = None,
) -> Any:
    """`fn()`'s answer (JSON-serialisable), computed once per (tenant, scope, key).

    `lambda_context` bounds how long an interrupted first call blocks the key (until that
    invocation's deadline, not the 24 h expiry). `field` names the key in the errors."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function  # noqa: PLC0415
    from aws_lambda_powertools.utilities.idempotency.exceptions import (  # noqa: PLC0415
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=EXPIRY_SECONDS,
        hash_function="sha256",
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    def once(request: dict[str, Any]) -> Any:
        return fn()

    # Applied by hand rather than as `@idempotent_function(...)`: Powertools types the
    # decorator's result as Any, and mypy refuses an untyped decorator on a typed function.
    idempotent_once: Callable[..., Any] = idempotent_function(
        data_keyword_argument="request",
        persistence_store=idempotency_records.persistence(get_settings().table_name, tenant_id, aws.client("dynamodb")),
        config=config,
        key_prefix=scope,
    )(once)

    try:
        return idempotent_once(request={"key": key, "payload": payload})
    except IdempotencyAlreadyInProgressError:
        raise InFlight("a request with this idempotency key is still in progress; retry later", field=field) from None
    except IdempotencyValidationError:
        raise KeyReused("this idempotency key was used for another request", field=field) from None


def reset_cache() -> None:
    """For tests that switch tables or endpoints."""
    idempotency_records.persistence.cache_clear()
