"""The sender's side of pacing (tamtam.pacing): one slot pool per provider and lane of the
batch; each record runs inside its pool's `turn` and waits for a slot right before the provider
call (tamtam.messaging.send). Nothing is reserved for records that never reach the provider.
The bodies are the batch's, parsed once by the handler; one that did not parse has no pool (its
record fails on its own)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tamtam import clock, pacing, queues
from tamtam.queue_bodies import MalformedBody, QueueBody

_KEEP_FOR_SENDING = 5.0  # seconds of the invocation kept for the last calls after the last slot


def _lane_of(body: QueueBody) -> tuple[str, str]:
    return str(body.provider), str(body.lane or queues.TX)


def pools(
    bodies: list[QueueBody | MalformedBody], table: Any, remaining_seconds: float
) -> dict[tuple[str, str], pacing.Pool]:
    """(provider, lane) -> the pool of the batch's records of a paced provider; `bodies`: each
    record's QueueBody, or its parse error (not counted)."""
    sizes = Counter(_lane_of(b) for b in bodies if isinstance(b, QueueBody))
    deadline = clock.now() + max(0.0, remaining_seconds - _KEEP_FOR_SENDING)
    return {
        (provider, lane): pacing.Pool(table, provider, lane, size, deadline=deadline)
        for (provider, lane), size in sizes.items()
        if pacing.grid(provider) is not None
    }


def pool_for(batch_pools: dict[tuple[str, str], pacing.Pool], body: QueueBody) -> pacing.Pool | None:
    return batch_pools.get(_lane_of(body))
