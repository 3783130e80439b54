"""The sender's side of pacing (tamtam.pacing): one slot pool per provider and lane of the
batch; each record runs inside its pool's `turn` and waits for a slot right before the provider
call (tamtam.messaging.send). Nothing is reserved for records that never reach the provider."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from tamtam import clock, pacing, queues

_KEEP_FOR_SENDING = 5.0  # seconds of the invocation kept for the last calls after the last slot


def _lane_of(body: str) -> tuple[str, str] | None:
    try:
        parsed = json.loads(body)
        return str(parsed["provider"]), str(parsed.get("lane") or queues.TX)
    except (KeyError, TypeError, ValueError):
        return None  # the record fails on its own later, as before


def pools(records: list[dict[str, Any]], table: Any, remaining_seconds: float) -> dict[tuple[str, str], pacing.Pool]:
    """(provider, lane) -> the pool of the batch's records of a paced provider."""
    sizes = Counter(lane for r in records if (lane := _lane_of(r.get("body", ""))) is not None)
    deadline = clock.now() + max(0.0, remaining_seconds - _KEEP_FOR_SENDING)
    return {
        (provider, lane): pacing.Pool(table, provider, lane, size, deadline=deadline)
        for (provider, lane), size in sizes.items()
        if pacing.grid(provider) is not None
    }


def pool_for(batch_pools: dict[tuple[str, str], pacing.Pool], body: str) -> pacing.Pool | None:
    lane = _lane_of(body)
    return batch_pools.get(lane) if lane is not None else None
