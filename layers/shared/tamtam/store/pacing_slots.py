"""Items of the providers' rate-limit slots (tamtam.pacing.slots has the grid and the lanes):

- a period's bucket, pk `RATE#<provider>#<period start>`, sk `RATE`: `c`, the next free slot
  of the period, moved by one conditional UpdateItem per reservation;
- the transactional marker, pk `RATE#<provider>#TX`, sk `RATE`: `seen_at`, when transactional
  traffic was last seen.

Both expire `TTL_SECONDS` after their period (the marker: after it was written)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

TTL_SECONDS = 3600


def bucket_key(provider: str, period_start: int) -> dict[str, str]:
    return {"pk": f"RATE#{provider}#{period_start}", "sk": "RATE"}


def marker_key(provider: str) -> dict[str, str]:
    return {"pk": f"RATE#{provider}#TX", "sk": "RATE"}


def put_marker(table: Any, provider: str, seen_at: int) -> None:
    """Transactional traffic of `provider` seen at `seen_at` (epoch seconds)."""
    table.put_item(Item={**marker_key(provider), "seen_at": seen_at, "expires_at": seen_at + TTL_SECONDS})


def marker_seen_at(table: Any, provider: str) -> float:
    """When transactional traffic of `provider` was last seen (0.0: never, or long ago)."""
    item = table.get_item(Key=marker_key(provider)).get("Item") or {}
    return float(item.get("seen_at", 0))


class Refused(Exception):
    """A bucket update whose condition failed; `counter`: the bucket's `c` as it was (None: no
    counter yet)."""

    def __init__(self, counter: int | None):
        super().__init__(counter)
        self.counter = counter


def _update(table: Any, provider: str, period: int, update: str, condition: str, values: dict[str, Any]) -> int:
    """The counter after the update, or Refused with the counter as it was. The error carries
    the old item in DynamoDB's wire format."""
    try:
        answer = table.update_item(
            Key=bucket_key(provider, period), UpdateExpression=update, ConditionExpression=condition,
            ExpressionAttributeValues={**values, ":exp": period + TTL_SECONDS},
            ReturnValues="UPDATED_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        counter = (exc.response.get("Item") or {}).get("c")
        raise Refused(
            None if counter is None else int(counter["N"] if isinstance(counter, dict) else counter)
        ) from None
    return int(answer["Attributes"]["c"])


def catch_up(table: Any, provider: str, period: int, *, start: int, n: int) -> int:
    """Slots [start, start + n) of the period, when its counter lags behind `start` (or there is
    none yet): the counter becomes start + n, skipping the slots already past. Returns the
    counter; Refused when it had reached `start`."""
    return _update(table, provider, period, "SET c = :c, expires_at = :exp",
                   "attribute_not_exists(c) OR c < :start", {":c": start + n, ":start": start})


def add(table: Any, provider: str, period: int, *, n: int, start: int, most: int) -> int:
    """The next `n` slots of the period, when its counter is at or past `start` and the n slots
    end at or before `most`. Returns the counter (the slots taken end there); Refused otherwise."""
    return _update(table, provider, period, "ADD c :n SET expires_at = :exp",
                   "c >= :start AND c <= :most", {":n": n, ":start": start, ":most": most - n})
