"""Where the status poller's last run stopped in the `STATUS#sent` index (pk `POLLER#status`,
sk `CURSOR`, attribute `after`: the gsi1 sort key of the last message it reached)."""

from __future__ import annotations

from typing import Any

from tamtam import clock

KEY = {"pk": "POLLER#status", "sk": "CURSOR"}


def get(table: Any) -> str:
    """The sort key the last run stopped at; "" when there is none (eventually consistent)."""
    return str((table.get_item(Key=KEY).get("Item") or {}).get("after", ""))


def put(table: Any, after: str) -> None:
    """The next run continues after the sort key `after`."""
    table.put_item(Item={**KEY, "after": after, "updated_at": clock.iso()})


def delete(table: Any) -> None:
    """The next run starts over from the oldest message."""
    table.delete_item(Key=KEY)
