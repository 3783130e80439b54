"""Last known provider credit balances (pk `PROVIDER#<name>`, sk `BALANCE`), written by the
balance checker and read by `GET /v1/providers`."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


class ProviderBalance(BaseModel):
    provider: str
    balance: float
    read_at: str


def balance_key(provider: str) -> dict[str, str]:
    return {"pk": f"PROVIDER#{provider}", "sk": "BALANCE"}


def put(table: Any, provider: str, balance: float, read_at: str) -> ProviderBalance:
    record = ProviderBalance(provider=provider, balance=balance, read_at=read_at)
    table.put_item(
        Item={**balance_key(provider), "provider": provider, "balance": Decimal(str(balance)), "read_at": read_at}
    )
    return record


def get_many(table: Any, providers: Iterable[str]) -> dict[str, ProviderBalance]:
    """The stored balances of `providers` (absent: never read)."""
    keys = [balance_key(p) for p in providers]
    if not keys:
        return {}
    request: dict[str, Any] = {table.name: {"Keys": keys}}
    found: dict[str, ProviderBalance] = {}
    while request:
        answer = table.meta.client.batch_get_item(RequestItems=request)
        for item in answer.get("Responses", {}).get(table.name, []):
            record = ProviderBalance(provider=item["provider"], balance=float(item["balance"]), read_at=item["read_at"])
            found[record.provider] = record
        request = answer.get("UnprocessedKeys") or {}
    return found
