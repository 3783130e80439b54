"""What the sweeper (tamtam.bulk.sweep) reads and writes of open batches: the open-batch index
(gsi1 `BATCHES#open`), the batch's `sweep_mark` (its counters as the previous pass saw them),
its records (read by id: the ids follow from the batch, tamtam.store.batches.message_ids) and the
counters set to a recount, conditional on the counters read."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
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


_FIELDS = {"#s": "status", "#u": "updated_at", "#i": "id", "#t": "tenant_id", "#p": "provider"}


@dataclass
class Census:
    """One read of every record of a batch: how many in each status, the latest `updated_at`,
    and `id`, `tenant_id` and `provider` of those in the statuses asked for."""

    counts: Counter[str] = field(default_factory=Counter)
    latest: str = ""
    waiting: list[dict[str, Any]] = field(default_factory=list)


def census(table: Any, batch: BatchItem, waiting: Iterable[Status]) -> Census:
    """Every record of the batch, read by id once (consistent, a hundred at a time)."""
    wanted = {status.value for status in waiting}
    out = Census()
    for _, item in batches.records(table, batch, projection="pk, " + ", ".join(_FIELDS), names=_FIELDS):
        status = str(item["status"])
        out.counts[status] += 1
        out.latest = max(out.latest, str(item.get("updated_at", "")))
        if status in wanted:
            out.waiting.append({k: item.get(k) for k in ("id", "tenant_id", "provider")})
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
