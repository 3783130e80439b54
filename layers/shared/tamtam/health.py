"""Provider health: a circuit breaker whose state lives in DynamoDB, so every sender
invocation sees it.

Outcomes are counted in memory and written at the end of an invocation (one UpdateItem per
provider and minute window, not one per message): at once after a failure, otherwise at most
every `OK_FLUSH_SECONDS` per process. When a window holds at least `min_calls` provider-side
failures making `failure_ratio` of its calls, the breaker opens for `open_seconds`; after that,
traffic flows again (half-open) and the next window decides.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from functools import lru_cache
from typing import Any, ClassVar

from pydantic import Field

from tamtam import clock
from tamtam.env_settings import EnvSettings
from tamtam.store import health as health_items

WINDOW_SECONDS = 60
_CACHE_SECONDS = 5.0
OK_FLUSH_SECONDS = 10.0


class BreakerSettings(EnvSettings):
    """`BREAKER_*` variables, read on first use (they were read at import before)."""

    env_prefix: ClassVar[str] = "BREAKER_"

    min_calls: int = Field(5, ge=1, validation_alias="BREAKER_MIN_FAILURES",
                           description="provider-side failures in a window before the breaker may open")
    failure_ratio: float = Field(0.5, gt=0, le=1, description="share of a window's calls that must have failed")
    open_seconds: int = Field(60, ge=1, description="how long an open breaker keeps traffic away")


@lru_cache(maxsize=1)
def breaker_settings() -> BreakerSettings:
    return BreakerSettings.from_env()


_lock = threading.Lock()
_counts: Counter[tuple[str, str]] = Counter()
_state_cache: dict[str, tuple[float, float]] = {}  # provider -> (read at, open until)
_reading: dict[str, threading.Lock] = {}  # provider -> held while its state is read
_flushed_at: dict[str, float] = {}  # provider -> when this process last wrote its counts


def record(provider: str, ok: bool) -> None:
    with _lock:
        _counts[(provider, "ok" if ok else "fail")] += 1


def _fresh(provider: str) -> tuple[float, float] | None:
    with _lock:
        cached = _state_cache.get(provider)
    return cached if cached is not None and time.monotonic() - cached[0] <= _CACHE_SECONDS else None


def is_open(table: Any, provider: str) -> bool:
    """True while the provider's breaker is open (cached for a few seconds per process; when
    the cache is stale, one thread reads the state and the batch's other threads wait for it)."""
    cached = _fresh(provider)
    if cached is None:
        with _lock:
            reading = _reading.setdefault(provider, threading.Lock())
        with reading:
            cached = _fresh(provider)
            if cached is None:
                until = health_items.open_until(table, provider)
                cached = (time.monotonic(), until)
                with _lock:
                    _state_cache[provider] = cached
    return cached[1] > clock.now()


def flush(table: Any, settings: BreakerSettings | None = None) -> None:
    """Write the counts of a provider that failed, or whose successes wait since
    `OK_FLUSH_SECONDS` (kept in this process meanwhile: a warm sender writes its successes
    once every few seconds, not once per invocation); open a breaker whose window went bad."""
    settings = settings or breaker_settings()
    now = time.monotonic()
    with _lock:
        due = {p for (p, kind), n in _counts.items()
               if n and (kind == "fail" or now - _flushed_at.get(p, -OK_FLUSH_SECONDS) >= OK_FLUSH_SECONDS)}
        counts = {key: n for key, n in _counts.items() if key[0] in due}
        for key in counts:
            del _counts[key]
        _flushed_at.update(dict.fromkeys(due, now))
    window = int(clock.now()) // WINDOW_SECONDS
    for provider in {p for p, _ in counts}:
        ok, fail = counts.get((provider, "ok"), 0), counts.get((provider, "fail"), 0)
        total_ok, total_fail = health_items.add_counts(table, provider, window, ok=ok, fail=fail,
                                                       expires_at=(window + 2) * WINDOW_SECONDS + 86400)
        if fail and total_fail >= settings.min_calls and total_fail / (total_ok + total_fail) >= settings.failure_ratio:
            open_until = clock.now() + settings.open_seconds
            health_items.open_breaker(table, provider, until=int(open_until), at=clock.iso())
            with _lock:
                _state_cache[provider] = (time.monotonic(), float(int(open_until)))


def recent(table: Any, provider: str, windows: int = 15) -> tuple[int, int]:
    """(ok, failed) calls over the last `windows` minutes."""
    now_window = int(clock.now()) // WINDOW_SECONDS
    return health_items.window_counts(table, provider, range(now_window - windows + 1, now_window + 1))


def reset_cache() -> None:
    breaker_settings.cache_clear()
    with _lock:
        _counts.clear()
        _state_cache.clear()
        _flushed_at.clear()
