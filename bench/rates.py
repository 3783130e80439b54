"""Small statistics over measured times: medians, ratios, rates from timestamps."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no values")
    return float(statistics.median(values))


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator; None when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else None


def busiest_window(times: Sequence[float], width: float = 1.0) -> int:
    """The most timestamps that fall in any half-open window [t, t + width)."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def mean_rate(times: Sequence[float]) -> float:
    """Events per second from the first to the last timestamp: (n - 1) / span, 0 if undefined."""
    if len(times) < 2:
        return 0.0
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else 0.0
