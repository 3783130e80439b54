"""Batches (pk `BATCH#<id>`, sk `BATCH`): a bulk request, its per-status counters, its fan-out
progress; chunk markers (same pk, sk `CHUNK#<n>`) make each chunk's `written` count once, and
applied markers (sk `APPLIED#<token>`) make each set of counter moves count once.

Counters are `count_<status>` numbers moved with ADD by the lifecycle function, from the table's
change stream (tamtam.lifecycle): a record created adds 1 to its status, a transition -1 / +1.
Each move is one transaction with its applied marker, so a stream batch delivered again moves
nothing twice. The sweeper recounts a batch whose counters disagree with its records.

Done statuses: the gateway has finished with the message (sent, unconfirmed, delivered, failed,
expired, cancelled). A batch is `completed` when all its messages are done; `finished_at` is set
once, by the write that completes it. An open batch is in gsi1 under `BATCHES#open` until then
(what the sweeper walks).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from tamtam import clock
from tamtam.errors import ServiceUnavailable
from tamtam.observability import logger
from tamtam.status import Status
from tamtam.store import cursors
from tamtam.store.message_item import MessageItem, message_pk

DONE = frozenset(
    {Status.SENT, Status.UNCONFIRMED, Status.DELIVERED, Status.FAILED, Status.EXPIRED, Status.CANCELLED}
)
ACCEPTING, OPEN, ABORTED = "accepting", "open", "aborted"
_COUNT = "count_"
_BATCH_GET_MAX = 100
_TRIES = 8
OPEN_INDEX = "BATCHES#open"
_MARKER_DAYS = 3  # an applied marker outlives any redelivery of its stream records (24 h)
_RETRYABLE_CANCEL = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "InternalServerError"}


class BatchItem(BaseModel):
    id: str
    tenant_id: str
    kind: str  # "list": one message per recipient | "group": one message to a provider-side group
    state: str = ACCEPTING  # accepting (chunks being enqueued) | open | aborted (enqueue failed)
    total: int  # messages the batch will hold
    requested: int  # recipients in the request
    duplicates: int = 0
    rejected: int = 0  # refused by the API (the fan-out's refusals are `failed` messages)
    chunks: int = 0
    text: str  # the text, or the template when `template`
    template: bool = False
    sender: str | None = None
    provider: str | None = None
    channel: str = "sms"
    group_provider: str | None = None
    group_id: str | None = None
    schedule_at: str | None = None
    created_at: str
    cancelled_at: str | None = None
    finished_at: str | None = None
    written: int = 0  # messages written by the fan-out so far
    counts: dict[str, int] = Field(default_factory=dict)
    expires_at: int | None = None
    callback_url: str | None = None  # status callbacks of every message (tamtam.callbacks)
    reference: str | None = None  # the tenant's, carried by every message's callbacks

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> BatchItem:
        counts = {k[len(_COUNT):]: int(v) for k, v in item.items() if k.startswith(_COUNT)}
        data = {k: v for k, v in item.items() if not k.startswith((_COUNT, "pk", "sk", "gsi"))}
        for key in ("total", "requested", "duplicates", "rejected", "chunks", "written", "expires_at"):
            if data.get(key) is not None:
                data[key] = int(data[key])
        return cls.model_validate({**data, "counts": counts})

    def to_item(self) -> dict[str, Any]:
        item = self.model_dump(exclude_none=True, exclude={"counts"})
        item.update({f"{_COUNT}{k}": v for k, v in self.counts.items()})
        return {**item, **batch_key(self.id)}

    def done(self) -> int:
        return sum(max(n, 0) for s, n in self.counts.items() if s in DONE)


def batch_index_pk(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


def batch_key(batch_id: str) -> dict[str, str]:
    return {"pk": batch_index_pk(batch_id), "sk": "BATCH"}


def chunk_key(batch_id: str, chunk: int) -> dict[str, str]:
    return {"pk": batch_index_pk(batch_id), "sk": f"CHUNK#{chunk:06d}"}


def _failed_condition(exc: ClientError) -> bool:
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


# --- the batch record ---------------------------------------------------------------------


def put_batch(table: Any, batch: BatchItem) -> None:
    item = {**batch.to_item(), "gsi1pk": OPEN_INDEX, "gsi1sk": f"{batch.created_at}#{batch.id}"}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")


def get_batch(table: Any, batch_id: str, *, consistent: bool = True) -> BatchItem | None:
    item = table.get_item(Key=batch_key(batch_id), ConsistentRead=consistent).get("Item")
    return BatchItem.from_item(item) if item else None


def set_state(table: Any, batch_id: str, state: str) -> None:
    """accepting -> open | aborted (only from accepting). Opening may complete the batch (its
    messages may all be done already); an aborted batch leaves the open batches' index."""
    answer = table.update_item(
        Key=batch_key(batch_id),
        UpdateExpression="SET #st = :new" + (" REMOVE gsi1pk, gsi1sk" if state == ABORTED else ""),
        ConditionExpression="#st = :accepting",
        ExpressionAttributeNames={"#st": "state"},
        ExpressionAttributeValues={":new": state, ":accepting": ACCEPTING},
        ReturnValues="ALL_NEW",
    )
    _maybe_finish(table, answer["Attributes"])


def mark_cancelled(table: Any, batch_id: str) -> BatchItem | None:
    """Set `cancelled_at` once; the batch as it is now (None if it does not exist)."""
    try:
        answer = table.update_item(
            Key=batch_key(batch_id),
            UpdateExpression="SET cancelled_at = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(cancelled_at)",
            ExpressionAttributeValues={":at": clock.iso()},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if not _failed_condition(exc):
            raise
        return get_batch(table, batch_id)
    return BatchItem.from_item(answer["Attributes"])


def _maybe_finish(table: Any, item: Mapping[str, Any]) -> None:
    batch = BatchItem.from_item(item)
    if batch.finished_at or batch.state != OPEN or batch.done() < batch.total:
        return
    try:
        table.update_item(
            Key=batch_key(batch.id),
            UpdateExpression="SET finished_at = :at REMOVE gsi1pk, gsi1sk",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(finished_at)",
            ExpressionAttributeValues={":at": clock.iso()},
        )
    except ClientError as exc:
        if not _failed_condition(exc):
            raise


# --- chunks -------------------------------------------------------------------------------


def chunk_done(table: Any, batch_id: str, chunk: int) -> bool:
    return "Item" in table.get_item(Key=chunk_key(batch_id, chunk), ConsistentRead=True)


def _cancel_codes(exc: ClientError) -> list[str]:
    return [str((r or {}).get("Code") or "None") for r in exc.response.get("CancellationReasons") or []]


def _transact(table: Any, items: list[dict[str, Any]], what: str) -> bool:
    """One transaction whose first item is a marker put (`attribute_not_exists(pk)`): True when
    it applied, False when the marker was already there (applied before). A conflict or a
    throttle is tried again with backoff, then raised; a batch that does not exist is raised."""
    for attempt in range(_TRIES):
        try:
            table.meta.client.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code != "TransactionCanceledException":
                if (
                    code
                    in (
                        "ThrottlingException",
                        "ProvisionedThroughputExceededException",
                        "InternalServerError",
                        "RequestLimitExceeded",
                        "TransactionInProgressException",
                    )
                    and attempt < _TRIES - 1
                ):
                    _backoff(attempt)
                    continue
                raise
            codes = _cancel_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            if any(c in _RETRYABLE_CANCEL for c in codes) and attempt < _TRIES - 1:
                _backoff(attempt)
                continue
            raise ServiceUnavailable(
                f"{what} not written ({', '.join(codes) or code})", code="table_unavailable"
            ) from exc
    raise ServiceUnavailable(f"{what} not written", code="table_unavailable")


def finish_if_done(table: Any, batch_id: str) -> None:
    current = table.get_item(Key=batch_key(batch_id), ConsistentRead=True).get("Item")
    if current:
        _maybe_finish(table, current)


def complete_chunk(table: Any, batch_id: str, chunk: int, size: int) -> bool:
    """Mark the chunk done and add its size to `written`, in one transaction. False when another
    delivery of the same chunk completed it first."""
    marker = {
        **chunk_key(batch_id, chunk),
        "size": size,
        "at": clock.iso(),
        "expires_at": int(clock.now()) + 90 * 86400,
    }
    done = _transact(table, [
        {"Put": {"TableName": table.name, "Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table.name, "Key": batch_key(batch_id), "UpdateExpression": "ADD #w :w",
                    "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeNames": {"#w": "written"},
                    "ExpressionAttributeValues": {":w": size}}},
    ], f"chunk {chunk} of {batch_id}")
    if done:
        finish_if_done(table, batch_id)
    return done


def apply_counts(table: Any, batch_id: str, deltas: Mapping[str, int], token: str) -> bool:
    """ADD the counter moves of one set of changes (`token` names the set: the same set applied
    again moves nothing), then set `finished_at` if that completed the batch. False when the
    set was applied before, or the batch does not exist (anymore)."""
    names, values, adds = {}, {}, []
    for i, (status, n) in enumerate(sorted(deltas.items())):
        if n:
            names[f"#c{i}"], values[f":c{i}"] = f"{_COUNT}{status}", n
            adds.append(f"#c{i} :c{i}")
    if not adds:
        return False
    if get_batch(table, batch_id, consistent=False) is None:
        logger.warning("counts for an unknown batch dropped", extra={"batch_id": batch_id})
        return False
    marker = {"pk": batch_index_pk(batch_id), "sk": f"APPLIED#{token}",
              "expires_at": int(clock.now()) + _MARKER_DAYS * 86400}
    done = _transact(table, [
        {"Put": {"TableName": table.name, "Item": marker, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table.name, "Key": batch_key(batch_id), "UpdateExpression": "ADD " + ", ".join(adds),
                    "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values}},
    ], f"counts of {batch_id}")
    if done:
        finish_if_done(table, batch_id)
    return done


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0) * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)


def get_many(table: Any, keys: list[dict[str, str]], projection: str | None = None,
             names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """BatchGetItem (consistent), 100 keys a call, unprocessed keys retried with backoff; whole
    items unless a projection is given. Items not found are left out."""
    client, found = table.meta.client, []
    for start in range(0, len(keys), _BATCH_GET_MAX):
        request: dict[str, Any] = {"Keys": keys[start : start + _BATCH_GET_MAX], "ConsistentRead": True}
        if projection:
            request.update(ProjectionExpression=projection, ExpressionAttributeNames=names or {})
        for attempt in range(_TRIES):
            answer = client.batch_get_item(RequestItems={table.name: request})
            found += answer.get("Responses", {}).get(table.name, [])
            unprocessed = answer.get("UnprocessedKeys", {}).get(table.name)
            if not unprocessed:
                break
            request = unprocessed
            _backoff(attempt)
        else:
            raise ServiceUnavailable("the table kept refusing reads", code="table_unavailable")
    return found


# --- the messages of a batch: their ids follow from the batch --------------------------------


def message_id_for(batch_id: str, index: int) -> str:
    """Deterministic per batch and request index, so a redelivered chunk rewrites nothing, and
    a batch's messages are found from the batch alone (no index lists them)."""
    return f"msg_{batch_id.removeprefix('bat_')}_{index:06d}"


def group_message_id(batch_id: str) -> str:
    return f"msg_{batch_id.removeprefix('bat_')}_group"


def positions(batch: BatchItem) -> int:
    """How many message ids the batch has (`message_ids`)."""
    return 1 if batch.kind == "group" else batch.requested


def message_ids(batch: BatchItem, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, str]]:
    """(position, message id) of every message the batch may hold, in id order, from `start` to
    `stop` (excluded): a list batch's request indexes (a recipient refused by the API, or a
    repeated number, has no record), a group batch's one message."""
    end = positions(batch) if stop is None else min(stop, positions(batch))
    for position in range(start, end):
        yield position, group_message_id(batch.id) if batch.kind == "group" else message_id_for(batch.id, position)


def records(table: Any, batch: BatchItem, *, start: int = 0, stop: int | None = None, projection: str | None = None,
            names: dict[str, str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position, record) of the batch's messages that exist, in id order from `start` to
    `stop`, read with BatchGetItem a hundred at a time (consistent; whole records unless a
    projection is given, which must name `pk`)."""
    part: list[tuple[int, str]] = []
    for position, message_id in message_ids(batch, start, stop):
        part.append((position, message_id))
        if len(part) == _BATCH_GET_MAX:
            yield from _read_part(table, part, projection, names)
            part = []
    if part:
        yield from _read_part(table, part, projection, names)


def _read_part(table: Any, part: list[tuple[int, str]], projection: str | None,
               names: dict[str, str] | None) -> Iterator[tuple[int, dict[str, Any]]]:
    keys = [{"pk": message_pk(message_id), "sk": "MSG"} for _, message_id in part]
    found = {item["pk"]: item for item in get_many(table, keys, projection, names)}
    for (position, message_id) in part:
        item = found.get(message_pk(message_id))
        if item is not None:
            yield position, item


_CURSOR_KEYS = {"batch_id", "next"}
_EXAMINE_MAX = 1000  # message ids one filtered page reads at most


def decode_cursor(cursor: str, batch: BatchItem) -> int:
    """The position a cursor of this batch's listing goes on from."""
    data = cursors.decode(cursor, _CURSOR_KEYS)
    if data["batch_id"] != batch.id or not data["next"].isdigit() or int(data["next"]) > positions(batch):
        raise cursors.invalid()
    return int(data["next"])


def _cursor(batch: BatchItem, position: int) -> str | None:
    more = position < positions(batch)
    return cursors.encode({"batch_id": batch.id, "next": str(position)}) if more else None


def list_messages(
    table: Any, batch: BatchItem, *, status: str | None = None, limit: int = 100, cursor: str | None = None
) -> tuple[list[MessageItem], str | None]:
    """A page of the batch's messages (by id), and the next page's cursor (None after the last).

    The ids follow from the batch (`message_ids`): no index lists a batch's messages, so
    creating a record and every status change write none. The records are read by id, and a
    `status` filters them as read: such a page reads at most 1,000 ids, so it may hold fewer
    than `limit` messages, even none, and still have a next page."""
    position = decode_cursor(cursor, batch) if cursor else 0
    page: list[MessageItem] = []
    end = min(positions(batch), position + _EXAMINE_MAX)
    while position < end and len(page) < limit:
        # unfiltered, read no more ids than the page still needs (a missing one: read on)
        step = min(end - position, _BATCH_GET_MAX if status else limit - len(page))
        for at, item in records(table, batch, start=position, stop=position + step):
            message = MessageItem.from_item(item)
            if not status or message.status == status:
                page.append(message)
                if len(page) == limit:
                    return page, _cursor(batch, at + 1)
        position += step
    return page, _cursor(batch, position)
