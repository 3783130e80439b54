"""DynamoDB on-demand capacity units of the calls the bench saw, from item sizes.

Pricing rules (on-demand): a write costs one write unit per started KB of the item (the larger
of the item before and after the write), a read one read unit per started 4 KB (half of it when
eventually consistent; a Query or Scan sums the sizes of the items it returns). Each global
secondary index whose key the item carries costs the same again for the write: a put into the
index when the key appears, a delete when it goes, both when it changes, one write when only
its projected attributes change: any attribute for an ALL index, only the included ones for an
INCLUDE or KEYS_ONLY index (a write that changes none of them costs the index nothing). An
index write is sized on the index entry, not the item: the table's and the index's key
attributes and the projected ones (the whole item for an ALL index; "Larger index entries
require additional write capacity units", DynamoDB developer guide, GSI throughput). A
transaction costs twice. A conditional write that
fails still costs the size of the item it checked.

Sizes follow DynamoDB's item size rules on the wire format (`{"S": ...}`, `{"N": ...}`...):
attribute name bytes + value bytes; numbers about one byte per two digits plus one; lists and
maps 3 bytes plus 1 per element. The item before a write is the last one seen for that key (in
a request, or an answer that returned it); when nothing was seen, the write is sized on what
it returned or sent.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_SCALARS = {"S", "N", "B", "BOOL", "NULL"}


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's wire format."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner) * 3 // 4 if isinstance(inner, str) else len(inner)  # base64 on the wire
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"not a DynamoDB attribute value: {value!r}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class TableSchema:
    key: tuple[str, ...]  # hash [, range] attribute names
    indexes: tuple[tuple[str, ...], ...] = ()  # each GSI's key attribute names
    # each GSI's projected non-key attributes; None (or absent): ALL
    projections: tuple[tuple[str, ...] | None, ...] = ()

    def projection(self, index: int) -> tuple[str, ...] | None:
        return self.projections[index] if index < len(self.projections) else None


def _kind(item: dict[str, Any]) -> str:
    """The prefix of an item's partition key, `pk` (MSG, RATE, BATCH...)."""
    value = item.get("pk") or {}
    text = str(next(iter(value.values()), "")) if isinstance(value, dict) and value else ""
    return text.split("#", 1)[0] or "?"


ANY_CHANGE = None  # an ALL index: every write of the item rewrites its entry


@dataclass
class _Known:
    size: int
    index_keys: tuple[tuple[str, ...] | None, ...]  # per GSI: its key values, None when absent
    # per GSI: the projected attributes' values (INCLUDE / KEYS_ONLY), ANY_CHANGE for ALL
    projected: tuple[tuple[str, ...] | None, ...] = ()
    entry_sizes: tuple[int, ...] = ()  # per GSI: the size of the item's entry in it
    kind: str = "?"  # the prefix of the partition key (MSG, RATE, BATCH...)
    index_names: tuple[str, ...] = ()  # per GSI: its name as the breakdown shows it (gsi1...)

    def index_name(self, index: int) -> str:
        return self.index_names[index] if index < len(self.index_names) else f"index {index + 1}"

    def entry_size(self, index: int) -> int:
        return self.entry_sizes[index] if index < len(self.entry_sizes) else self.size


def _entry_changed(before: _Known, after: _Known, index: int) -> bool:
    """Whether a write that keeps an index key rewrites the index entry."""
    old = before.projected[index] if index < len(before.projected) else ANY_CHANGE
    new = after.projected[index] if index < len(after.projected) else ANY_CHANGE
    return old is ANY_CHANGE or new is ANY_CHANGE or old != new


@dataclass
class UnitMeter:
    """Counts write and read units per table; `observe` takes each call's request and answer
    (both wire-format JSON, as sent and received)."""

    schemas: dict[str, TableSchema]
    write: float = 0.0
    read: float = 0.0
    # write units by item kind and where they were written: "MSG table", "MSG gsi2", "RATE table"
    write_by: Counter[str] = field(default_factory=Counter)
    _known: dict[tuple[str, tuple[str, ...]], _Known] = field(default_factory=dict)

    def observe(self, operation: str, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        handler = getattr(self, f"_op_{operation}", None)
        if handler is not None:
            handler(request, answer, error)

    # -- bookkeeping -------------------------------------------------------------------
    def _schema(self, table: str) -> TableSchema | None:
        return self.schemas.get(table)

    def _key_of(self, table: str, item: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        schema = self._schema(table)
        if schema is None or any(k not in item for k in schema.key):
            return None
        return table, tuple(str(next(iter(item[k].values()))) for k in schema.key)

    def _index_keys(self, table: str, item: dict[str, Any]) -> tuple[tuple[str, ...] | None, ...]:
        schema = self._schema(table)
        if schema is None:
            return ()
        out: list[tuple[str, ...] | None] = []
        for attrs in schema.indexes:
            present = all(a in item for a in attrs)
            out.append(tuple(str(next(iter(item[a].values()))) for a in attrs) if present else None)
        return tuple(out)

    def _projected(self, table: str, item: dict[str, Any]) -> tuple[tuple[str, ...] | None, ...]:
        schema = self._schema(table)
        if schema is None:
            return ()
        out: list[tuple[str, ...] | None] = []
        for i in range(len(schema.indexes)):
            attrs = schema.projection(i)
            out.append(ANY_CHANGE if attrs is None else tuple(repr(item.get(a)) for a in attrs))
        return tuple(out)

    def _remember(self, table: str, item: dict[str, Any]) -> _Known | None:
        key = self._key_of(table, item)
        if key is None:
            return None
        known = _Known(item_size(item), self._index_keys(table, item), self._projected(table, item),
                       self._entry_sizes(table, item), _kind(item),
                       self._index_names(table))
        self._known[key] = known
        return known

    def _index_names(self, table: str) -> tuple[str, ...]:
        schema = self._schema(table)
        return tuple(attrs[0].removesuffix("pk") for attrs in schema.indexes) if schema else ()

    def _entry_sizes(self, table: str, item: dict[str, Any]) -> tuple[int, ...]:
        """Per GSI, the size of the item's entry: the whole item for ALL, else the table's and
        the index's keys and the projected attributes."""
        schema = self._schema(table)
        if schema is None:
            return ()
        out = []
        for i, attrs in enumerate(schema.indexes):
            projected = schema.projection(i)
            if projected is None:
                out.append(item_size(item))
            else:
                names = set(schema.key) | set(attrs) | set(projected)
                out.append(item_size({k: v for k, v in item.items() if k in names}))
        return tuple(out)

    def _before(self, table: str, key_item: dict[str, Any]) -> _Known | None:
        key = self._key_of(table, key_item)
        return self._known.get(key) if key else None

    def _forget(self, table: str, key_item: dict[str, Any]) -> None:
        key = self._key_of(table, key_item)
        if key:
            self._known.pop(key, None)

    def _write(self, before: _Known | None, after: _Known | None, factor: int = 1) -> None:
        size = max(before.size if before else 0, after.size if after else 0)
        kind = (after or before).kind if (after or before) else "?"
        self._add(f"{kind} table", write_units(size) * factor)
        for i in range(len((after or before).index_keys) if (after or before) else 0):
            old = before.index_keys[i] if before else None
            new = after.index_keys[i] if after else None
            units = 0
            if old is not None and new is not None and before is not None and after is not None:
                if old != new:
                    units = write_units(before.entry_size(i)) + write_units(after.entry_size(i))
                elif _entry_changed(before, after, i):
                    units = write_units(after.entry_size(i))
            elif new is not None and after is not None:
                units = write_units(after.entry_size(i))
            elif old is not None and before is not None:
                units = write_units(before.entry_size(i))
            if units:
                self._add(f"{kind} {(after or before).index_name(i)}", units * factor)

    def _add(self, where: str, units: float) -> None:
        self.write += units
        self.write_by[where] += units

    def _failed_condition(self, before: _Known | None, answer: dict[str, Any], table: str) -> None:
        old = answer.get("Item")
        size = item_size(old) if old else (before.size if before else 0)
        self._add(f"{before.kind if before else '?'} table (failed condition)", write_units(size))

    # -- writes ------------------------------------------------------------------------
    def _op_PutItem(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        table, item = request["TableName"], request["Item"]
        before = self._before(table, item)
        if error:
            self._failed_condition(before, answer, table)
            return
        self._write(before, self._remember(table, item))

    def _op_UpdateItem(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        table, key = request["TableName"], request["Key"]
        before = self._before(table, key)
        if error:
            self._failed_condition(before, answer, table)
            return
        attributes = answer.get("Attributes")
        if request.get("ReturnValues") == "ALL_NEW" and attributes:
            after = self._remember(table, attributes)
        else:  # the new item is unknown: sized like the old one, or like what was sent
            sent = item_size(key) + item_size(dict(request.get("ExpressionAttributeValues") or {}))
            after = _Known(max(before.size if before else 0, sent), before.index_keys if before else (),
                           self._projected_after_update(table, request, before),
                           before.entry_sizes if before else (), _kind(key), self._index_names(table))
        self._write(before, after)

    def _projected_after_update(self, table: str, request: dict[str, Any],
                                before: _Known | None) -> tuple[tuple[str, ...] | None, ...]:
        """An update whose new item is not returned: its projected attributes are unchanged
        unless the update names one of them."""
        schema = self._schema(table)
        if schema is None or before is None:
            return ()
        named = set((request.get("ExpressionAttributeNames") or {}).values())
        named |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(request.get("UpdateExpression", ""))))
        out = list(before.projected)
        for i in range(len(out)):
            attrs = schema.projection(i)
            if attrs is not None and named & set(attrs):
                out[i] = ("<changed>",)
        return tuple(out)

    def _op_DeleteItem(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        table, key = request["TableName"], request["Key"]
        before = self._before(table, key)
        if error:
            self._failed_condition(before, answer, table)
            return
        self._write(before, None)
        self._forget(table, key)

    def _op_BatchWriteItem(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        if error:
            return
        unprocessed = answer.get("UnprocessedItems") or {}
        for table, requests in request["RequestItems"].items():
            left = len(unprocessed.get(table, []))
            for entry in requests[: len(requests) - left]:  # approximation: the last ones are the unprocessed
                if "PutRequest" in entry:
                    item = entry["PutRequest"]["Item"]
                    self._write(self._before(table, item), self._remember(table, item))
                elif "DeleteRequest" in entry:
                    key = entry["DeleteRequest"]["Key"]
                    self._write(self._before(table, key), None)
                    self._forget(table, key)

    def _op_TransactWriteItems(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        for entry in request["TransactItems"]:
            (kind, body), = entry.items()
            table = body["TableName"]
            key_item = body.get("Item") or body.get("Key") or {}
            before = self._before(table, key_item)
            if error or kind == "ConditionCheck":
                self._add(f"{before.kind if before else '?'} table (transaction check)",
                          2 * write_units(before.size if before else 0))
            elif kind == "Put":
                self._write(before, self._remember(table, body["Item"]), factor=2)
            elif kind == "Delete":
                self._write(before, None, factor=2)
                self._forget(table, key_item)
            else:  # Update: the new item is not returned by a transaction
                self._write(before, before or _Known(item_size(key_item), (), kind=_kind(key_item)), factor=2)

    # -- reads -------------------------------------------------------------------------
    def _op_GetItem(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        item = answer.get("Item")
        if item:
            self._remember(request["TableName"], item)
        self.read += read_units(item_size(item) if item else 0, bool(request.get("ConsistentRead")))

    def _op_BatchGetItem(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        for table, items in (answer.get("Responses") or {}).items():
            consistent = bool(request["RequestItems"].get(table, {}).get("ConsistentRead"))
            for item in items:
                self._remember(table, item)
                self.read += read_units(item_size(item), consistent)
        for table, asked in request.get("RequestItems", {}).items():
            found = len((answer.get("Responses") or {}).get(table, []))
            missing = (
                len(asked.get("Keys", []))
                - found
                - len((answer.get("UnprocessedKeys") or {}).get(table, {}).get("Keys", []))
            )
            self.read += max(0, missing) * read_units(0, bool(asked.get("ConsistentRead")))

    def _op_Query(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        self._scan_like(request, answer)

    def _op_Scan(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        self._scan_like(request, answer)

    def _op_TransactGetItems(self, request: dict[str, Any], answer: dict[str, Any], error: str | None) -> None:
        for response in answer.get("Responses") or []:
            self.read += 2 * read_units(item_size(response.get("Item") or {}), True)

    def _scan_like(self, request: dict[str, Any], answer: dict[str, Any]) -> None:
        items: Iterable[dict[str, Any]] = answer.get("Items") or []
        total = 0
        for item in items:
            total += item_size(item)
            if "IndexName" not in request:
                self._remember(request["TableName"], item)
        consistent = bool(request.get("ConsistentRead")) and "IndexName" not in request
        self.read += read_units(total, consistent)
