"""Inbound messages: what a tenant's recipients sent back, one item each, in the tenant's
partition, newest first by the time the provider received it (docs/architecture.md, "Inbound
messages and opt-outs"):

    pk `INBOUND#<tenant>`  sk `<received_at>#<inbound id>`  id, tenant_id, provider,
        provider_message_id, from, to, text, channel, received_at, keyword, in_reply_to,
        created_at, expires_at

The inbound id is derived from the provider and the provider's own id of the message
(`inbound_id`), and `received_at` is the provider's timestamp, so a provider's retry of the
same message names the same key: it is stored once (a conditional put).

`GET /v1/inbound` is one Query of the partition: the time range is the key condition on `sk`
(`since` inclusive, `until` exclusive), the sender a FilterExpression on `from`. DynamoDB's
Limit counts items before the filter, so one call reads at most READ_BUDGET items and may
answer a short (even empty) page with a cursor, as the message search does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from tamtam.errors import InvalidRequest
from tamtam.ids import _b32
from tamtam.store import cursors

MAX_LIMIT = 100
READ_BUDGET = 500
RETENTION_SECONDS = 90 * 24 * 3600
_KEY = ("pk", "sk")
_CURSOR_KEYS = {*_KEY, "filters"}


class InboundItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    tenant_id: str
    provider: str
    provider_message_id: str
    from_: str = Field(alias="from")
    to: str | None = None
    text: str
    channel: Literal["sms", "whatsapp"] = "sms"
    received_at: str  # tamtam.clock.iso form: UTC, milliseconds
    keyword: Literal["opt_out", "opt_in"] | None = None
    in_reply_to: str | None = None  # the message this number last got from the tenant through the provider
    created_at: str
    expires_at: int | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> InboundItem:
        return cls.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})

    def to_item(self) -> dict[str, Any]:
        return {**self.model_dump(by_alias=True, exclude_none=True), **key(self.tenant_id, self.received_at, self.id)}


def partition(tenant_id: str) -> str:
    return f"INBOUND#{tenant_id}"


def key(tenant_id: str, received_at: str, inbound_id: str) -> dict[str, str]:
    return {"pk": partition(tenant_id), "sk": f"{received_at}#{inbound_id}"}


def inbound_id(provider: str, provider_message_id: str, received_ms: int) -> str:
    """`inb_` + the time (sortable, like tamtam.ids) + a digest of the provider's id: the same
    provider message always gets the same id."""
    digest = int.from_bytes(hashlib.sha256(f"{provider}:{provider_message_id}".encode()).digest()[:10], "big")
    return f"inb_{_b32(received_ms, 10)}{_b32(digest, 16)}"


def get(table: Any, tenant_id: str, received_at: str, inbound: str) -> InboundItem | None:
    item = table.get_item(Key=key(tenant_id, received_at, inbound), ConsistentRead=True).get("Item")
    return InboundItem.from_item(item) if item else None


def put_once(table: Any, item: InboundItem) -> bool:
    """Store the inbound message; False when it was already stored (a provider's retry)."""
    try:
        table.put_item(Item=item.to_item(), ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


@dataclass(frozen=True)
class Listing:
    tenant_id: str
    sender: str | None = None  # E.164
    since: str | None = None
    until: str | None = None

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(astuple(self)).encode()).hexdigest()[:32]


def moment(value: datetime | None) -> str | None:
    """A query time in the form of `received_at` (UTC, milliseconds)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def find(table: Any, tenant_id: str, *, sender: str | None = None, since: str | None = None,
         until: str | None = None, limit: int = 50, cursor: str | None = None) -> tuple[list[InboundItem], str | None]:
    """A page of the tenant's inbound messages, newest first, and the next page's cursor (None
    at the end; a short page with a cursor only means the read budget was used)."""
    listing = Listing(tenant_id, sender or None, since or None, until or None)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit is 1 to {MAX_LIMIT}", field="limit", code="invalid_value")
    start = _decode(listing, cursor) if cursor else None
    if listing.since and listing.until and listing.since >= listing.until:
        return [], None
    page: list[InboundItem] = []
    budget = READ_BUDGET
    while True:
        ask = min(budget, limit - len(page)) if listing.sender is None else min(budget, max(limit - len(page), 25))
        answer = table.query(**_query(listing, ask, start))
        budget -= ask
        items = answer.get("Items", [])
        room = limit - len(page)
        if len(items) > room:  # only with a filter: more matched than the page holds
            page += [InboundItem.from_item(i) for i in items[:room]]
            return page, _encode(listing, items[room - 1])
        page += [InboundItem.from_item(i) for i in items]
        start = answer.get("LastEvaluatedKey")
        if not start:
            return page, None
        if len(page) >= limit or budget <= 0:
            return page, _encode(listing, start)


def _query(listing: Listing, limit: int, start: dict[str, Any] | None) -> dict[str, Any]:
    names = {"#pk": "pk"}
    values: dict[str, Any] = {":pk": partition(listing.tenant_id)}
    condition = "#pk = :pk"
    if listing.since or listing.until:
        names["#sk"] = "sk"
        if listing.since:
            values[":since"] = listing.since
        if listing.until:
            values[":until"] = listing.until
        if listing.since and listing.until:  # no key equals `until`: each has `#<id>` after the time
            condition += " AND #sk BETWEEN :since AND :until"
        else:
            condition += " AND #sk >= :since" if listing.since else " AND #sk < :until"
    kwargs: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": False, "Limit": limit,
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    if listing.sender:
        names["#from"], values[":from"] = "from", listing.sender
        kwargs["FilterExpression"] = "#from = :from"
    if start:
        kwargs["ExclusiveStartKey"] = start
    return kwargs


def _encode(listing: Listing, item: dict[str, Any]) -> str | None:
    return cursors.encode({"pk": item["pk"], "sk": item["sk"], "filters": listing.fingerprint()})


def _decode(listing: Listing, cursor: str) -> dict[str, str]:
    data = cursors.decode(cursor, _CURSOR_KEYS)
    sort_key = data["sk"]
    if (data["filters"] != listing.fingerprint() or data["pk"] != partition(listing.tenant_id)
            or "#inb_" not in sort_key
            or (listing.since is not None and sort_key < listing.since)
            or (listing.until is not None and sort_key >= listing.until)):
        raise cursors.invalid()
    return {k: data[k] for k in _KEY}
