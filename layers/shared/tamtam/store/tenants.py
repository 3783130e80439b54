"""Tenant items and key items (their design: tamtam.tenants), and the reads and writes of the
tenant's creation, its settings and the authorizer:

- `TENANT#<tenant id>` / `TENANT`: the tenant (name, usage-plan key, settings);
- `KEY#<sha256 of the key>` / `KEY`: a key, the one item the authorizer reads;
- `TENANT#<tenant id>` / `KEY#<key id>`: the tenant's index of its keys.

The operator's operations on keys are in tamtam.store.tenant_keys."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

KEY_ITEM_PREFIX = "KEY#"  # of a KEY item's pk (then the key's hash) and of an index item's sk (then the key id)


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def tenant_key(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": "TENANT"}


def key_item_key(key_hash: str) -> dict[str, str]:
    return {"pk": f"{KEY_ITEM_PREFIX}{key_hash}", "sk": "KEY"}


def key_hash_of(item: dict[str, Any]) -> str:
    """The key hash of a KEY item."""
    return str(item["pk"]).removeprefix(KEY_ITEM_PREFIX)


def index_item_key(tenant_id: str, key_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"{KEY_ITEM_PREFIX}{key_id}"}


def put_new(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """A transaction's Put that refuses to overwrite."""
    return {"Put": {"TableName": table_name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def create(table: Any, tenant_item: dict[str, Any], key_item: dict[str, Any], index_item: dict[str, Any]) -> None:
    """A new tenant with its first key: one transaction of three Puts, none of which may
    overwrite (TransactionCanceledException when one would)."""
    table.meta.client.transact_write_items(
        TransactItems=[put_new(table.name, tenant_item), put_new(table.name, key_item), put_new(table.name, index_item)]
    )


def _get(table: Any, key: dict[str, str], consistent: bool) -> dict[str, Any] | None:
    """One GetItem; eventually consistent unless `consistent` (DynamoDB's default: no flag sent)."""
    answer: dict[str, Any] = table.get_item(Key=key, ConsistentRead=True) if consistent else table.get_item(Key=key)
    return answer.get("Item")


def get_tenant(table: Any, tenant_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The tenant item; None when there is none."""
    return _get(table, tenant_key(tenant_id), consistent)


def get_key(table: Any, key_hash: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The KEY item of the key with this hash; None when there is none."""
    return _get(table, key_item_key(key_hash), consistent)


def get_index_item(table: Any, tenant_id: str, key_id: str) -> dict[str, Any] | None:
    """The tenant's index item of key `key_id` (consistent read); None when there is none."""
    return _get(table, index_item_key(tenant_id, key_id), True)


def mark_key_used(table: Any, key_hash: str, *, at: str, stale: str) -> bool:
    """`last_used_at` := `at` on an existing key whose last use is missing or older than `stale`
    (iso times). False when it is not (another call recorded it first, or the key is gone);
    any other error is raised."""
    try:
        table.update_item(
            Key=key_item_key(key_hash),
            UpdateExpression="SET last_used_at = :at",
            ConditionExpression=(
                "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :stale)"
            ),
            ExpressionAttributeValues={":at": at, ":stale": stale},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
