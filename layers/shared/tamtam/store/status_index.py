"""The status index (gsi1) of messages in a swept status: `gsi1pk = STATUS#sent` (what the status
poller asks the providers about) and `gsi1pk = STATUS#scheduled` (what the scheduler releases),
`gsi1sk = <iso time>#<message id>` (a scheduled message sorts by its due time). The keys are
written by tamtam.store.messages (`index_keys`, `transition`); these are the reads of it."""

from __future__ import annotations

from typing import Any

from tamtam.status import Status

INDEX = "gsi1"
SENT_PK = "STATUS#sent"
SCHEDULED_PK = "STATUS#scheduled"
SWEPT = {Status.SENT: SENT_PK, Status.SCHEDULED: SCHEDULED_PK}  # swept status -> its gsi1pk


def _sent(table: Any, condition: str, values: dict[str, str], limit: int, page: int) -> list[dict[str, Any]]:
    """Up to `limit` index entries of `STATUS#sent` under `condition`, oldest first, read
    `page` at a time (whole records: the index projects every attribute)."""
    items: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while len(items) < limit:
        kwargs: dict[str, Any] = {
            "IndexName": INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": {":pk": SENT_PK, **values},
            "Limit": min(page, limit - len(items)),
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        answer = table.query(**kwargs)
        items += answer.get("Items", [])
        start = answer.get("LastEvaluatedKey")
        if not start:
            break
    return items


def sent_before(table: Any, cutoff: str, *, limit: int, page: int) -> list[dict[str, Any]]:
    """Up to `limit` messages in `sent` since before `cutoff` (an iso time), oldest first."""
    return _sent(table, "gsi1pk = :pk AND gsi1sk < :cutoff", {":cutoff": cutoff}, limit, page)


def sent_after(table: Any, after: str, *, limit: int, page: int) -> list[dict[str, Any]]:
    """Up to `limit` messages in `sent` whose index key sorts after `after`, oldest first."""
    return _sent(table, "gsi1pk = :pk AND gsi1sk > :after", {":after": after}, limit, page)


def scheduled_before(
    table: Any, upper: str, start: dict[str, Any] | None, *, page: int
) -> tuple[list[str], dict[str, Any] | None]:
    """One page (at most `page`) of the ids of scheduled messages whose index key sorts before
    `upper`, earliest due first, from `start` (the previous page's last key); and the key to
    continue from, None after the last page."""
    kwargs: dict[str, Any] = {
        "IndexName": INDEX,
        "KeyConditionExpression": "gsi1pk = :pk AND gsi1sk < :upper",
        "ExpressionAttributeValues": {":pk": SCHEDULED_PK, ":upper": upper},
        "ProjectionExpression": "pk",
        "Limit": page,
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    answer = table.query(**kwargs)
    return [item["pk"].split("#", 1)[1] for item in answer.get("Items", [])], answer.get("LastEvaluatedKey")
