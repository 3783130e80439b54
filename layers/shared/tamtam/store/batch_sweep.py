"""What the sweeper (tamtam.bulk.sweep) reads and writes of open batches: the open-batch index
(gsi1 `BATCHES#open`), the batch's `sweep_mark` (its counters as the previous pass saw them),
its records by status (gsi2 `BATCH#<id>`, sort key `<status>#<id>`, keys only: the records
themselves are then read) and the counters set to a recount, conditional on the counters read."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from tamtam.status import Status
from tamtam.store import batches
from tamtam.store.batches import BatchItem

_SWEEP_MARK = "sweep_mark"


def open_batches(table: Any, *, limit: int) -> list[BatchItem]:
    """Up to `limit` open batches (one eventually consistent page of the index)."""
    answer = table.query(IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk",
                         ExpressionAttributeValues={":pk": batches.OPEN_INDEX}, Limit=limit)
    return [BatchItem.from_item(item) for item in answer.get("Items", [])]


def sweep_mark(table: Any, batch_id: str) -> str | None:
    """The mark the previous pass left on the batch; None when there is none."""
    item = table.get_item(Key=batches.batch_key(batch_id), ProjectionExpression=_SWEEP_MARK).get("Item") or {}
    return item.get(_SWEEP_MARK)


def set_sweep_mark(table: Any, batch_id: str, mark: str) -> None:
    table.update_item(Key=batches.batch_key(batch_id), UpdateExpression=f"SET {_SWEEP_MARK} = :m",
                      ExpressionAttributeValues={":m": mark})


def _gsi2(table: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every entry of a gsi2 query, page after page."""
    while True:
        answer = table.query(IndexName="gsi2", **kwargs)
        yield from answer.get("Items", [])
        if "LastEvaluatedKey" not in answer:
            return
        kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


_READ_AT_ONCE = 100  # records read per BatchGetItem (the index holds keys only)
_FIELDS = {"#s": "status", "#u": "updated_at", "#i": "id", "#t": "tenant_id", "#p": "provider"}


def _records(table: Any, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Status, `updated_at`, id, tenant and provider of the records of gsi2 entries, read from
    the records themselves (consistent), a hundred at a time."""
    part: list[dict[str, str]] = []
    for entry in entries:
        part.append({"pk": entry["pk"], "sk": entry["sk"]})
        if len(part) == _READ_AT_ONCE:
            yield from batches.get_many(table, part, ", ".join(_FIELDS), _FIELDS)
            part = []
    if part:
        yield from batches.get_many(table, part, ", ".join(_FIELDS), _FIELDS)


def record_statuses(table: Any, batch_id: str) -> Iterator[tuple[str, str]]:
    """(status, `updated_at`) of every record of the batch."""
    entries = _gsi2(table, KeyConditionExpression="gsi2pk = :pk",
                    ExpressionAttributeValues={":pk": batches.batch_index_pk(batch_id)})
    for item in _records(table, entries):
        yield str(item["status"]), str(item.get("updated_at", ""))


def records_in(table: Any, batch_id: str, statuses: Iterable[Status]) -> list[dict[str, Any]]:
    """`id`, `tenant_id` and `provider` of the batch's records in `statuses`, status by status
    (as the records say when they are read)."""
    out: list[dict[str, Any]] = []
    for status in statuses:
        entries = _gsi2(table, KeyConditionExpression="gsi2pk = :pk AND begins_with(gsi2sk, :st)",
                        ExpressionAttributeValues={":pk": batches.batch_index_pk(batch_id), ":st": f"{status.value}#"})
        out += [{k: item.get(k) for k in ("id", "tenant_id", "provider")}
                for item in _records(table, entries) if item.get("status") == status.value]
    return out


def set_counts(table: Any, batch: BatchItem, counted: Mapping[str, int]) -> bool:
    """The batch's counters := `counted`, if they are still what `batch` holds (a counter
    `batch` does not have must still be absent); False when one changed meanwhile."""
    statuses = sorted(set(counted) | {s for s, n in batch.counts.items() if n})
    names, values, sets, conditions = {}, {}, [], []
    for i, status in enumerate(statuses):
        names[f"#c{i}"] = f"count_{status}"
        values[f":n{i}"] = counted.get(status, 0)
        sets.append(f"#c{i} = :n{i}")
        seen = batch.counts.get(status)
        if seen is None:
            conditions.append(f"attribute_not_exists(#c{i})")
        else:
            values[f":o{i}"] = seen
            conditions.append(f"#c{i} = :o{i}")
    try:
        table.update_item(Key=batches.batch_key(batch.id), UpdateExpression="SET " + ", ".join(sets),
                          ConditionExpression=" AND ".join(conditions) or "attribute_exists(pk)",
                          ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
