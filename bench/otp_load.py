"""Line 5 of `make bench`: time from POST /v1/otp to the provider's outbox while a
10,000-recipient bulk to the same provider is being sent, against the same with no bulk.

PasseInfo keeps its default pacing (20 messages/s): the bulk fills its bulk lane while the codes
ride the transactional queue and the transactional share of the rate limit, as in production.
Codes go one at a time, each to its own number; the median of each set is compared.
"""

from __future__ import annotations

import os
import time

from bench.awscalls import CallCounter
from bench.rates import median
from bench.report import Line
from bench.stack import Session, started
from bench.traffic import bulk_supported, number, post_bulk

SECTION = "5 otp"
CODES = 5
BULK = int(os.environ.get("BENCH_OTP_BULK", "10000"))
TARGET = 2.0
_POLL = 0.02


def _code_latency(session: Session, phone: str, timeout: float = 60) -> float:
    control = session.stack.sandbox
    started_at = time.perf_counter()
    answer = session.post("/v1/otp", {"to": phone})
    if answer.status_code not in (200, 202):
        raise RuntimeError(f"POST /v1/otp answered {answer.status_code}: {answer.text[:120]}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if control.outbox(provider="passeinfo", to=phone):
            return time.perf_counter() - started_at
        time.sleep(_POLL)
    raise RuntimeError(f"the code to {phone} did not reach the outbox within {timeout:.0f} s")


def _codes(session: Session, first: int) -> list[float]:
    times = []
    for i in range(CODES):
        times.append(_code_latency(session, number("passeinfo", first + i)))
        time.sleep(0.5)
    return times


def run(counter: CallCounter) -> list[Line]:
    what = f"OTP POST to outbox, {BULK:,} bulk in flight / none (median of {CODES})"
    with started(counter) as session:
        if session.post("/v1/otp", {"to": number("passeinfo", 7_000_000)}).status_code == 404:
            return [Line.missing(SECTION, what, "POST /v1/otp not found (404)", f"<= {TARGET}x")]
        why = bulk_supported(session)
        if why:
            return [Line.missing(SECTION, what, why, f"<= {TARGET}x")]
        time.sleep(2)  # the first code (loads the sender and its secret) is out of the way
        quiet = _codes(session, 7_000_100)
        answer, _ = post_bulk(session, {"to": [number("passeinfo", 5_000_000 + i) for i in range(BULK)],
                                        "text": "Promo: -20% ce week-end"})
        if answer.status_code != 202:
            return [
                Line.missing(SECTION, what, f"bulk answered {answer.status_code}: {answer.text[:100]}", f"<= {TARGET}x")
            ]
        flowing_since, outbox_then = _wait_flowing(session)
        loaded = _codes(session, 7_000_200)
        sent_meanwhile = len(session.stack.sandbox.outbox(provider="passeinfo")) - outbox_then - CODES
        rate = sent_meanwhile / (time.monotonic() - flowing_since)
    ratio = median(loaded) / median(quiet)
    value = (f"{ratio:.2f}x ({median(loaded):.2f} s / {median(quiet):.2f} s; bulk going out at ~{rate:.0f}/s "
             f"meanwhile; loaded: {', '.join(f'{t:.2f}' for t in loaded)})")
    return [Line.check(SECTION, what, value, f"<= {TARGET:.0f}x", ratio <= TARGET)]


def _wait_flowing(session: Session, timeout: float = 120) -> tuple[float, int]:
    """Wait until the bulk's messages reach the provider; then (now, outbox size)."""
    baseline = len(session.stack.sandbox.outbox(provider="passeinfo"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        size = len(session.stack.sandbox.outbox(provider="passeinfo"))
        if size - baseline >= 20:
            return time.monotonic(), size
        time.sleep(0.2)
    raise RuntimeError("the bulk did not start going out within 120 s")
