"""Slots of a provider's rate limit, reserved in DynamoDB, about one write per batch.

The grid. A provider with a limit of L messages/s gets k = floor(L × P × (1 − safety)) slots
per period of P = ceil(20 / L) seconds (19 per second for 20/s, 19 per 2 s for 10/s, 19 per
10 s for 2/s), evenly spaced: slot j of the period starting at second S is at S + j × P / k.
One timeline shared by every sender invocation, one provider call per slot. Because slots are
P/k apart, any one-second window holds at most L calls even when a call starts up to
L × P / k − 1 s after its slot (≈ safety, 52 ms by default); tamtam.pacing.turns never lets a
call start more than half of that after its slot, leaving the rest to the network.

Reserving. A period's bucket item (pk `RATE#<provider>#<S>`, sk `RATE`) holds `c`, the next free
slot. n slots cost one conditional UpdateItem: `ADD c :n` if `c <= most - n`, or, when the
counter lags behind the clock (an idle period), `SET c = :start + :n` if `c < :start`: slots
already past are skipped, never used late. A full period gives what it has and the next one the
rest, up to the lane's horizon (no slot further ahead than that).

Lanes: transactional traffic first. While a transactional reservation was seen in the last
`PACING_TX_RECENT_SECONDS` (a marker item `RATE#<provider>#TX`, written at most once a second
and read at most once a second per process), bulk may fill only the first k − headroom slots of
each period. Bulk reserves at most `PACING_BULK_HORIZON_SECONDS` ahead, so a transactional
message, which may use every slot up to `PACING_TX_HORIZON_SECONDS` ahead, never queues behind
more than that. With no recent transactional traffic, bulk gets every slot.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import Field

from tamtam import clock
from tamtam.env_settings import EnvSettings
from tamtam.store import pacing_slots

TX, BULK = "tx", "bulk"
DEFAULT_LIMITS = {"passeinfo": 20, "messagepro": 10, "flowsms": 20, "ventis": 10, "smsgate": 2}
_SLOTS_PER_PERIOD = 20  # periods long enough to hold about this many slots: the floor loses little
_TRIES_PER_PERIOD = 4


class PacingSettings(EnvSettings):
    env_prefix: ClassVar[str] = "PACING_"

    enabled: bool = Field(True, description="false: senders call providers as fast as they can")
    limits: dict[str, int] = Field(
        default_factory=dict, validation_alias="PROVIDER_RATE_LIMITS",
        description="provider -> messages per second (over DEFAULT_LIMITS; 0: not paced)",
    )
    safety: float = Field(0.05, ge=0.01, lt=0.5, description="share of the limit kept unused, for call jitter")
    tx_headroom: float = Field(0.25, ge=0, lt=1, description="share of the slots kept for transactional traffic")
    tx_recent_seconds: int = Field(10, ge=1, description="how long a transactional send keeps the headroom")
    tx_horizon_seconds: float = Field(3.0, gt=0, description="how far ahead a transactional batch may reserve")
    bulk_horizon_seconds: float = Field(1.5, gt=0, description="how far ahead a bulk batch may reserve")
    lead_seconds: float = Field(0.1, ge=0, description="first slot at least this far ahead")


@lru_cache(maxsize=1)
def get_pacing_settings() -> PacingSettings:
    return PacingSettings.from_env()


@dataclass(frozen=True)
class Grid:
    limit: int  # L, messages per second
    period: int  # P, seconds
    slots: int  # k, per period

    @property
    def spacing(self) -> float:
        return self.period / self.slots

    @property
    def tolerance(self) -> float:
        """How late a call may start after its slot: half of what the margin absorbs."""
        return (self.limit * self.spacing - 1) / 2

    @property
    def headroom(self) -> int:
        """Slots of each period kept for transactional traffic (bulk always keeps one)."""
        share = get_pacing_settings().tx_headroom
        return min(self.slots - 1, max(1, round(self.slots * share))) if self.slots > 1 and share else 0


@lru_cache(maxsize=32)
def _grid(limit: int, safety: float) -> Grid:
    period = math.ceil(_SLOTS_PER_PERIOD / limit)
    return Grid(limit, period, max(1, math.floor(limit * period * (1 - safety) + 1e-9)))


def grid(provider: str) -> Grid | None:
    """The provider's grid; None when it is not paced."""
    s = get_pacing_settings()
    limit = {**DEFAULT_LIMITS, **s.limits}.get(provider, 0) if s.enabled else 0
    return _grid(limit, s.safety) if limit > 0 else None


# Per process: the transactional marker's last write and read, the last counter seen, and one
# reservation at a time per provider (see `_reserve`).
_lock = threading.Lock()
_marked_at: dict[str, float] = {}  # provider -> when this process last wrote the marker
_seen: dict[str, tuple[float, float]] = {}  # provider -> (read at, last tx seen at)
_hints: dict[str, tuple[int, int]] = {}  # provider -> (period start, counter)
_reserving: dict[str, threading.Lock] = {}
_reading_marker: dict[str, threading.Lock] = {}


def note_tx(table: Any, provider: str) -> None:
    now = clock.now()
    with _lock:
        if now - _marked_at.get(provider, 0.0) < 1.0:
            return
        _marked_at[provider] = now
        _seen[provider] = (now, now)
    pacing_slots.put_marker(table, provider, int(now))


def tx_recent(table: Any, provider: str) -> bool:
    """Whether transactional traffic was seen lately (the marker, read at most once a second
    per process: one thread reads, the others wait for it)."""
    now = clock.now()
    with _lock:
        cached = _seen.get(provider)
        reading = _reading_marker.setdefault(provider, threading.Lock())
    if cached is None or now - cached[0] >= 1.0:
        with reading:
            with _lock:
                cached = _seen.get(provider)
            if cached is None or clock.now() - cached[0] >= 1.0:
                seen_at = pacing_slots.marker_seen_at(table, provider)
                cached = (clock.now(), max(seen_at, cached[1] if cached else 0.0))
                with _lock:
                    _seen[provider] = cached
    return now - cached[1] <= get_pacing_settings().tx_recent_seconds


def reset_cache() -> None:
    with _lock:
        _marked_at.clear()
        _seen.clear()
        _hints.clear()
    get_pacing_settings.cache_clear()


def _take(table: Any, provider: str, period: int, start: int, want: int, most: int) -> tuple[int, int] | None:
    """Up to `want` slots of the period at positions in [start, most): (first, count), or None.
    Tries the write the last counter seen suggests: ADD when it is ahead of the clock, the
    catch-up SET otherwise (an idle or new period)."""
    with _lock:
        hint = _hints.get(provider)
    counter = hint[1] if hint and hint[0] == period else None
    for _ in range(_TRIES_PER_PERIOD):
        catch_up = counter is None or counter < start
        n = min(want, most - (start if catch_up else counter))  # type: ignore[operator]
        if n <= 0:
            return None
        try:
            if catch_up:
                counter = pacing_slots.catch_up(table, provider, period, start=start, n=n)
            else:
                counter = pacing_slots.add(table, provider, period, n=n, start=start, most=most)
        except pacing_slots.Refused as refused:
            counter = refused.counter
            continue
        finally:
            if counter is not None:
                with _lock:
                    _hints[provider] = (period, counter)
        return (start if catch_up else counter - n), n
    return None


def _reserve(table: Any, provider: str, n: int, *, cap: int, horizon: float) -> list[float]:
    """Up to `n` slot times between now + lead and now + lead + horizon, among the first `cap`
    of each period.

    DynamoDB's conditional writes keep reservations exact across processes. Within a process
    they are also taken one at a time: free in Lambda (one invocation per process), and it keeps
    the local stack exact, where every invocation shares one process and moto, whose
    conditional writes are not atomic under concurrency."""
    g = grid(provider)
    if g is None:  # explicit: an assert would vanish under python -O
        raise AssertionError(f"{provider} is not paced")
    with _lock:
        reserving = _reserving.setdefault(provider, threading.Lock())
    slots: list[float] = []
    with reserving:
        first = clock.now() + get_pacing_settings().lead_seconds
        last = first + horizon
        period = int(first) // g.period * g.period
        while period <= last and len(slots) < n:
            start = max(0, math.ceil((first - period) / g.spacing - 1e-9))
            most = min(cap, math.floor((last - period) / g.spacing) + 1)
            taken = _take(table, provider, period, start, n - len(slots), most) if start < most else None
            if taken is not None:
                slots += [period + (taken[0] + i) * g.spacing for i in range(taken[1])]
            period += g.period
    return slots


def reserve(table: Any, provider: str, lane: str, n: int) -> list[float]:
    """Up to `n` slot times (epoch seconds, ascending) for `provider`, within the lane's
    horizon; fewer, maybe none, when it is full. Not paced: `n` times now."""
    g = grid(provider)
    if g is None or n <= 0:
        return [clock.now()] * max(n, 0)
    s = get_pacing_settings()
    if lane != BULK:
        note_tx(table, provider)
        return _reserve(table, provider, n, cap=g.slots, horizon=s.tx_horizon_seconds)
    cap = g.slots - g.headroom if tx_recent(table, provider) else g.slots
    return _reserve(table, provider, n, cap=cap, horizon=s.bulk_horizon_seconds)
