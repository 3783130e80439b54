"""bench.rates: medians, ratios and rates from timestamps."""

from __future__ import annotations

import pytest

from bench.rates import busiest_window, mean_rate, median, ratio


def test_given_timestamps_then_the_busiest_window_counts_a_half_open_second():
    # 0.0, 0.5 and 0.99 share [0, 1); 1.0 starts the next window.
    assert busiest_window([0.0, 0.5, 0.99, 1.0, 1.2]) == 4  # [0.5, 1.5) holds 0.5, 0.99, 1.0, 1.2
    assert busiest_window([0.0, 1.0, 2.0, 3.0]) == 1
    assert busiest_window([]) == 0


def test_given_unsorted_timestamps_then_the_busiest_window_is_the_same():
    times = [3.1, 0.2, 3.5, 3.9, 0.9, 3.95]
    assert busiest_window(times) == busiest_window(sorted(times)) == 4


def test_given_a_steady_rate_then_the_mean_rate_is_it():
    times = [i / 20 for i in range(101)]  # 20 per second over 5 s
    assert mean_rate(times) == pytest.approx(20.0)


def test_given_too_few_points_then_the_mean_rate_is_zero():
    assert mean_rate([]) == mean_rate([1.0]) == mean_rate([2.0, 2.0]) == 0.0


def test_median_and_ratio():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(1.0, 0.0) is None
    with pytest.raises(ValueError):
        median([])
