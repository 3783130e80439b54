"""Send limits per tenant, and the fixed-window counter the gateway's limits count with (the
OTP limits of tamtam.otp.limits use it too).

The limits (defaults in tamtam.settings; the tenant settings `messages_per_minute` and
`bulk_recipients_per_hour`, tamtam.tenant_settings, replace them for one tenant; 0 = no limit):
- single sends, POST /v1/messages and the ingest door's `message` requests:
  `send_limit_messages_per_minute` (600) per tenant per UTC minute, one per accepted message
  (scheduled ones too; one-time codes have their own limits);
- bulk sends, POST /v1/messages/bulk and the ingest door's `bulk` requests:
  `send_limit_bulk_recipients_per_hour` (100,000, one full batch) per tenant per UTC hour,
  counted as the batch's valid, deduplicated recipients (a provider group counts one: its size
  is the provider's). A batch over the whole limit can never pass: 422 `too_many_recipients`.

Over a limit: RateLimited (429 `send_limit` / `bulk_limit`, Retry-After = the seconds until the
window ends) and one `SendLimitExceeded` metric (dimension `Limit`: messages, bulk). Nothing of
the refused request is counted. The ingest door goes through the same accept functions; there a
refusal is transient: its record fails and SQS delivers it again later (tamtam.ingest).

The counter: one item per key and window (tamtam.store.limits: pk `LIMIT#<key>#<window index>`,
sk `LIMIT`, TTL a minute after the window), one conditional UpdateItem that adds `count` only
while the total stays within the limit. Concurrent takes can never pass the limit together, and
a refused take adds nothing. Windows are fixed: around a boundary up to twice the limit can pass
in one window's length.
"""

from __future__ import annotations

import math
from typing import Any

from tamtam import clock, observability, tenant_settings
from tamtam.errors import InvalidRequest, RateLimited
from tamtam.settings import get_settings
from tamtam.store import limits as store_limits

MINUTE, HOUR = 60, 3600
SEND_LIMIT_METRIC, LIMIT_DIMENSION = "SendLimitExceeded", "Limit"


def take(table: Any, key: str, *, count: int, limit: int, window: int, now: float) -> int | None:
    """Add `count` to `key`'s counter of the window holding `now`, if the window's total stays
    within `limit`. None when taken; else the whole seconds until the window ends (nothing added).
    `count` over `limit` is never taken."""
    index = math.floor(now) // window
    ends = (index + 1) * window
    wait = max(math.ceil(ends - now), 1)
    if count > limit:
        return wait
    taken = store_limits.add_within(table, key, index, count=count, room=limit - count, expires_at=ends + MINUTE)
    return None if taken else wait


def messages_limit(table: Any, tenant_id: str) -> int:
    own = tenant_settings.settings_for(table, tenant_id).messages_per_minute
    return get_settings().send_limit_messages_per_minute if own is None else own


def bulk_limit(table: Any, tenant_id: str) -> int:
    own = tenant_settings.settings_for(table, tenant_id).bulk_recipients_per_hour
    return get_settings().send_limit_bulk_recipients_per_hour if own is None else own


def take_message(table: Any, tenant_id: str) -> None:
    """One single send of the tenant, or RateLimited (429 `send_limit`)."""
    limit = messages_limit(table, tenant_id)
    if limit == 0:
        return
    wait = take(table, f"SEND#{tenant_id}", count=1, limit=limit, window=MINUTE, now=clock.now())
    if wait is not None:
        observability.count(SEND_LIMIT_METRIC, dimensions={LIMIT_DIMENSION: "messages"})
        raise RateLimited(f"this account sends at most {limit} messages a minute", retry_after=wait, code="send_limit")


def take_recipients(table: Any, tenant_id: str, recipients: int, *, field: str) -> None:
    """`recipients` bulk recipients of the tenant, or RateLimited (429 `bulk_limit`); a batch
    larger than the whole limit is refused for good (422 `too_many_recipients`)."""
    limit = bulk_limit(table, tenant_id)
    if limit == 0:
        return
    if recipients > limit:
        raise InvalidRequest(
            f"{recipients} recipients is over this account's limit of {limit} an hour; split the batch",
            field=field, code="too_many_recipients",
        )
    wait = take(table, f"BULK#{tenant_id}", count=recipients, limit=limit, window=HOUR, now=clock.now())
    if wait is not None:
        observability.count(SEND_LIMIT_METRIC, dimensions={LIMIT_DIMENSION: "bulk"})
        raise RateLimited(
            f"this account sends bulk to at most {limit} recipients an hour; {recipients} more do not fit now",
            retry_after=wait, code="bulk_limit", field=field,
        )
