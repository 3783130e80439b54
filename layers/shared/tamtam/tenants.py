"""Tenants and their API keys, and what the authorizer asks of them. A key is shown once, at
creation; only its SHA-256 is stored (keys are 256-bit random, so a fast hash is enough: there is
nothing to brute-force). The operator's operations on keys (create, list, rotate, revoke) are in
tamtam.tenant_keys; docs/architecture.md ("Tenant keys") has the whole design.

Items, all in the one table (read and written by tamtam.store.tenants and tamtam.store.tenant_keys):
- `TENANT#<tenant id>` / `TENANT`: name, created_at, the tenant's usage-plan key (`usage_key`,
  `usage_key_id`), its settings (tamtam.tenant_settings).
- `KEY#<sha256 of the key>` / `KEY`: the one item the authorizer reads: tenant_id, key_id, name,
  prefix (the key's first characters, safe to show), created_at, last_used_at, expires_at (end of
  a rotated key's grace period, epoch seconds: also the table's TTL attribute), revoked_at, and a
  copy of the tenant's usage-plan key.
- `TENANT#<tenant id>` / `KEY#<key id>`: the tenant's index of its keys (key_hash, created_at,
  expires_at), so that listing is one Query.

Per-tenant throttling: in AWS each tenant also gets one API Gateway API key in the deployment's
usage plan. Its value (`usage_key`) is no credential: API Gateway takes it only from the
authorizer (ApiKeySourceType AUTHORIZER), which answers it as `usageIdentifierKey` for any of
the tenant's keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tamtam import aws, clock
from tamtam.ids import new_id
from tamtam.observability import logger
from tamtam.settings import get_settings
from tamtam.store import tenants as tenant_items

KEY_PREFIX = "tt_"
SHOWN_CHARS = 11  # "tt_" + 8 characters of the key: enough to tell keys apart, 48 of its 256 bits
FIRST_KEY_NAME = "default"
# The authorizer records a key's use at most this often (a write per key per 15 minutes, not per
# call): `last_used_at` is accurate to this, plus the authorizer's cache period.
LAST_USED_EVERY = 15 * 60


@dataclass(frozen=True)
class TenantKey:
    """A usable key, as the authorizer sees it."""

    tenant_id: str
    usage_key: str | None = None  # the API Gateway key value of the tenant's usage plan
    key_id: str | None = None  # None: a key made before key ids, not yet adopted (tenant_keys)
    last_used_at: str | None = None


@dataclass(frozen=True)
class NewTenant:
    tenant_id: str
    name: str
    api_key: str  # plain, returned once, never stored
    key_id: str = ""


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_key_value() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_items(tenant_id: str, key_id: str, name: str, api_key: str, at: str,
              usage: dict[str, str] | None, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(KEY item, index item) of a new key. `usage`: {"usage_key", "usage_key_id"} or None."""
    key_hash = hash_key(api_key)
    key_item: dict[str, Any] = {
        **tenant_items.key_item_key(key_hash), "tenant_id": tenant_id, "key_id": key_id, "name": name,
        "prefix": api_key[:SHOWN_CHARS], "created_at": at, **(usage or {}), **extra,
    }
    index_item = {**tenant_items.index_item_key(tenant_id, key_id), "key_hash": key_hash, "created_at": at}
    return key_item, index_item


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
    """Create a tenant and its first key (named "default"). `api_key` is for the local stack's
    fixed demo key only; real tenants get a fresh random one. With `usage_plan_id` (the
    template's UsagePlanId output), the tenant also gets an API Gateway key in that plan: its
    throttling, shared by all its keys."""
    table = table or aws.table(get_settings().table_name)
    tenant_id = new_id("ten")
    if api_key is not None and (not api_key.startswith(KEY_PREFIX) or len(api_key) < 24):
        raise ValueError("an explicit key must start with tt_ and be at least 24 characters")
    api_key = api_key or new_key_value()
    at = clock.iso()
    created = _usage_key(aws.client("apigateway"), usage_plan_id, tenant_id, name) if usage_plan_id else None
    usage = {"usage_key": created["value"], "usage_key_id": created["id"]} if created else None
    key_id = new_id("key")
    key_item, index_item = key_items(tenant_id, key_id, FIRST_KEY_NAME, api_key, at, usage)
    tenant_item = {**tenant_items.tenant_key(tenant_id), "name": name, "created_at": at, **(usage or {})}
    try:
        tenant_items.create(table, tenant_item, key_item, index_item)
    except Exception:
        if created and usage_plan_id:  # no tenant: no key of its own in the plan either
            apigateway = aws.client("apigateway")
            apigateway.delete_usage_plan_key(usagePlanId=usage_plan_id, keyId=created["id"])
            apigateway.delete_api_key(apiKey=created["id"])
        raise
    return NewTenant(tenant_id=tenant_id, name=name, api_key=api_key, key_id=key_id)


def usable(item: dict[str, Any], now: float) -> bool:
    """Neither revoked nor past the end of its grace period. (`revoked` is the flag of keys made
    before revoked_at existed.)"""
    if item.get("revoked_at") or item.get("revoked"):
        return False
    return "expires_at" not in item or now < float(item["expires_at"])


def key_owner(table: Any, api_key: str, now: float | None = None) -> TenantKey | None:
    """The tenant that owns `api_key` (and its usage-plan key), or None when the key is unknown,
    revoked or past its grace period."""
    if not api_key.startswith(KEY_PREFIX) or len(api_key) > 128:
        return None
    item = tenant_items.get_key(table, hash_key(api_key))
    if not item or not usable(item, clock.now() if now is None else now):
        return None
    return TenantKey(tenant_id=str(item["tenant_id"]), usage_key=item.get("usage_key"),
                     key_id=item.get("key_id"), last_used_at=item.get("last_used_at"))


def tenant_for_key(table: Any, api_key: str) -> str | None:
    """The tenant id that owns `api_key`, or None."""
    owner = key_owner(table, api_key)
    return owner.tenant_id if owner else None


def record_use(table: Any, api_key: str, owner: TenantKey, now: float | None = None) -> bool:
    """Set the key's `last_used_at` if it is older than LAST_USED_EVERY (True when written).
    Never fails the caller: a key is usable whether or not its use could be recorded."""
    now = clock.now() if now is None else now
    stale = clock.iso(now - LAST_USED_EVERY)
    if owner.last_used_at and owner.last_used_at > stale:
        return False
    try:
        return tenant_items.mark_key_used(table, hash_key(api_key), at=clock.iso(now), stale=stale)
    except ClientError as exc:  # not the condition (that one answers False: another call recorded it first)
        code = exc.response.get("Error", {}).get("Code")
        logger.warning(
            "key use not recorded", extra={"tenant_id": owner.tenant_id, "key_id": owner.key_id, "error": code}
        )
        return False
    except BotoCoreError as exc:
        logger.warning("key use not recorded", extra={"tenant_id": owner.tenant_id, "key_id": owner.key_id,
                                                      "error": type(exc).__name__})
        return False
