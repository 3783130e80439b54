"""Line 5 of `make bench`: time from POST /v1/otp to the provider's outbox while a
10,000-recipient bulk to the same provider is being sent, against the same with no bulk.

Two lines (two scenarios, each its own stack):
- `otp`: PasseInfo keeps its default pacing (20 messages/s), the codes start as soon as the
  bulk's first messages reach the provider, while the fan-out is still creating its records:
  the emulator's saturation line (moto serves one request at a time, and the fan-out's writes
  are most of them).
- `otp_paced`: PasseInfo limited to 50 messages/s, the codes sent while the bulk drains at that
  limit (after the fan-out has created every record): a campaign as its users see it.
In both the bulk fills PasseInfo's bulk lane while the codes ride the transactional queue and
the transactional share of the rate limit, as in production. Codes go one at a time, each to its
own number; the median of each set is compared.
"""

from __future__ import annotations

import json
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
PACED_CODES = 10
PACED_RATE = 50
PACED_TARGET = 1.5
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


def _codes(session: Session, first: int, count: int = CODES) -> list[float]:
    times = []
    for i in range(count):
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


def run_paced(counter: CallCounter) -> list[Line]:
    what = (f"OTP POST to outbox, {BULK:,} bulk draining at {PACED_RATE}/s (PasseInfo's limit) / none "
            f"(median of {PACED_CODES})")
    target = f"<= {PACED_TARGET}x"
    # 21 codes to numbers of one range: the per-range velocity limit (SMS pumping walks a range,
    # tamtam.otp.limits) would refuse the last; it is not what this line measures.
    env = {"PROVIDER_RATE_LIMITS": json.dumps({"passeinfo": PACED_RATE}), "OTP_RANGE_MAX_SENDS": "0"}
    with started(counter, env=env) as session:
        if session.post("/v1/otp", {"to": number("passeinfo", 7_000_000)}).status_code == 404:
            return [Line.missing(SECTION, what, "POST /v1/otp not found (404)", target)]
        why = bulk_supported(session)
        if why:
            return [Line.missing(SECTION, what, why, target)]
        time.sleep(2)
        quiet = _codes(session, 7_000_100, PACED_CODES)
        answer, _ = post_bulk(session, {"to": [number("passeinfo", 5_000_000 + i) for i in range(BULK)],
                                        "text": "Promo: -20% ce week-end"})
        if answer.status_code != 202:
            return [Line.missing(SECTION, what, f"bulk answered {answer.status_code}: {answer.text[:100]}", target)]
        created_after = _wait_created(session, str(answer.json()["batch_id"]))
        outbox_then, since = len(session.stack.sandbox.outbox(provider="passeinfo")), time.monotonic()
        loaded = _codes(session, 7_000_200, PACED_CODES)
        sent = len(session.stack.sandbox.outbox(provider="passeinfo")) - outbox_then - PACED_CODES
        rate = sent / (time.monotonic() - since)
        codes_sent = 1 + 2 * PACED_CODES
        left = BULK - (len(session.stack.sandbox.outbox(provider="passeinfo")) - codes_sent)
    ratio = median(loaded) / median(quiet)
    value = (f"{ratio:.2f}x ({median(loaded):.2f} s / {median(quiet):.2f} s; the bulk going out at {rate:.0f}/s "
             f"meanwhile, {left:,} still to send after; its records created {created_after:.0f} s after the POST; "
             f"loaded: {', '.join(f'{t:.2f}' for t in loaded)})")
    return [Line.check(SECTION, what, value, target, ratio <= PACED_TARGET)]


def _wait_created(session: Session, batch_id: str, timeout: float = 300) -> float:
    """Wait until the fan-out has created every record of the batch; the seconds it took."""
    started_at = time.monotonic()
    while time.monotonic() - started_at < timeout:
        batch = session.batch(batch_id)
        if int(batch.get("written", 0) or 0) >= BULK:
            return time.monotonic() - started_at
        time.sleep(0.5)
    raise RuntimeError(f"the fan-out did not create the bulk's {BULK:,} records within {timeout:.0f} s")
