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

from botocore.exceptions import ClientError

from tamtam import clock
from tamtam.errors import Conflict, InvalidRequest, NotFound
from tamtam.ids import new_id
from tamtam.tenants import (
    FIRST_KEY_NAME,
    index_item_key,
    key_item_key,
    key_items,
    new_key_value,
    put_new,
    tenant_item_key,
    usable,
)

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
    if not _index(table, tenant_id, limit=1):  # every tenant made since key ids has at least one
        raise Conflict("this tenant's keys predate key ids: adopt them first (make tenant-key ACTION=adopt), "
                       "so that new keys get the tenant's usage-plan key", code="keys_not_adopted", field="tenant_id")
    usage = {k: tenant[k] for k in _USAGE if tenant.get(k)}
    value, key_id = new_key_value(), new_id("key")
    key_item, index_item = key_items(tenant_id, key_id, name, value, clock.iso(now), usage or None)
    still_there = {"ConditionCheck": {"TableName": table.name, "Key": tenant_item_key(tenant_id),
                                      "ConditionExpression": "attribute_exists(pk)"}}
    if not _write(table, [put_new(table.name, key_item), put_new(table.name, index_item), still_there]):
        raise NotFound("no such tenant", field="tenant_id")
    return NewKey(key=view(key_item, now), api_key=value)


def list_keys(table: Any, tenant_id: str, *, now: float | None = None) -> list[KeyView]:
    """Every key of the tenant, oldest first (a rotated key until the TTL removes it)."""
    now = clock.now() if now is None else now
    _tenant(table, tenant_id)
    hashes = [i["key_hash"] for i in _index(table, tenant_id)]
    items = _get_many(table, [key_item_key(h) for h in hashes])
    found = [items[h] for h in hashes if h in items and items[h].get("tenant_id") == tenant_id]
    return [view(i, now) for i in sorted(found, key=lambda i: (str(i["created_at"]), str(i["key_id"])))]


def rotate_key(table: Any, tenant_id: str, key_id: str, grace_seconds: int = DEFAULT_GRACE_SECONDS,
               *, now: float | None = None) -> Rotation:
    """A new key under the old one's name; the old one works `grace_seconds` more."""
    now = clock.now() if now is None else now
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, int) or not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidRequest(f"grace_seconds must be a whole number from 0 to {MAX_GRACE_SECONDS}", field="grace_seconds")
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
    retire = {"UpdateExpression": "SET expires_at = :end, replaced_by = :new",
              "ExpressionAttributeValues": {":end": ends, ":new": new_key_id}}
    writes = [
        put_new(table.name, key_item), put_new(table.name, index_item),
        {"Update": {"TableName": table.name, "Key": {"pk": old["pk"], "sk": old["sk"]}, **retire,
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at) "
                                           "AND attribute_not_exists(expires_at)"}},
        {"Update": {"TableName": table.name, "Key": index_item_key(tenant_id, key_id), **retire,
                    "ConditionExpression": "attribute_exists(pk)"}},
    ]
    if not _write(table, writes):
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
    mark = {"UpdateExpression": "SET revoked_at = :at", "ExpressionAttributeValues": {":at": at}}
    writes = [
        {"Update": {"TableName": table.name, "Key": {"pk": item["pk"], "sk": item["sk"]}, **mark,
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at)"}},
        {"Update": {"TableName": table.name, "Key": index_item_key(tenant_id, key_id), **mark,
                    "ConditionExpression": "attribute_exists(pk)"}},
    ]
    if not _write(table, writes):
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
    pages = table.meta.client.get_paginator("scan").paginate(
        TableName=table.name, ConsistentRead=True,
        FilterExpression="begins_with(pk, :key) AND sk = :sk AND attribute_not_exists(key_id)",
        ExpressionAttributeValues={":key": "KEY#", ":sk": "KEY"},
    )
    for item in (i for page in pages for i in page["Items"]):
        if _adopt(table, item, at):
            adopted += 1
        else:
            left += 1
    return adopted, left


def _adopt(table: Any, item: dict[str, Any], at: str) -> bool:
    tenant_id, key_id = str(item["tenant_id"]), new_id("key")
    names = {"#name": "name"}
    sets = ["key_id = :id", "#name = if_not_exists(#name, :name)"]
    values: dict[str, Any] = {":id": key_id, ":name": FIRST_KEY_NAME}
    if item.get("revoked") and not item.get("revoked_at"):
        sets.append("revoked_at = :at")
        values[":at"] = at
    index = {**index_item_key(tenant_id, key_id), "key_hash": item["pk"].removeprefix("KEY#"),
             "created_at": item.get("created_at") or at}
    writes = [
        {"Update": {"TableName": table.name, "Key": {"pk": item["pk"], "sk": item["sk"]},
                    "UpdateExpression": "SET " + ", ".join(sets), "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values, "ConditionExpression": "attribute_not_exists(key_id)"}},
        put_new(table.name, index),
    ]
    tenant = {"TableName": table.name, "Key": tenant_item_key(tenant_id), "ConditionExpression": "attribute_exists(pk)"}
    if item.get("usage_key"):
        writes.append({"Update": {
            **tenant,
            "UpdateExpression": "SET usage_key = if_not_exists(usage_key, :v), usage_key_id = if_not_exists(usage_key_id, :i)",
            "ExpressionAttributeValues": {":v": item["usage_key"], ":i": item.get("usage_key_id") or ""},
        }})
    else:
        writes.append({"ConditionCheck": tenant})
    return _write(table, writes)


# ---- reads and writes ---------------------------------------------------------------------------


def _valid_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidRequest("name: 1 to 64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit",
                             field="name")
    return name


def _tenant(table: Any, tenant_id: str) -> dict[str, Any]:
    item = None
    if _TENANT_ID.fullmatch(tenant_id):
        item = table.get_item(Key=tenant_item_key(tenant_id), ConsistentRead=True).get("Item")
    if not item:
        raise NotFound("no such tenant", field="tenant_id")
    return item


def _key(table: Any, tenant_id: str, key_id: str) -> dict[str, Any]:
    """The KEY item of the tenant's key `key_id`."""
    _tenant(table, tenant_id)
    index = None
    if _KEY_ID.fullmatch(key_id):
        index = table.get_item(Key=index_item_key(tenant_id, key_id), ConsistentRead=True).get("Item")
    item = table.get_item(Key=key_item_key(index["key_hash"]), ConsistentRead=True).get("Item") if index else None
    if not item or item.get("tenant_id") != tenant_id:
        raise NotFound("no such key for this tenant", field="key_id")
    return item


def _index(table: Any, tenant_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The tenant's index items (the first `limit` of them)."""
    query = {"TableName": table.name, "ConsistentRead": True,
             "KeyConditionExpression": "pk = :pk AND begins_with(sk, :key)",
             "ExpressionAttributeValues": {":pk": f"TENANT#{tenant_id}", ":key": "KEY#"}}
    if limit:
        return table.meta.client.query(**query, Limit=limit)["Items"]
    return [i for page in table.meta.client.get_paginator("query").paginate(**query) for i in page["Items"]]


def _get_many(table: Any, keys: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """KEY items by key hash (BatchGetItem, 100 keys a call, unprocessed keys asked again)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table.name: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
        while request:
            answer = table.meta.client.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table.name, []):
                found[item["pk"].removeprefix("KEY#")] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


def _write(table: Any, writes: list[dict[str, Any]]) -> bool:
    """One transaction; False when one of its conditions refused it (any other cancellation, a
    conflict with another transaction or a throttle, is raised: the call may be retried)."""
    try:
        table.meta.client.transact_write_items(TransactItems=writes)
    except ClientError as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
            return False
        raise
    return True
