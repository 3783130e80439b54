"""Message records: create, read, and every status transition as one conditional write.

Each transition appends to `history` (and, for a provider call, to `attempts`) and is
conditional on the statuses it may leave, so two concurrent writers can never both win. What
follows from a transition (its event, the batch counters, the failure metric) is derived from
the table's change stream by the lifecycle function (tamtam.lifecycle), not here: a writer that
dies right after its write loses none of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tamtam import clock
from tamtam.status import Status
from tamtam.store import search, status_index
from tamtam.store.message_item import Attempt, HistoryEntry, MessageItem, message_pk

# Statuses that the status poller and the scheduler sweep through gsi1.
_SWEPT = status_index.SWEPT


def _conditional_failed(exc: ClientError) -> bool:
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


def index_keys(message: MessageItem) -> dict[str, str]:
    """Index attributes of a new record: gsi1 for a swept status (a scheduled message sorts by
    its due time), gsi3 for every message (the tenant's search, tamtam.store.search: never
    written again). A batch's messages are in no index: their ids follow from the batch
    (tamtam.store.batches.message_ids)."""
    keys: dict[str, str] = search.tenant_index_keys(message)
    status = Status(message.status)
    if status in _SWEPT:
        at = message.schedule_at if status == Status.SCHEDULED and message.schedule_at else message.updated_at
        keys.update(gsi1pk=_SWEPT[status], gsi1sk=f"{at}#{message.id}")
    return keys


def put_new(table: Any, message: MessageItem) -> None:
    item = {**message.to_item(), **index_keys(message)}
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")


def get(table: Any, message_id: str, *, consistent: bool = True) -> MessageItem | None:
    answer = table.get_item(Key={"pk": message_pk(message_id), "sk": "MSG"}, ConsistentRead=consistent)
    item = answer.get("Item")
    return MessageItem.from_item(item) if item else None


def transition(
    table: Any,
    message_id: str,
    new_status: Status,
    *,
    expect: set[Status] | frozenset[Status],
    reason: str | None = None,
    provider: str | None = None,
    attempt: Attempt | None = None,
    fields: dict[str, Any] | None = None,
    increment_tries: bool = False,
    expect_provider: str | None = None,
    final: bool = False,
) -> MessageItem | None:
    """Move a message to `new_status` if it is in one of `expect`; None when it was not.
    `final`: the message stays in this status for good (a `sent` that no report will follow),
    so it leaves the status indexes the poller and the scheduler sweep."""
    at = clock.iso()
    names = {"#s": "status", "#h": "history", "#u": "updated_at"}
    values: dict[str, Any] = {
        ":new": new_status.value,
        ":at": at,
        ":h": [HistoryEntry(status=new_status, at=at, reason=reason, provider=provider).model_dump(exclude_none=True)],
    }
    sets = ["#s = :new", "#u = :at", "#h = list_append(#h, :h)"]
    removes: list[str] = []
    if attempt is not None:
        names["#a"] = "attempts"
        values[":a"] = [attempt.model_dump(exclude_none=True)]
        sets.append("#a = list_append(if_not_exists(#a, :empty), :a)")
        values[":empty"] = []
    if reason is not None:
        names["#r"] = "reason"
        values[":r"] = reason
        sets.append("#r = :r")
    if increment_tries:
        names["#t"] = "tries"
        values[":one"] = 1
        values[":zero"] = 0
        sets.append("#t = if_not_exists(#t, :zero) + :one")
    for i, (key, value) in enumerate((fields or {}).items()):
        names[f"#f{i}"] = key
        if value is None:
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = Decimal(str(value)) if isinstance(value, float) else value
            sets.append(f"#f{i} = :f{i}")
    if new_status in _SWEPT and not final:
        due = (fields or {}).get("schedule_at") if new_status == Status.SCHEDULED else None
        names.update({"#g1": "gsi1pk", "#g2": "gsi1sk"})
        values.update({":g1": _SWEPT[new_status], ":g2": f"{due or at}#{message_id}"})
        sets += ["#g1 = :g1", "#g2 = :g2"]
    else:
        names.update({"#g1": "gsi1pk", "#g2": "gsi1sk"})
        removes += ["#g1", "#g2"]
    expect_keys = []
    for i, status in enumerate(sorted(expect)):
        values[f":e{i}"] = status.value
        expect_keys.append(f":e{i}")
    condition = f"#s IN ({', '.join(expect_keys)})"
    if expect_provider is not None:
        names["#p"] = "provider"
        values[":p"] = expect_provider
        condition += " AND #p = :p"
    update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    answer = _update_if(table, message_id, UpdateExpression=update, ConditionExpression=condition,
                        ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
    return MessageItem.from_item(answer["Attributes"]) if answer is not None else None


def _update_if(table: Any, message_id: str, **update: Any) -> dict[str, Any] | None:
    """A conditional UpdateItem of the record; None when its condition failed."""
    try:
        return dict(table.update_item(Key={"pk": message_pk(message_id), "sk": "MSG"}, **update))
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise


# -- the sender's claim (tamtam.messaging.send): writes that leave the status as it is ----------


def _same_claim(claim_at: float | None, names: dict[str, str], values: dict[str, Any]) -> str:
    names["#c"] = "claim_at"
    if claim_at is None:
        return "attribute_not_exists(#c)"
    values[":claim"] = Decimal(str(claim_at))
    return "#c = :claim"


def mark_dispatched(table: Any, message_id: str, *, claim_at: float | None, list_id: str | None = None) -> bool:
    """The dispatch mark, written right before the provider call: `dispatched_at` (and the
    list request's provider id, for a recipient sent in one), conditional on the record being
    `sending` under this sender's own claim (`claim_at`). False when the claim was taken over
    or the record left `sending`: the provider must not be called."""
    names = {"#s": "status", "#d": "dispatched_at"}
    values: dict[str, Any] = {":sending": Status.SENDING.value, ":now": Decimal(str(clock.now()))}
    update = "SET #d = :now"
    if list_id is not None:
        names["#l"] = "list_id"
        values[":l"] = list_id
        update += ", #l = :l"
    condition = "#s = :sending AND " + _same_claim(claim_at, names, values)
    return _update_if(table, message_id, UpdateExpression=update, ConditionExpression=condition,
                      ExpressionAttributeNames=names, ExpressionAttributeValues=values) is not None


def take_over(
    table: Any, message_id: str, *, provider: str, old_claim_at: float | None, dispatched: bool,
    attempt: Attempt | None = None,
) -> MessageItem | None:
    """A stale `sending` claim taken over: a new `claim_at` and one more try, conditional on
    the old claim being unchanged (its `claim_at`, and whether it was dispatched), so that two
    senders never both take it and the first sender's dispatch mark, should it still come,
    fails. `attempt` is appended (a dispatched claim: the provider may have taken it). None
    when anything changed meanwhile."""
    names = {"#s": "status", "#p": "provider", "#d": "dispatched_at", "#t": "tries", "#u": "updated_at"}
    values: dict[str, Any] = {
        ":sending": Status.SENDING.value, ":p": provider, ":now": Decimal(str(clock.now())), ":at": clock.iso(),
        ":one": 1, ":zero": 0,
    }
    condition = "#s = :sending AND #p = :p AND " + _same_claim(old_claim_at, names, values)
    condition += " AND " + ("attribute_exists(#d)" if dispatched else "attribute_not_exists(#d)")
    sets = ["#c = :now", "#u = :at", "#t = if_not_exists(#t, :zero) + :one"]
    if attempt is not None:
        names["#a"] = "attempts"
        values.update({":a": [attempt.model_dump(exclude_none=True)], ":empty": []})
        sets.append("#a = list_append(if_not_exists(#a, :empty), :a)")
    answer = _update_if(table, message_id, UpdateExpression="SET " + ", ".join(sets), ConditionExpression=condition,
                        ExpressionAttributeNames=names, ExpressionAttributeValues=values, ReturnValues="ALL_NEW")
    return MessageItem.from_item(answer["Attributes"]) if answer is not None else None
