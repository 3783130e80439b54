"""Message search (`GET /v1/messages`): a tenant's messages, newest first, filtered by status,
recipient, batch and creation time, a page at a time (docs/architecture.md, "Message search").

The index is gsi3: `gsi3pk = TENANT#<tenant id>`, `gsi3sk = <created_at>#<message id>`,
projecting `to` and `batch_id` only. Its attributes are written with the record
(tamtam.store.messages.index_keys) and none of them ever changes, so a status transition does
not write the index (DynamoDB writes a GSI only when one of its key or projected attributes
changes). Records created before the index existed carry no gsi3 key: they are never found.

One call:
- the time range is the key condition on gsi3sk (`since` inclusive, `until` exclusive);
- recipient and batch filter the index entries (projected attributes);
- the records of the entries that pass are read (BatchGetItem, consistent) and the status is
  checked on the record itself: it is not in the index, because it changes;
- at most READ_BUDGET index entries are read (DynamoDB's Limit counts the entries read, before
  any filter), so a rare filter never walks the whole tenant: the page comes out short (even
  empty) with a cursor, and the caller follows cursors until there is none.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

from tamtam.errors import InvalidRequest
from tamtam.status import Status
from tamtam.store import batches, cursors
from tamtam.store.message_item import MessageItem, message_pk

INDEX = "gsi3"
MAX_LIMIT = 100
READ_BUDGET = 500  # index entries one call may read
_MIN_READ = 25  # index entries asked for at once, at least: a selective filter needs fewer round trips
_KEY = ("pk", "sk", "gsi3pk", "gsi3sk")
_CURSOR_KEYS = {*_KEY, "filters"}
_NAMES = {f"#m{i}": name for i, name in enumerate(MessageItem.model_fields)}
_PROJECTION = ", ".join(_NAMES)
_STATUSES = frozenset(s.value for s in Status)


def tenant_index_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def tenant_index_keys(message: MessageItem) -> dict[str, str]:
    """The gsi3 attributes of a new record: written once, with it, and never again."""
    return {"gsi3pk": tenant_index_pk(message.tenant_id), "gsi3sk": f"{message.created_at}#{message.id}"}


@dataclass(frozen=True)
class Search:
    tenant_id: str
    status: str | None = None
    to: str | None = None
    batch_id: str | None = None
    since: str | None = None  # the format of `created_at` (tamtam.clock.iso)
    until: str | None = None

    def fingerprint(self) -> str:
        """Ties a cursor to the tenant and the filters of the listing that returned it."""
        return hashlib.sha256(json.dumps(astuple(self)).encode()).hexdigest()[:32]

    def matches(self, message: MessageItem) -> bool:
        return (message.tenant_id == self.tenant_id
                and self.status in (None, message.status)
                and self.to in (None, message.to)
                and self.batch_id in (None, message.batch_id))

    def empty_range(self) -> bool:
        return self.since is not None and self.until is not None and self.since >= self.until


def find_messages(
    table: Any, tenant_id: str, *, status: str | None = None, to: str | None = None,
    batch_id: str | None = None, since: str | None = None, until: str | None = None,
    limit: int = 50, cursor: str | None = None,
) -> tuple[list[MessageItem], str | None]:
    """A page of the tenant's messages, newest first, and the next page's cursor (None when
    there is nothing more). A page may be shorter than `limit` (even empty) and still have a
    cursor: the call stopped at its read budget."""
    search = _search(tenant_id, status, to, batch_id, since, until)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit is 1 to {MAX_LIMIT}", field="limit", code="invalid_value")
    start = _decode(search, cursor) if cursor else None
    if search.empty_range():
        return [], None
    page: list[MessageItem] = []
    budget = READ_BUDGET
    while True:
        ask = min(budget, max(limit - len(page), _MIN_READ))
        answer = table.query(**_query(search, ask, start))
        budget -= ask  # with a next key, DynamoDB read `ask` entries (they are far below its 1 MB)
        entries = answer.get("Items", [])
        used = _collect(table, search, entries, page, limit)
        if used < len(entries):  # the page filled before these entries ran out
            return page, _encode(search, entries[used - 1])
        start = answer.get("LastEvaluatedKey")
        if not start:
            return page, None
        if len(page) >= limit or budget <= 0:
            return page, _encode(search, start)


def _search(tenant_id: str, status: str | None, to: str | None, batch_id: str | None,
            since: str | None, until: str | None) -> Search:
    if status and status not in _STATUSES:
        raise InvalidRequest(f"unknown status {status!r}", field="status", code="invalid_value")
    return Search(tenant_id, status or None, to or None, batch_id or None,
                  _moment(since, "since"), _moment(until, "until"))


def _moment(value: str | None, field: str) -> str | None:
    """An ISO 8601 time with a zone, in the format of `created_at` (UTC, milliseconds)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{field} is not an ISO 8601 time", field=field, code="invalid_value") from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{field} needs a time zone (Z for UTC)", field=field, code="invalid_value")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _query(search: Search, limit: int, start: dict[str, Any] | None) -> dict[str, Any]:
    names = {"#pk": "gsi3pk"}
    values: dict[str, Any] = {":pk": tenant_index_pk(search.tenant_id)}
    condition = "#pk = :pk"
    if search.since or search.until:
        names["#sk"] = "gsi3sk"
        condition += " AND " + _time_range(search, values)
    filters = []
    for name, attribute, value in (("#to", "to", search.to), ("#batch", "batch_id", search.batch_id)):
        if value is not None:
            names[name], values[f":{name[1:]}"] = attribute, value
            filters.append(f"{name} = :{name[1:]}")
    kwargs: dict[str, Any] = {"IndexName": INDEX, "KeyConditionExpression": condition, "ScanIndexForward": False,
                              "Limit": limit, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    if filters:
        kwargs["FilterExpression"] = " AND ".join(filters)
    if start:
        kwargs["ExclusiveStartKey"] = start
    return kwargs


def _time_range(search: Search, values: dict[str, Any]) -> str:
    """`since <= created_at < until` on `<created_at>#<id>`. BETWEEN includes its upper bound,
    but no key equals `until`: each has `#<id>` after the time, so `<until>#<id>` sorts above it."""
    if search.since:
        values[":since"] = search.since
    if search.until:
        values[":until"] = search.until
    if search.since and search.until:
        return "#sk BETWEEN :since AND :until"
    return "#sk >= :since" if search.since else "#sk < :until"


def _collect(table: Any, search: Search, entries: list[dict[str, Any]], page: list[MessageItem], limit: int) -> int:
    """Read the records of `entries` in order, as many at a time as the page has room for (no
    record is read that the page cannot take), and add those that match to `page`. Returns how
    many entries were used: all of them, unless the page filled first."""
    used = 0
    while used < len(entries) and len(page) < limit:
        part = entries[used : used + limit - len(page)]
        records = _read(table, part)
        page.extend(m for m in (records.get(e["pk"]) for e in part) if m is not None and search.matches(m))
        used += len(part)
    return used


def _read(table: Any, entries: list[dict[str, Any]]) -> dict[str, MessageItem]:
    """The records of index entries, by pk (a record gone since, by its TTL, is missing)."""
    keys = [{"pk": e["pk"], "sk": e["sk"]} for e in entries]
    found = (MessageItem.from_item(item) for item in batches.get_many(table, keys, _PROJECTION, _NAMES))
    return {message_pk(m.id): m for m in found}


def _encode(search: Search, key: dict[str, Any]) -> str | None:
    return cursors.encode({**{k: key[k] for k in _KEY}, "filters": search.fingerprint()})


def _decode(search: Search, cursor: str) -> dict[str, str]:
    """The start key a cursor holds, if this listing (same tenant, same filters) returned it."""
    data = cursors.decode(cursor, _CURSOR_KEYS)
    message_id = data["pk"].removeprefix("MSG#")
    if (data["filters"] != search.fingerprint() or data["gsi3pk"] != tenant_index_pk(search.tenant_id)
            or data["sk"] != "MSG" or not message_id or data["pk"] != message_pk(message_id)
            or not data["gsi3sk"].endswith(f"#{message_id}") or not _in_range(search, data["gsi3sk"])):
        raise cursors.invalid()
    return {k: data[k] for k in _KEY}


def _in_range(search: Search, sort_key: str) -> bool:
    return (search.since is None or sort_key >= search.since) and (search.until is None or sort_key < search.until)
