"""Lines 1 and 2 of `make bench`.

1. AWS requests per message, by service and API, and the AWS cost per million messages: 1,000
   single sends (POST /v1/messages from 4 threads) and one bulk, each through the whole
   pipeline until every message is done. The bulk has 10,000 recipients (BENCH_BULK to change
   it: about 13 minutes on 2 cores, the emulator's DynamoDB is the bottleneck; per message the
   figures hardly depend on its size beyond the first chunks: 500 recipients a chunk, 10
   messages a batch). Providers are paced at 1,000 messages/s
   each: pacing runs (its DynamoDB calls are counted) without making the local run wait.
   Each adds the CPU time per message by function and a Lambda GB-s estimate from it plus a
   modelled provider latency (bench/cpu.py), beside the wall-time figure (an upper bound).
2. Sender concurrency: one batch of 10 records against a provider answering in 200 ms, against
   the same 10 records one invocation each.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections import Counter
from typing import Any

from bench import cpu
from bench.awscalls import CallCounter
from bench.measure import per_message_lines, window
from bench.report import Line
from bench.stack import ALL_PROVIDERS, DONE, Session, function_ids, started
from bench.traffic import bulk_supported, mixed_numbers, post_bulk, send_singles

SECTION, SECTION_SENDER = "1 cost", "2 sender"
SINGLES = int(os.environ.get("BENCH_SINGLES", "1000"))
BULK = int(os.environ.get("BENCH_BULK", "10000"))
FAST_PACING = {"PROVIDER_RATE_LIMITS": json.dumps(dict.fromkeys(ALL_PROVIDERS, 1000))}
SINGLE_COST_TARGET, BULK_COST_TARGET, BULK_SQS_TARGET = 6.50, 1.75, 0.3


def run(counter: CallCounter) -> list[Line]:
    with started(counter, env=FAST_PACING) as session:
        meter = cpu.CpuMeter(session.stack.invoker).install()
        try:
            _warm_up(session)
            lines = singles(session, counter, meter) if SINGLES else []
            lines += bulk(session, counter, meter) if BULK else []
            lines += sender_concurrency(session, counter)
        finally:
            meter.uninstall()
    return lines


def _warm_up(session: Session) -> None:
    """One message per route first: handlers loaded, secrets and tokens cached (as in a warm
    Lambda); the measured windows start after it."""
    accepted = send_singles(session, [{"to": n, "text": "warm up"} for n in mixed_numbers(3, offset=9_000_000)])
    session.wait_done(accepted.ids, timeout=60)


def _done_line(section: str, label: str, statuses: dict[str, str], expected: int, seconds: float) -> Line:
    counts = Counter(statuses.values())
    done = sum(n for s, n in counts.items() if s in DONE)
    detail = ", ".join(f"{s} {n}" for s, n in counts.most_common())
    return Line(section, f"{label}: messages done", f"{done}/{expected} in {seconds:.0f} s ({detail})")


def singles(session: Session, counter: CallCounter, meter: cpu.CpuMeter | None = None) -> list[Line]:
    numbers = mixed_numbers(SINGLES, offset=1_000_000)
    bodies = [{"to": n, "text": f"Your order {i} has shipped"} for i, n in enumerate(numbers)]
    with window(session, counter) as w:
        if meter is not None:
            meter.start()
        accepted = send_singles(session, bodies)
        statuses = session.wait_done(accepted.ids, timeout=600)
    figures = meter.stop() if meter is not None else None
    label = f"{SINGLES:,} singles"
    lines = [_done_line(SECTION, label, statuses, SINGLES, w.elapsed)]
    if accepted.refused:
        lines.append(Line(SECTION, f"{label}: refused by the API", json.dumps(accepted.refused)))
    if not accepted.ids:
        return [*lines, Line.missing(SECTION, f"{label}: cost", "no message was accepted")]
    lines += per_message_lines(SECTION, label, w, len(accepted.ids), cost_target=SINGLE_COST_TARGET)
    return lines + (cpu.lines(SECTION, label, w, figures, len(accepted.ids)) if figures is not None else [])


def bulk(session: Session, counter: CallCounter, meter: cpu.CpuMeter | None = None) -> list[Line]:
    label = f"{BULK:,}-recipient bulk"
    why = bulk_supported(session)
    if why:
        return [Line.missing(SECTION, f"{label}: cost", why, f"<= ${BULK_COST_TARGET}")]
    body = {"to": mixed_numbers(BULK, offset=2_000_000), "text": "Soldes: -20% ce week-end"}
    with window(session, counter) as w:
        if meter is not None:
            meter.start()
        answer, _ = post_bulk(session, body)
        if answer.status_code != 202:
            return [
                Line.missing(
                    SECTION,
                    f"{label}: cost",
                    f"POST /v1/messages/bulk answered {answer.status_code}: {answer.text[:120]}",
                )
            ]
        batch_id = answer.json()["batch_id"]
        batch = session.wait_batch(batch_id, timeout=600 + 0.1 * BULK)
    figures = meter.stop() if meter is not None else None
    statuses = {m: r.get("status", "?") for m, r in session.batch_messages(batch_id).items()}
    lines = [_done_line(SECTION, label, statuses, BULK, w.elapsed)]
    if not batch.get("finished_at"):
        lines.append(
            Line(SECTION, f"{label}: batch", f"not completed (state {batch.get('state')}): counts are partial")
        )
    lines += per_message_lines(SECTION, label, w, BULK, cost_target=BULK_COST_TARGET, sqs_target=BULK_SQS_TARGET)
    return lines + (cpu.lines(SECTION, label, w, figures, BULK) if figures is not None else [])


# ---------------------------------------------------------------------------------------------
# 2. sender concurrency
# ---------------------------------------------------------------------------------------------
def _queued_records(session: Session, count: int) -> list[dict[str, Any]]:
    """`count` queued passeinfo messages written straight to the table, and their SQS records
    (the pollers never see them: they are not on a queue)."""
    from local.stack.pollers import sqs_record
    from tamtam import aws, clock
    from tamtam.settings import get_settings
    from tamtam.store import messages
    from tamtam.store.message_item import MessageItem

    table = aws.table(get_settings().table_name)
    arn = session.stack.provisioned.queue_arns["passeinfo-tx"]
    tenant = f"ten_bench_{uuid.uuid4().hex[:8]}"
    records = []
    for i in range(count):
        at = clock.iso()
        item = MessageItem(id=f"msg_bench_{uuid.uuid4().hex}", tenant_id=tenant, to=f"+22462{8_000_000 + i:07d}",
                           text="concurrency", provider="passeinfo", route=["passeinfo"], status="queued",
                           segments=1, encoding="GSM-7", created_at=at, updated_at=at)
        messages.put_new(table, item)
        body = json.dumps({"message_id": item.id, "tenant_id": tenant, "provider": "passeinfo", "lane": "tx"})
        now_ms = str(int(time.time() * 1000))
        records.append(sqs_record({
            "MessageId": str(uuid.uuid4()), "ReceiptHandle": f"bench-{uuid.uuid4().hex}", "Body": body,
            "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 (SQS's own checksum)
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now_ms, "SenderId": "bench",
                           "ApproximateFirstReceiveTimestamp": now_ms},
        }, arn))
    return records


def sender_concurrency(session: Session, counter: CallCounter) -> list[Line]:
    what = "10 records, provider answering in 200 ms: 10 single invocations / one batch"
    senders = [f for f in function_ids(session.stack, "sender") if f.lower().startswith("passeinfo")]
    if not senders:
        return [Line.missing(SECTION_SENDER, what, "no PasseInfo sender function in template.yaml", ">= 8x")]
    sender, invoke = senders[0], session.stack.invoker.invoke
    records = _queued_records(session, 21)
    invoke(sender, {"Records": records[:1]})  # warm: handler, secret, connection pool
    session.stack.sandbox.fault("passeinfo", "slow", delay=0.2, match="/v1/message/")
    try:
        counter.reset()
        counter.enabled = True
        started_at = time.perf_counter()
        invoke(sender, {"Records": records[1:11]})
        batch = time.perf_counter() - started_at
        counter.enabled = False
        dynamodb = counter.busy_seconds("dynamodb")
        started_at = time.perf_counter()
        for record in records[11:21]:
            invoke(sender, {"Records": [record]})
        one_by_one = time.perf_counter() - started_at
    finally:
        session.stack.sandbox.clear_faults("passeinfo")
    ids = [json.loads(r["body"])["message_id"] for r in records]
    sent = sum(1 for s in session.statuses(ids).values() if s == "sent")
    if sent != len(ids):
        return [Line.missing(SECTION_SENDER, what, f"only {sent}/{len(ids)} records were sent", ">= 8x")]
    speedup = one_by_one / batch
    value = (f"{speedup:.1f}x ({one_by_one:.2f} s / {batch:.2f} s; the batch spent {dynamodb:.2f} s "
             f"with a DynamoDB call in flight)")
    return [Line.check(SECTION_SENDER, what, value, ">= 8x", speedup >= 8)]
