"""Line 3 of `make bench`: time from POST /v1/messages/bulk to its 202, for 10,000 and
100,000 recipients (median of 3 each).

The fan-out function's queue is not polled in this stack: in AWS the fan-out runs on other
machines, here it would take the CPU the API is being timed on. Only acceptance is measured.
"""

from __future__ import annotations

from bench.awscalls import CallCounter
from bench.rates import median
from bench.report import Line
from bench.stack import started, without_sqs_source
from bench.traffic import mixed_numbers, post_bulk

SECTION = "3 accept"
SIZES = (10_000, 100_000)
RUNS = 3
TARGET_SECONDS = {100_000: 3.0}


def run(counter: CallCounter) -> list[Line]:
    lines: list[Line] = []
    with started(counter, provision=without_sqs_source("fanout")) as session:
        warm, _ = post_bulk(session, {"to": mixed_numbers(100, offset=9_500_000), "text": "warm up"})
        if warm.status_code == 404:
            return [Line.missing(SECTION, f"{size:,} recipients: POST to 202", "POST /v1/messages/bulk not found (404)")
                    for size in SIZES]
        offset = 3_000_000
        for size in SIZES:
            what = f"{size:,} recipients: POST to 202 (median of {RUNS})"
            times, answers = [], []
            for _ in range(RUNS):
                answer, seconds = post_bulk(
                    session, {"to": mixed_numbers(size, offset=offset), "text": "Promo"}, timeout=120
                )
                offset += size
                answers.append(answer)
                times.append(seconds)
            bad = [a for a in answers if a.status_code != 202 or a.json().get("accepted") != size]
            if bad:
                lines.append(Line.missing(SECTION, what, f"answered {bad[0].status_code}: {bad[0].text[:100]}"))
                continue
            value = f"{median(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"
            target = TARGET_SECONDS.get(size)
            if target is None:
                lines.append(Line(SECTION, what, value))
            else:
                lines.append(Line.check(SECTION, what, value, f"< {target:.0f} s", median(times) < target))
    return lines
