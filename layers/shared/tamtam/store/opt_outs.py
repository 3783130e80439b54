"""A tenant's opt-out list: one item per (tenant, number), in the tenant's partition
`OPTOUT#<tenant id>` (docs/architecture.md, "Inbound messages and opt-outs"):

    pk `OPTOUT#<tenant>`  sk `<E.164>`  phone, tenant_id, source (`keyword` | `api`), keyword,
                                        provider, inbound_id, created_at

Written by the webhooks function (a STOP keyword puts, START deletes) and by the api
(PUT/DELETE /v1/opt-outs/{phone}); read by every send path: one GetItem for a single send, and
for a bulk either BatchGetItem of its numbers or one Query of the whole list, whichever reads
less. Every key names the tenant, so no tenant sees or changes another's list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel

from tamtam.store import batches

KEYWORD, API = "keyword", "api"
# A bulk of at most this many numbers reads each one's item (one BatchGetItem, 1 read unit a
# number); a larger one reads the tenant's whole list once (Query, 1 read unit per 4 KB: about 40
# entries), which is cheaper unless the list is much longer than the bulk.
BATCH_GET_MAX = 100


class OptOutItem(BaseModel):
    phone: str
    tenant_id: str
    source: Literal["keyword", "api"]
    keyword: str | None = None  # the inbound text's keyword, as configured (STOP)
    provider: str | None = None  # the provider the keyword came through
    inbound_id: str | None = None  # the inbound message that carried it
    created_at: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> OptOutItem:
        return cls.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})

    def to_item(self) -> dict[str, Any]:
        return {**self.model_dump(exclude_none=True), **key(self.tenant_id, self.phone)}


def partition(tenant_id: str) -> str:
    return f"OPTOUT#{tenant_id}"


def key(tenant_id: str, phone: str) -> dict[str, str]:
    return {"pk": partition(tenant_id), "sk": phone}


def get(table: Any, tenant_id: str, phone: str, *, consistent: bool = False) -> OptOutItem | None:
    item = table.get_item(Key=key(tenant_id, phone), ConsistentRead=consistent).get("Item")
    return OptOutItem.from_item(item) if item else None


def put(table: Any, opt_out: OptOutItem) -> OptOutItem:
    """Put the number on the list; a number already on it keeps its first entry (when and
    how it opted out). Returns the entry the list holds."""
    try:
        table.put_item(Item=opt_out.to_item(), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        existing = get(table, opt_out.tenant_id, opt_out.phone, consistent=True)
        return existing or opt_out
    return opt_out


def delete(table: Any, tenant_id: str, phone: str) -> OptOutItem | None:
    """Take the number off the list: the entry removed, or None when it was not on it."""
    try:
        answer = table.delete_item(Key=key(tenant_id, phone), ConditionExpression="attribute_exists(pk)",
                                   ReturnValues="ALL_OLD")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return OptOutItem.from_item(answer["Attributes"])


def opted_out_among(table: Any, tenant_id: str, numbers: Iterable[str]) -> set[str]:
    """The numbers of `numbers` that are on the tenant's list."""
    wanted = set(numbers)
    if not wanted:
        return set()
    if len(wanted) <= BATCH_GET_MAX:
        keys = [key(tenant_id, n) for n in sorted(wanted)]
        found = batches.get_many(table, keys, "#sk", {"#sk": "sk"})
        return {str(item["sk"]) for item in found} & wanted
    return _whole_list(table, tenant_id) & wanted


def _whole_list(table: Any, tenant_id: str) -> set[str]:
    query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(partition(tenant_id)),
                             "ProjectionExpression": "#sk", "ExpressionAttributeNames": {"#sk": "sk"}}
    out: set[str] = set()
    while True:
        answer = table.query(**query)
        out |= {str(item["sk"]) for item in answer.get("Items", [])}
        if "LastEvaluatedKey" not in answer:
            return out
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
