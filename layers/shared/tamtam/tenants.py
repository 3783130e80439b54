"""Tenants and their API keys. A key is shown once, at creation; only its SHA-256 is stored
(keys are 256-bit random, so a fast hash is enough: there is nothing to brute-force)."""

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
class NewTenant:
    tenant_id: str
    name: str
    api_key: str  # plain, returned once, never stored


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_tenant(name: str, table: Any | None = None, *, api_key: str | None = None) -> NewTenant:
    """Create a tenant and its first key. `api_key` is for the local stack's fixed demo key
    only; real tenants get a fresh random one."""
    table = table or aws.table(get_settings().table_name)
    tenant_id = new_id("ten")
    if api_key is not None and (not api_key.startswith(KEY_PREFIX) or len(api_key) < 24):
        raise ValueError("an explicit key must start with tt_ and be at least 24 characters")
    api_key = api_key or KEY_PREFIX + secrets.token_urlsafe(32)
    at = clock.iso()
    client = table.meta.client
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table.name,
                    "Item": {"pk": f"TENANT#{tenant_id}", "sk": "TENANT", "name": name, "created_at": at},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": table.name,
                    "Item": {
                        "pk": f"KEY#{hash_key(api_key)}",
                        "sk": "KEY",
                        "tenant_id": tenant_id,
                        "created_at": at,
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    return NewTenant(tenant_id=tenant_id, name=name, api_key=api_key)


def tenant_for_key(table: Any, api_key: str) -> str | None:
    """The tenant id that owns `api_key`, or None."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 128:
        return None
    item = table.get_item(Key={"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY"}).get("Item")
    if not item or item.get("revoked"):
        return None
    return str(item["tenant_id"])
