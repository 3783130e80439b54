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

Single sends are taken ahead, a lease at a time (`_Leases`): a process that has just taken
units for a tenant in this minute takes twice as many the next time (1, 2, 4, 8, then
`LEASE_MAX`), and spends them from memory. A busy api container writes the counter once every
ten sends instead of once a send (1 write unit a message less). A lease that does not fit in
what is left of the limit is asked again as one unit, so the last units of the limit are
still taken exactly. What a lease costs: units a container leased and did not use before the
minute ended were counted all the same, so with several warm containers a tenant sending at
its limit can be refused up to `LEASE_MAX - 1` messages per other container early. A lease is
never carried into the next minute.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from tamtam import clock, observability, tenant_settings
from tamtam.errors import InvalidRequest, RateLimited
from tamtam.settings import get_settings
from tamtam.store import limits as store_limits

MINUTE, HOUR = 60, 3600
SEND_LIMIT_METRIC, LIMIT_DIMENSION = "SendLimitExceeded", "Limit"
LEASE_MAX = 10  # single sends a process takes from its tenant's minute counter at once, at most


@dataclass
class _Lease:
    window: int  # the minute's index
    left: int  # units taken and not spent yet
    next: int  # units the next take asks for


class _Leases:
    """Per tenant, the units of this minute's counter this process took and has not spent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, _Lease] = {}

    def spend(self, tenant_id: str, window: int) -> int:
        """0 when a leased unit was spent; else how many units to take now."""
        with self._lock:
            lease = self._held.get(tenant_id)
            if lease is None or lease.window != window:
                return 1
            if lease.left > 0:
                lease.left -= 1
                return 0
            return lease.next

    def taken(self, tenant_id: str, window: int, size: int, *, grow: bool) -> None:
        """`size` units were taken: one is spent now, the rest are held. `grow`: the next take
        asks for twice as many (False near the limit: one at a time)."""
        with self._lock:
            lease = self._held.get(tenant_id)
            held = lease.left if lease is not None and lease.window == window else 0
            self._held[tenant_id] = _Lease(window, held + size - 1, min(LEASE_MAX, size * 2) if grow else 1)

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


_leases = _Leases()


def reset_leases() -> None:
    """For tests and the local stack, which change limits and clocks."""
    _leases.clear()


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
    now = clock.now()
    window = math.floor(now) // MINUTE
    size = _leases.spend(tenant_id, window)
    if size == 0:
        return
    key = f"SEND#{tenant_id}"
    wait = take(table, key, count=size, limit=limit, window=MINUTE, now=now)
    grow = wait is None
    if wait is not None and size > 1:  # the lease does not fit: the limit's last units, one at a time
        size = 1
        wait = take(table, key, count=1, limit=limit, window=MINUTE, now=now)
    if wait is None:
        _leases.taken(tenant_id, window, size, grow=grow)
    else:
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
