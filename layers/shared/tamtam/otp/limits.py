"""Abuse controls on sending codes, in the one table with TTLs:

- per phone number (per tenant): at most `phone_max_sends` in any sliding `phone_window_seconds`
  (a short log of send times, written with an optimistic lock on a version);
- per tenant: at most `tenant_daily_max_sends` per UTC day (an atomic counter under a condition);
- an optional allow-list of country prefixes on the tenant item (`otp_allowed_prefixes`).

A refusal says how long until the limit would let the send through (Retry-After).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tamtam.otp.errors import DestinationNotAllowed, RateLimited
from tamtam.otp.settings import get_otp_settings

DAY = 86400
SK = "OTPLIMIT"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def check_destination(table: Any, tenant_id: str, to: str) -> None:
    item = table.get_item(Key={"pk": f"TENANT#{tenant_id}", "sk": "TENANT"}).get("Item") or {}
    prefixes = [str(p) for p in item.get("otp_allowed_prefixes") or []]
    if prefixes and not any(to.startswith(p) for p in prefixes):
        raise DestinationNotAllowed("one-time codes to this country are not enabled for this account", field="to")


def recent_sends(stamps: list[float], *, now: float, window: int) -> list[float]:
    return sorted(t for t in stamps if t > now - window)


def phone_retry_after(recent: list[float], *, now: float, window: int, limit: int) -> int | None:
    """None when one more send fits; else the seconds until the oldest counted send leaves the window."""
    if len(recent) < limit:
        return None
    return math.ceil(recent[len(recent) - limit] + window - now)


def take_phone(table: Any, tenant_id: str, to: str, *, now: float) -> None:
    settings = get_otp_settings()
    limit, window = settings.phone_max_sends, settings.phone_window_seconds
    if limit == 0:
        return
    key = {"pk": f"OTPLIMIT#PHONE#{tenant_id}#{to}", "sk": SK}
    for _ in range(settings.limit_write_tries):
        item = table.get_item(Key=key, ConsistentRead=True).get("Item")
        recent = recent_sends([float(t) for t in (item or {}).get("sends", [])], now=now, window=window)
        wait = phone_retry_after(recent, now=now, window=window, limit=limit)
        if wait is not None:
            raise RateLimited(
                f"at most {limit} codes to one number in {window // 60} minutes", retry_after=wait,
                code="otp_phone_limit", field="to",
            )
        version = int(item["version"]) if item else 0
        new_item = {**key, "sends": [Decimal(str(t)) for t in [*recent, now]], "version": version + 1,
                    "expires_at": int(now) + window + 1}
        try:
            if item is None:
                table.put_item(Item=new_item, ConditionExpression="attribute_not_exists(pk)")
            else:
                table.put_item(Item=new_item, ConditionExpression="#v = :v",
                               ExpressionAttributeNames={"#v": "version"}, ExpressionAttributeValues={":v": version})
            return
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
    raise RateLimited("too many codes to this number at once", retry_after=1, code="otp_phone_limit", field="to")


def take_tenant_day(table: Any, tenant_id: str, *, now: float) -> None:
    limit = get_otp_settings().tenant_daily_max_sends
    if limit == 0:
        return
    day = int(now) // DAY
    try:
        table.update_item(
            Key={"pk": f"OTPLIMIT#TENANT#{tenant_id}#{day}", "sk": SK},
            UpdateExpression="ADD #n :one SET #e = :ttl",
            ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
            ExpressionAttributeNames={"#n": "sends", "#e": "expires_at"},
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":ttl": (day + 2) * DAY},
        )
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
        raise RateLimited(
            f"the account's {limit} codes for today are used", retry_after=(day + 1) * DAY - math.floor(now),
            code="otp_tenant_limit",
        ) from exc
