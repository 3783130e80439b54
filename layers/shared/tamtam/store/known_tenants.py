"""Whether a tenant exists: its item `TENANT#<tenant id>` / `TENANT` (tamtam.store.tenants holds
the item's reads and writes). The ingest door asks before it accepts a request, since such a
request names its tenant itself (the API's tenant comes from its key, known to exist)."""

from __future__ import annotations

from typing import Any

from tamtam.store.tenants import tenant_key


def tenant_exists(table: Any, tenant_id: str) -> bool:
    """One GetItem of the key alone (eventually consistent: a tenant is created long before it sends)."""
    return "Item" in table.get_item(Key=tenant_key(tenant_id), ProjectionExpression="pk")
