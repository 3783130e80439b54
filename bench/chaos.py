"""`make chaos`: 1,000 messages (400 single sends, three bulks of 200) through the local stack
while every provider fails intermittently (5xx, timeouts, slow answers, answers lost after the
message was taken), the pollers deliver 5 % of the records twice, and 3 % of the senders die
between the provider call and the status write. Then the retry and redelivery windows run out
and the invariants of bench.chaos_check are checked.

Short settings, for this run's local stack only: retries after 1 s (at most 4 s), a claim is
stale after 15 s, the providers' read timeout is 2 s (the injected timeouts hold 3 s), and the
main queues' visibility timeout is 20 s instead of infra's 180 s (a crashed batch comes back
after 20 s instead of 3 minutes).
"""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.awscalls import CallCounter
from bench.chaos_check import DONE, SECTION, Findings, check, digits, lines
from bench.chaos_faults import FaultInjector, SenderCrashes, short_visibility
from bench.report import Line
from bench.stack import ALL_PROVIDERS, REPO_ROOT, Session, function_ids, started
from bench.traffic import bulk_supported, number, post_bulk

DETAILS = REPO_ROOT / ".bench" / "chaos-details.json"
SEED = int(os.environ.get("CHAOS_SEED", "7"))
SINGLES, BULKS, BULK_SIZE = 400, 3, 200
VISIBILITY, CLAIM_STALE, CRASH_RATE, DUPLICATE_RATE = 20, 15, 0.03, 0.05
WAIT = float(os.environ.get("CHAOS_WAIT_SECONDS", "420"))
ENV = {
    "RETRY_BASE_SECONDS": "1",
    "RETRY_MAX_SECONDS": "4",
    "CLAIM_STALE_SECONDS": str(CLAIM_STALE),
    "PROVIDER_RATE_LIMITS": json.dumps(dict.fromkeys(ALL_PROVIDERS, 1000)),
    **{f"TAMTAM_{p.upper()}_READ_TIMEOUT": "2" for p in ALL_PROVIDERS},
    **{f"TAMTAM_{p.upper()}_CONNECT_TIMEOUT": "1" for p in ALL_PROVIDERS},
}
# Single sends: the three default routes, and two providers pinned.
_SINGLE_KINDS = (("passeinfo", None), ("ventis", None), ("flowsms", None), ("passeinfo", "smsgate"),
                 ("passeinfo", "messagepro"))


def _singles(session: Session) -> dict[str, str]:
    """POST the single sends from 4 threads; message id -> number."""
    bodies = []
    for i in range(SINGLES):
        route, pinned = _SINGLE_KINDS[i % len(_SINGLE_KINDS)]
        body = {"to": number(route, 100_000 + i), "text": f"chaos single {i}"}
        if pinned:
            body["provider"] = pinned
        bodies.append(body)

    def one(body: dict[str, Any]) -> tuple[str, str | None]:
        answer = session.post("/v1/messages", body)
        return body["to"], answer.json().get("id") if answer.status_code in (200, 202) else None

    with ThreadPoolExecutor(4) as pool:
        return {mid: to for to, mid in pool.map(one, bodies) if mid}


def _bulks(session: Session) -> list[str]:
    """POST the bulks: Guinea on its route, Gabon and Senegal mixed, Guinea pinned to SMSGate."""
    batches = []
    for b in range(BULKS):
        base = 200_000 + b * 10_000
        if b == 1:
            to = [number("ventis" if i % 2 else "flowsms", base + i) for i in range(BULK_SIZE)]
        else:
            to = [number("passeinfo", base + i) for i in range(BULK_SIZE)]
        body: dict[str, Any] = {"to": to, "text": f"chaos bulk {b}"}
        if b == 2:
            body["provider"] = "smsgate"
        answer, _ = post_bulk(session, body)
        if answer.status_code != 202:
            raise RuntimeError(f"bulk answered {answer.status_code}: {answer.text[:120]}")
        batches.append(answer.json()["batch_id"])
    return batches


def _accepted(session: Session, singles: dict[str, str], batches: list[str]) -> dict[str, str]:
    accepted = dict(singles)
    for batch_id in batches:
        accepted.update({m: r["to"] for m, r in session.batch_messages(batch_id).items()})
    return accepted


def _wait(session: Session, ids: list[str], until: float, stop_faults: threading.Event, quiet_after: float) -> None:
    """Until every message is done or `until`; faults stop once 97 % are done or at `quiet_after`."""
    while time.monotonic() < until:
        statuses = session.statuses(ids)
        done = sum(1 for s in statuses.values() if s in DONE)
        if done >= 0.97 * len(ids) or time.monotonic() > quiet_after:
            stop_faults.set()
        if done == len(ids):
            return
        time.sleep(3)


def _flagged(findings: Findings) -> list[str]:
    return sorted({*findings.lost, *findings.stuck, *findings.twice, *findings.twice_unconfirmed,
                   *findings.taken_but_failed, *findings.sent_not_taken})


def _write_details(findings: Findings, accepted: dict[str, str], records: dict[str, Any],
                   outbox: list[dict[str, Any]]) -> None:
    """Every message an invariant flagged, with its record and its outbox entries, for a look."""
    flagged = _flagged(findings)
    numbers = {digits(accepted[m]): m for m in flagged}
    entries: dict[str, list[dict[str, Any]]] = {m: [] for m in flagged}
    for entry in outbox:
        if (m := numbers.get(digits(entry.get("to", "")))) is not None:
            entries[m].append(entry)
    details = {m: {"to": accepted[m], "record": records.get(m), "outbox": entries[m]} for m in flagged}
    DETAILS.parent.mkdir(parents=True, exist_ok=True)
    DETAILS.write_text(json.dumps({"smsgate_ids_twice": findings.smsgate_twice, "messages": details}, indent=1, default=str))


def run(counter: CallCounter) -> list[Line]:
    started_at = time.monotonic()
    with started(counter, env=ENV, provision=short_visibility(VISIBILITY), duplicate_rate=DUPLICATE_RATE) as session:
        why = bulk_supported(session)
        if why:
            return [Line.missing(SECTION, "chaos run", why)]
        crashes = SenderCrashes(session.stack.invoker, function_ids(session.stack, "sender"), rate=CRASH_RATE, seed=SEED).install()
        faults = FaultInjector(session.stack.sandbox, seed=SEED, log_path=session.stack.sandbox_log).start()
        stop_faults = threading.Event()
        try:
            singles: dict[str, str] = {}
            traffic = threading.Thread(target=lambda: singles.update(_singles(session)))
            traffic.start()
            batches = _bulks(session)
            traffic.join()
            time.sleep(5)  # the fan-out writes the bulks' records
            accepted = _accepted(session, singles, batches)
            ids = list(accepted)
            quiet_after = time.monotonic() + 90
            waiter = threading.Thread(target=_wait, args=(session, ids, started_at + WAIT, stop_faults, quiet_after))
            waiter.start()
            stop_faults.wait(max(0.0, started_at + WAIT - time.monotonic()))
        finally:
            faults.stop()
        waiter.join()
        accepted = _accepted(session, singles, batches)  # records written late by the fan-out too
        session.idle(60)
        depths = session.queue_depths()
        items = session.records(list(accepted), ("status", "reason", "provider"))
        full = session.records(_flagged(check(accepted, items, session.stack.sandbox.outbox(), False)),
                               ("status", "reason", "provider", "route", "history", "attempts", "tries", "batch_id"))
        outbox = session.stack.sandbox.outbox()
        duplicated = session.stack.pollers.duplicated
        crashes.uninstall()
    findings = check(accepted, items, outbox, queues_empty=not any(depths.values()))
    _write_details(findings, accepted, full, outbox)
    expected = SINGLES + BULKS * BULK_SIZE
    out = [Line(SECTION, "messages sent in", f"{expected} ({SINGLES} single, {BULKS} bulks of {BULK_SIZE})")]
    out += lines(findings)
    out += [
        Line(SECTION, "faults applied by the providers (injected)",
             ", ".join(f"{m} {faults.applied[m]} ({faults.injected[m]})" for m in sorted(faults.injected))),
        Line(SECTION, "records delivered twice by the pollers", f"{duplicated}"),
        Line(SECTION, "senders killed after the provider call", f"{len(crashes.killed)} messages, {crashes.crashed_invocations} invocations"),
        Line(SECTION, "messages left on queues / DLQs", json.dumps(left) if (left := {k: v for k, v in depths.items() if v}) else "none"),
        Line(SECTION, "duration", f"{time.monotonic() - started_at:.0f} s"),
    ]
    if _flagged(findings):
        out.append(Line(SECTION, "flagged messages, records and outbox entries", str(DETAILS.relative_to(REPO_ROOT))))
    return out
