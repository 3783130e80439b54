"""bench.cpu: the lines built from the invoker's CPU time and the modelled provider wait."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.cpu import CpuFigures, lines
from bench.measure import Window


def _figures() -> CpuFigures:
    figures = CpuFigures(latency=0.2)
    figures.cpu_seconds.update({"ApiFunction": 2.0, "PasseinfoSenderFunction": 3.0})
    figures.wait_seconds["PasseinfoSenderFunction"] = 100 * 0.2  # 100 invocations, tasks overlapping
    figures.provider_requests["PasseinfoSenderFunction"] = 1000
    return figures


def _window() -> Window:
    return Window(invocations=Counter({"ApiFunction": 1000, "PasseinfoSenderFunction": 100}),
                  seconds=Counter({"ApiFunction": 60.0, "PasseinfoSenderFunction": 40.0}),
                  memory_mb={"ApiFunction": 256, "PasseinfoSenderFunction": 512}, api_requests=1000)


def test_given_cpu_and_waits_then_gb_seconds_weigh_each_function_by_its_memory():
    cpu, wait = _figures().gb_seconds({"ApiFunction": 256, "PasseinfoSenderFunction": 512})

    assert cpu == pytest.approx(2.0 * 0.25 + 3.0 * 0.5)
    assert wait == pytest.approx(20.0 * 0.5)


def test_given_a_window_then_the_lines_give_cpu_per_message_and_both_lambda_figures():
    by_fn, estimate, cost = lines("1 cost", "1,000 singles", _window(), _figures(), 1000)

    assert by_fn.value.startswith("PasseinfoSender 3.00, Api 2.00 (total 5.00;")
    # CPU 2.0 GB-s + wait 10.0 GB-s over 1000 messages; wall time 60 x 0.25 + 40 x 0.5 = 35 GB-s
    assert estimate.value.startswith(
        "estimate 0.0120 (CPU 0.0020 + provider wait 0.0100: 1.000 provider requests/msg at 200 ms")
    assert "-> duration $0.160 per 1M" in estimate.value
    assert "wall time (upper bound, in the cost line) 0.0350 -> $0.467" in estimate.value
    # API Gateway $3.50 + Lambda requests 1.1 x $0.20 + duration $0.16
    assert cost.value.startswith("$3.88 (API Gateway $3.50, Lambda $0.380;")
    assert cost.verdict == ""


def test_given_no_invocation_then_the_line_says_not_measured():
    [line] = lines("1 cost", "x", _window(), CpuFigures(), 10)

    assert line.verdict == "not measured"
