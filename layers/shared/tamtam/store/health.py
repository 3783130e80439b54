"""Items of the providers' circuit breakers (tamtam.health has the breaker), partition
`PROVIDER#<name>`:

- sk `HEALTH`: `open_until` (epoch seconds), `opened_at`: the breaker, open until then;
- sk `WINDOW#<minute index>`: `ok_count`, `fail_count` of that minute's calls, TTL `expires_at`."""

from __future__ import annotations

from typing import Any


def health_key(provider: str) -> dict[str, str]:
    return {"pk": f"PROVIDER#{provider}", "sk": "HEALTH"}


def window_key(provider: str, window: int) -> dict[str, str]:
    return {"pk": f"PROVIDER#{provider}", "sk": f"WINDOW#{window}"}


def open_until(table: Any, provider: str) -> float:
    """Until when the provider's breaker is open (epoch seconds; 0.0: never opened)."""
    item = table.get_item(Key=health_key(provider)).get("Item") or {}
    return float(item.get("open_until", 0))


def open_breaker(table: Any, provider: str, *, until: int, at: str) -> None:
    """Open the provider's breaker until `until` (epoch seconds); `at`: now, an iso time."""
    table.put_item(Item={**health_key(provider), "open_until": until, "opened_at": at})


def add_counts(table: Any, provider: str, window: int, *, ok: int, fail: int, expires_at: int) -> tuple[int, int]:
    """Add `ok` and `fail` calls to the window's counts; the window's totals (ok, failed)."""
    answer = table.update_item(
        Key=window_key(provider, window),
        UpdateExpression="ADD ok_count :ok, fail_count :fail SET expires_at = :exp",
        ExpressionAttributeValues={":ok": ok, ":fail": fail, ":exp": expires_at},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    return int(answer.get("ok_count", 0)), int(answer.get("fail_count", 0))


def window_counts(table: Any, provider: str, windows: range) -> tuple[int, int]:
    """(ok, failed) calls over `windows` (minute indexes; one BatchGetItem, at most 100)."""
    keys = [window_key(provider, w) for w in windows]
    answer = table.meta.client.batch_get_item(RequestItems={table.name: {"Keys": keys}})
    items = answer.get("Responses", {}).get(table.name, [])
    return sum(int(i.get("ok_count", 0)) for i in items), sum(int(i.get("fail_count", 0)) for i in items)
