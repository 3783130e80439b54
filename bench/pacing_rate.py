"""Line 6 of `make bench`: with PasseInfo's limit set to N messages/s (PROVIDER_RATE_LIMITS),
the rate the sandbox sees over a bulk pinned to it: the busiest one-second window and the mean
rate, from the outbox's `at` timestamps (the moment the simulator took each message).

N defaults to 20, PasseInfo's own default limit (BENCH_PACING_LIMIT to change it); the bulk
has 1,000 recipients (BENCH_PACING_SIZE), and the time from its POST to the sandbox taking its
last message is the third line (issue 4: under 60 s at 20/s).
"""

from __future__ import annotations

import json
import os
import time

from bench.awscalls import CallCounter
from bench.rates import busiest_window, mean_rate
from bench.report import Line
from bench.stack import started
from bench.traffic import bulk_supported, number, post_bulk

SECTION = "6 pacing"
LIMIT = int(os.environ.get("BENCH_PACING_LIMIT", "20"))
SIZE = int(os.environ.get("BENCH_PACING_SIZE", "1000"))
FINISH_TARGET = 60.0  # seconds, for 1,000 recipients at 20/s


def _pacing_available() -> str | None:
    try:
        from tamtam import pacing  # noqa: F401
    except ImportError:
        return "tamtam.pacing is not in the layer"
    return None


def run(counter: CallCounter) -> list[Line]:
    busiest_what = f"PasseInfo limited to {LIMIT}/s: busiest 1-s window"
    mean_what = f"PasseInfo limited to {LIMIT}/s: mean rate over the bulk"
    finish_what = f"{SIZE:,}-recipient bulk at {LIMIT}/s: POST to the last message taken"

    def not_measured(why: str) -> list[Line]:
        return [Line.missing(SECTION, busiest_what, why, f"<= {LIMIT}"),
                Line.missing(SECTION, mean_what, why, f">= {0.9 * LIMIT:g}"),
                Line.missing(SECTION, finish_what, why, f"< {FINISH_TARGET:g} s")]

    why = _pacing_available()
    if why:
        return not_measured(why)
    env = {"PROVIDER_RATE_LIMITS": json.dumps({"passeinfo": LIMIT})}
    size = SIZE
    with started(counter, env=env) as session:
        why = bulk_supported(session)
        if why:
            return not_measured(why)
        body = {"to": [number("passeinfo", 4_000_000 + i) for i in range(size)], "text": "Rappel: rendez-vous demain",
                "provider": "passeinfo"}
        posted_at = time.time()
        answer, _ = post_bulk(session, body)
        if answer.status_code != 202:
            raise RuntimeError(f"bulk answered {answer.status_code}: {answer.text[:120]}")
        batch = session.wait_batch(answer.json()["batch_id"], timeout=size / LIMIT * 4 + 60)
        times = [float(e["at"]) for e in session.stack.sandbox.outbox(provider="passeinfo")]
    busiest, mean = busiest_window(times), mean_rate(times)
    finished = (max(times) - posted_at) if times else float("inf")
    first = (min(times) - posted_at) if times else float("inf")
    done = f"{len(times)}/{size} sent" + ("" if batch.get("finished_at") else ", batch not completed")
    return [
        Line.check(SECTION, busiest_what, f"{busiest} ({done})", f"<= {LIMIT}", busiest <= LIMIT),
        Line.check(
            SECTION,
            mean_what,
            f"{mean:.1f}/s over {max(times) - min(times):.1f} s" if times else "0",
            f">= {0.9 * LIMIT:g}/s",
            mean >= 0.9 * LIMIT,
        ),
        Line.check(
            SECTION,
            finish_what,
            f"{finished:.1f} s (the first after {first:.1f} s; {done})",
            f"< {FINISH_TARGET:g} s",
            len(times) == size and finished < FINISH_TARGET,
        ),
    ]
