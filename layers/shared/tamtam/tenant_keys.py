"""The operator's operations on tenant keys: create, list, rotate, revoke, and adopting the keys
made before keys had ids. Called by the tenant_admin function (the operator API, guarded by IAM)
and by `make tenant-key`; the items are described in tamtam.tenants.

- create: a new named key of the tenant (its usage-plan key copied onto it); the value is
  returned once and only its hash is stored.
- rotate: a new key under the same name; the old one keeps working until the end of its grace
  period (`expires_at`), then the authorizer refuses it and the table's TTL removes its items.
- revoke: `revoked_at` on the key: the authorizer refuses it from then on, and API Gateway's
  cached decision for it lasts at most the authorizer's ReauthorizeEvery (60 s).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tamtam import clock
from tamtam.errors import Conflict, InvalidRequest, NotFound
from tamtam.ids import new_id
from tamtam.store import tenant_keys as key_store
from tamtam.store import tenants as tenant_items
from tamtam.tenants import FIRST_KEY_NAME, key_items, new_key_value, usable

DEFAULT_GRACE_SECONDS = 24 * 3600  # a rotated key's old value keeps working one day by default
MAX_GRACE_SECONDS = 30 * 24 * 3600
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")
_TENANT_ID = re.compile(r"ten_[0-9a-z]{1,64}")
_KEY_ID = re.compile(r"key_[0-9a-z]{1,64}")
_USAGE = ("usage_key", "usage_key_id")


@dataclass(frozen=True)
class KeyView:
    """A key as the operator sees it: never its value, never its hash."""

    key_id: str
    name: str
    prefix: str | None  # None: a key adopted from before prefixes were kept
    status: str  # active | expiring (rotated, in its grace period) | expired | revoked
    created_at: str
    last_used_at: str | None = None
    expires_at: str | None = None  # end of the grace period of a rotated key
    revoked_at: str | None = None
    rotated_from: str | None = None
    replaced_by: str | None = None


@dataclass(frozen=True)
class NewKey:
    key: KeyView
    api_key: str  # plain, returned once, never stored


@dataclass(frozen=True)
class Rotation:
    key: NewKey  # the replacement
    previous: KeyView  # the rotated key, now `expiring`


def view(item: dict[str, Any], now: float) -> KeyView:
    expires = item.get("expires_at")
    if item.get("revoked_at") or item.get("revoked"):
        status = "revoked"
    elif expires is not None:
        status = "expiring" if usable(item, now) else "expired"
    else:
        status = "active"
    return KeyView(
        key_id=str(item["key_id"]), name=str(item.get("name") or FIRST_KEY_NAME), prefix=item.get("prefix"),
        status=status, created_at=str(item["created_at"]), last_used_at=item.get("last_used_at"),
        expires_at=clock.iso(float(expires)) if expires is not None else None, revoked_at=item.get("revoked_at"),
        rotated_from=item.get("rotated_from"), replaced_by=item.get("replaced_by"),
    )


def create_key(table: Any, tenant_id: str, name: str, *, now: float | None = None) -> NewKey:
    """A new key named `name` for the tenant."""
    now = clock.now() if now is None else now
    name = _valid_name(name)
    tenant = _tenant(table, tenant_id)
    if not key_store.index(table, tenant_id, limit=1):  # every tenant made since key ids has at least one
        raise Conflict("this tenant's keys predate key ids: adopt them first (make tenant-key ACTION=adopt), "
                       "so that new keys get the tenant's usage-plan key", code="keys_not_adopted", field="tenant_id")
    usage = {k: tenant[k] for k in _USAGE if tenant.get(k)}
    value, key_id = new_key_value(), new_id("key")
    key_item, index_item = key_items(tenant_id, key_id, name, value, clock.iso(now), usage or None)
    if not key_store.create(table, tenant_id, key_item, index_item):
        raise NotFound("no such tenant", field="tenant_id")
    return NewKey(key=view(key_item, now), api_key=value)


def list_keys(table: Any, tenant_id: str, *, now: float | None = None) -> list[KeyView]:
    """Every key of the tenant, oldest first (a rotated key until the TTL removes it)."""
    now = clock.now() if now is None else now
    _tenant(table, tenant_id)
    hashes = [i["key_hash"] for i in key_store.index(table, tenant_id)]
    items = key_store.get_many(table, hashes)
    found = [items[h] for h in hashes if h in items and items[h].get("tenant_id") == tenant_id]
    return [view(i, now) for i in sorted(found, key=lambda i: (str(i["created_at"]), str(i["key_id"])))]


def rotate_key(table: Any, tenant_id: str, key_id: str, grace_seconds: int = DEFAULT_GRACE_SECONDS,
               *, now: float | None = None) -> Rotation:
    """A new key under the old one's name; the old one works `grace_seconds` more."""
    now = clock.now() if now is None else now
    if (
        isinstance(grace_seconds, bool)
        or not isinstance(grace_seconds, int)
        or not 0 <= grace_seconds <= MAX_GRACE_SECONDS
    ):
        raise InvalidRequest(
            f"grace_seconds must be a whole number from 0 to {MAX_GRACE_SECONDS}", field="grace_seconds"
        )
    old = _key(table, tenant_id, key_id)
    if old.get("revoked_at") or old.get("revoked"):
        raise Conflict("the key is revoked: create a new one instead", code="key_revoked", field="key_id")
    if "expires_at" in old:
        raise Conflict(f"the key was already rotated; its replacement is {old.get('replaced_by')}",
                       code="key_rotated", field="key_id")
    value, new_key_id = new_key_value(), new_id("key")
    usage = {k: old[k] for k in _USAGE if old.get(k)}
    key_item, index_item = key_items(tenant_id, new_key_id, str(old.get("name") or FIRST_KEY_NAME), value,
                                     clock.iso(now), usage or None, rotated_from=key_id)
    ends = math.ceil(now + grace_seconds)
    if not key_store.rotate(table, old, tenant_id, key_id, key_item, index_item, ends=ends, replaced_by=new_key_id):
        raise Conflict("the key changed meanwhile: list the keys and try again", code="key_changed", field="key_id")
    previous = view({**old, "expires_at": ends, "replaced_by": new_key_id}, now)
    return Rotation(key=NewKey(key=view(key_item, now), api_key=value), previous=previous)


def revoke_key(table: Any, tenant_id: str, key_id: str, *, now: float | None = None) -> KeyView:
    """Revoke the key (again: no change)."""
    now = clock.now() if now is None else now
    item = _key(table, tenant_id, key_id)
    if item.get("revoked_at"):
        return view(item, now)
    at = clock.iso(now)
    if not key_store.revoke(table, item, tenant_id, key_id, at=at):
        again = _key(table, tenant_id, key_id)
        if again.get("revoked_at"):  # revoked by another call meanwhile
            return view(again, now)
        raise Conflict("the key changed meanwhile: list the keys and try again", code="key_changed", field="key_id")
    return view({**item, "revoked_at": at}, now)


def adopt_legacy_keys(table: Any, *, now: float | None = None) -> tuple[int, int]:
    """Give every key made before key ids an id, the name "default" and an index item, and copy
    its usage-plan key onto its tenant (so that the tenant's new keys get it). A Scan of the
    whole table: run once after deploying key management. Returns (adopted, left): a key is left
    when its tenant item is missing (or another run adopted it meanwhile)."""
    at = clock.iso(now)
    adopted = left = 0
    for item in key_store.legacy_keys(table):
        if key_store.adopt(table, item, key_id=new_id("key"), name=FIRST_KEY_NAME, at=at):
            adopted += 1
        else:
            left += 1
    return adopted, left


# ---- checked input, checked reads --------------------------------------------------------------------


def _valid_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest("name: 1 to 64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit",
                             field="name")
    return name


def _tenant(table: Any, tenant_id: str) -> dict[str, Any]:
    item = None
    if _TENANT_ID.fullmatch(tenant_id):
        item = tenant_items.get_tenant(table, tenant_id, consistent=True)
    if not item:
        raise NotFound("no such tenant", field="tenant_id")
    return item


def _key(table: Any, tenant_id: str, key_id: str) -> dict[str, Any]:
    """The KEY item of the tenant's key `key_id`."""
    _tenant(table, tenant_id)
    index = None
    if _KEY_ID.fullmatch(key_id):
        index = tenant_items.get_index_item(table, tenant_id, key_id)
    item = tenant_items.get_key(table, index["key_hash"], consistent=True) if index else None
    if not item or item.get("tenant_id") != tenant_id:
        raise NotFound("no such key for this tenant", field="key_id")
    return item
