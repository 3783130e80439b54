"""REQUEST authorizer: `Authorization: Bearer <tenant key>` -> the tenant id, passed to the API
as authorizer context, and the tenant's usage-plan key as `usageIdentifierKey` (the API takes
its API keys from the authorizer: per-tenant throttling). Keys are looked up by their SHA-256;
a revoked key, or a rotated one past its grace period, is refused. The key's use is recorded at
most every 15 minutes (tamtam.tenants.record_use). The key itself is never logged.

API Gateway caches each answer per Authorization value for ReauthorizeEvery (template.yaml,
60 s): the bound on how long a revoked key keeps working."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.observability import logger
from tamtam.settings import get_settings
from tamtam.tenants import key_owner, record_use


def _bearer(headers: dict[str, str] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value:
            scheme, _, token = value.strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _api_wide_arn(method_arn: str) -> str:
    """arn:...:api-id/stage/METHOD/path -> arn:...:api-id/stage/*/* (so a cached answer covers
    every route of the tenant)."""
    parts = method_arn.split("/")
    return "/".join([*parts[:2], "*", "*"]) if len(parts) >= 2 else method_arn


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    key = _bearer(event.get("headers"))
    table = aws.table(get_settings().table_name)
    owner = key_owner(table, key) if key else None
    if key is None or owner is None:
        logger.info("request refused: missing, unknown, revoked or expired API key")
        raise Exception("Unauthorized")  # API Gateway's contract for a 401
    record_use(table, key, owner)
    answer: dict[str, Any] = {
        "principalId": owner.tenant_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": _api_wide_arn(event["methodArn"])}
            ],
        },
        "context": {"tenant_id": owner.tenant_id},
    }
    if owner.usage_key:
        answer["usageIdentifierKey"] = owner.usage_key
    return answer
