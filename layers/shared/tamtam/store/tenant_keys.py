"""The operator's reads and writes of tenant keys (tamtam.tenant_keys has the operations; the
items are described in tamtam.store.tenants). Every change of keys is one transaction, refused
as a whole when one of its conditions fails (the transaction functions answer False then)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from tamtam.store.tenants import (
    KEY_ITEM_PREFIX,
    index_item_key,
    key_hash_of,
    key_item_key,
    put_new,
    tenant_key,
    tenant_pk,
)

_BATCH_GET_MAX = 100


def _write(table: Any, writes: list[dict[str, Any]]) -> bool:
    """One transaction; False when one of its conditions refused it (any other cancellation, a
    conflict with another transaction or a throttle, is raised: the call may be retried)."""
    try:
        table.meta.client.transact_write_items(TransactItems=writes)
    except ClientError as exc:
        reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
        if (
            exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"
            and "ConditionalCheckFailed" in reasons
        ):
            return False
        raise
    return True


def index(table: Any, tenant_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The tenant's index items, oldest key id first (the first `limit` of them; consistent)."""
    query = {"TableName": table.name, "ConsistentRead": True,
             "KeyConditionExpression": "pk = :pk AND begins_with(sk, :key)",
             "ExpressionAttributeValues": {":pk": tenant_pk(tenant_id), ":key": KEY_ITEM_PREFIX}}
    if limit:
        items: list[dict[str, Any]] = table.meta.client.query(**query, Limit=limit)["Items"]
        return items
    return [i for page in table.meta.client.get_paginator("query").paginate(**query) for i in page["Items"]]


def get_many(table: Any, key_hashes: list[str]) -> dict[str, dict[str, Any]]:
    """KEY items by key hash (consistent BatchGetItem, 100 keys a call, unprocessed keys asked
    again); a hash with no item is left out."""
    keys = [key_item_key(h) for h in key_hashes]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(keys), _BATCH_GET_MAX):
        request: dict[str, Any] = {table.name: {"Keys": keys[start:start + _BATCH_GET_MAX], "ConsistentRead": True}}
        while request:
            answer = table.meta.client.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table.name, []):
                found[key_hash_of(item)] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


def create(table: Any, tenant_id: str, key_item: dict[str, Any], index_item: dict[str, Any]) -> bool:
    """A new key (its KEY item and index item) of a tenant that still exists; False when the
    tenant is gone (or an item exists)."""
    still_there = {"ConditionCheck": {"TableName": table.name, "Key": tenant_key(tenant_id),
                                      "ConditionExpression": "attribute_exists(pk)"}}
    return _write(table, [put_new(table.name, key_item), put_new(table.name, index_item), still_there])


def rotate(table: Any, old: dict[str, Any], tenant_id: str, key_id: str, key_item: dict[str, Any],
           index_item: dict[str, Any], *, ends: int, replaced_by: str) -> bool:
    """The replacement key (KEY item and index item) written, and the old key `old` (the
    tenant's `key_id`) given `expires_at = ends` and `replaced_by`, if it is neither revoked nor
    rotated yet; False when it changed meanwhile."""
    retire = {"UpdateExpression": "SET expires_at = :end, replaced_by = :new",
              "ExpressionAttributeValues": {":end": ends, ":new": replaced_by}}
    writes = [
        put_new(table.name, key_item), put_new(table.name, index_item),
        {"Update": {"TableName": table.name, "Key": {"pk": old["pk"], "sk": old["sk"]}, **retire,
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at) "
                                           "AND attribute_not_exists(expires_at)"}},
        {"Update": {"TableName": table.name, "Key": index_item_key(tenant_id, key_id), **retire,
                    "ConditionExpression": "attribute_exists(pk)"}},
    ]
    return _write(table, writes)


def revoke(table: Any, item: dict[str, Any], tenant_id: str, key_id: str, *, at: str) -> bool:
    """`revoked_at = at` on the KEY item `item` (the tenant's `key_id`) and its index item, if it
    is not revoked yet; False when it is (or an item is gone)."""
    mark = {"UpdateExpression": "SET revoked_at = :at", "ExpressionAttributeValues": {":at": at}}
    writes = [
        {"Update": {"TableName": table.name, "Key": {"pk": item["pk"], "sk": item["sk"]}, **mark,
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at)"}},
        {"Update": {"TableName": table.name, "Key": index_item_key(tenant_id, key_id), **mark,
                    "ConditionExpression": "attribute_exists(pk)"}},
    ]
    return _write(table, writes)


def legacy_keys(table: Any) -> Iterator[dict[str, Any]]:
    """The KEY items made before key ids (no `key_id`): a consistent Scan of the whole table."""
    pages = table.meta.client.get_paginator("scan").paginate(
        TableName=table.name, ConsistentRead=True,
        FilterExpression="begins_with(pk, :key) AND sk = :sk AND attribute_not_exists(key_id)",
        ExpressionAttributeValues={":key": KEY_ITEM_PREFIX, ":sk": "KEY"},
    )
    return (i for page in pages for i in page["Items"])


def adopt(table: Any, item: dict[str, Any], *, key_id: str, name: str, at: str) -> bool:
    """Give the legacy KEY item `item` the id `key_id` (and `name` unless it has one; a key
    revoked by the old flag gets `revoked_at = at`), write its index item, and copy its
    usage-plan key onto its tenant unless the tenant has one. False when the tenant item is
    missing or another run adopted the key meanwhile."""
    tenant_id = str(item["tenant_id"])
    names = {"#name": "name"}
    sets = ["key_id = :id", "#name = if_not_exists(#name, :name)"]
    values: dict[str, Any] = {":id": key_id, ":name": name}
    if item.get("revoked") and not item.get("revoked_at"):
        sets.append("revoked_at = :at")
        values[":at"] = at
    index_item = {**index_item_key(tenant_id, key_id), "key_hash": key_hash_of(item),
                  "created_at": item.get("created_at") or at}
    writes = [
        {"Update": {"TableName": table.name, "Key": {"pk": item["pk"], "sk": item["sk"]},
                    "UpdateExpression": "SET " + ", ".join(sets), "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values, "ConditionExpression": "attribute_not_exists(key_id)"}},
        put_new(table.name, index_item),
    ]
    tenant = {"TableName": table.name, "Key": tenant_key(tenant_id), "ConditionExpression": "attribute_exists(pk)"}
    if item.get("usage_key"):
        writes.append(
            {
                "Update": {
                    **tenant,
                    "UpdateExpression": (
                        "SET usage_key = if_not_exists(usage_key, :v), usage_key_id = if_not_exists(usage_key_id, :i)"
                    ),
                    "ExpressionAttributeValues": {":v": item["usage_key"], ":i": item.get("usage_key_id") or ""},
                }
            }
        )
    else:
        writes.append({"ConditionCheck": tenant})
    return _write(table, writes)
