"""Fixed-window counters (tamtam.limits has the limits that count with them): one item per key
and window, pk `LIMIT#<key>#<window index>`, sk `LIMIT`, attribute `taken`, TTL `expires_at`."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

SK = "LIMIT"


def counter_key(key: str, window: int) -> dict[str, str]:
    return {"pk": f"LIMIT#{key}#{window}", "sk": SK}


def add_within(table: Any, key: str, window: int, *, count: int, room: int, expires_at: int) -> bool:
    """Add `count` to `key`'s counter of window `window` if it holds at most `room` (one
    conditional UpdateItem: concurrent adds never pass it together). False when refused
    (nothing added)."""
    try:
        table.update_item(
            Key=counter_key(key, window),
            UpdateExpression="ADD #n :count SET #e = :ttl",
            ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
            ExpressionAttributeNames={"#n": "taken", "#e": "expires_at"},
            ExpressionAttributeValues={":count": count, ":room": room, ":ttl": expires_at},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False
    return True
