"""Tenants and their API keys. A key is shown once, at creation; only its SHA-256 is stored
(keys are 256-bit random, so a fast hash is enough: there is nothing to brute-force).

Per-tenant throttling: in AWS each tenant also gets an API Gateway API key in the deployment's
usage plan. Its value (`usage_key` on the KEY item) is no credential: API Gateway takes it only
from the authorizer (ApiKeySourceType AUTHORIZER), which answers it as `usageIdentifierKey`."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from tamtam import aws, clock
from tamtam.ids import new_id
from tamtam.settings import get_settings

KEY_PREFIX = "tt_"


@dataclass(frozen=True)
class TenantKey:
    tenant_id: str
    usage_key: str | None = None  # the API Gateway key value of the tenant's usage plan


@dataclass(frozen=True)
class NewTenant:
    tenant_id: str
    name: str
    api_key: str  # plain, returned once, never stored


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def _usage_key(apigateway: Any, usage_plan_id: str, tenant_id: str, name: str) -> dict[str, str]:
    """An API Gateway key for the tenant, added to the usage plan: {"id", "value"}."""
    key = apigateway.create_api_key(name=f"tenant-{tenant_id}", description=f"tamtam tenant {name}", enabled=True)
    try:
        apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")
    except Exception:
        apigateway.delete_api_key(apiKey=key["id"])
        raise
    return {"id": key["id"], "value": key["value"]}


def create_tenant(
    name: str, table: Any | None = None, *, api_key: str | None = None, usage_plan_id: str | None = None
) -> NewTenant:
    """Create a tenant and its first key. `api_key` is for the local stack's fixed demo key
    only; real tenants get a fresh random one. With `usage_plan_id` (the template's UsagePlanId
    output), the tenant also gets an API Gateway key in that plan: its throttling."""
    table = table or aws.table(get_settings().table_name)
    tenant_id = new_id("ten")
    if api_key is not None and (not api_key.startswith(KEY_PREFIX) or len(api_key) < 24):
        raise ValueError("an explicit key must start with tt_ and be at least 24 characters")
    api_key = api_key or KEY_PREFIX + secrets.token_urlsafe(32)
    at = clock.iso()
    key_item: dict[str, Any] = {"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY", "tenant_id": tenant_id, "created_at": at}
    usage = _usage_key(aws.client("apigateway"), usage_plan_id, tenant_id, name) if usage_plan_id else None
    if usage:
        key_item.update(usage_key=usage["value"], usage_key_id=usage["id"])
    client = table.meta.client
    try:
        _put_tenant(client, table.name, tenant_id, name, at, key_item)
    except Exception:
        if usage and usage_plan_id:  # no tenant: no key of its own in the plan either
            apigateway = aws.client("apigateway")
            apigateway.delete_usage_plan_key(usagePlanId=usage_plan_id, keyId=usage["id"])
            apigateway.delete_api_key(apiKey=usage["id"])
        raise
    return NewTenant(tenant_id=tenant_id, name=name, api_key=api_key)


def _put_tenant(client: Any, table_name: str, tenant_id: str, name: str, at: str, key_item: dict[str, Any]) -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table_name,
                    "Item": {"pk": f"TENANT#{tenant_id}", "sk": "TENANT", "name": name, "created_at": at},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {"Put": {"TableName": table_name, "Item": key_item, "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
    )


def key_owner(table: Any, api_key: str) -> TenantKey | None:
    """The tenant that owns `api_key` (and its usage-plan key), or None."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 128:
        return None
    item = table.get_item(Key={"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY"}).get("Item")
    if not item or item.get("revoked"):
        return None
    return TenantKey(tenant_id=str(item["tenant_id"]), usage_key=item.get("usage_key"))


def tenant_for_key(table: Any, api_key: str) -> str | None:
    """The tenant id that owns `api_key`, or None."""
    owner = key_owner(table, api_key)
    return owner.tenant_id if owner else None
