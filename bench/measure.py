"""A measured window of a scenario: AWS calls, invocations, API requests and log bytes between
its start and the moment the pipeline is idle again, turned into per-message lines."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.awscalls import CallCounter, Snapshot
from bench.pricing import DYNAMODB_SINCE_2024_11, Usage, logs_cost_per_million, per_million
from bench.report import Line, money
from bench.stack import Session

_SERVICE_NAMES = {"dynamodb": "DynamoDB", "sqs": "SQS", "events": "EventBridge",
                  "secretsmanager": "Secrets Manager", "kms": "KMS"}


@dataclass
class Window:
    snapshot: Snapshot = field(default_factory=Snapshot)
    invocations: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    memory_mb: dict[str, int] = field(default_factory=dict)
    api_requests: int = 0
    log_bytes: int = 0
    elapsed: float = 0.0

    def usage(self) -> Usage:
        snap = self.snapshot
        secrets = snap.service_calls("secretsmanager")
        return Usage(
            lambda_requests=sum(self.invocations.values()),
            lambda_gb_seconds=sum(s * self.memory_mb.get(f, 128) / 1024 for f, s in self.seconds.items()),
            sqs_requests=snap.sqs_requests,
            ddb_write_units=snap.ddb_write_units,
            ddb_read_units=snap.ddb_read_units,
            apigw_requests=self.api_requests,
            secrets_calls=secrets,
            events_entries=snap.events_entries,
            # Secrets Manager decrypts each secret value with the state key (a customer key):
            # one KMS request per GetSecretValue, billed to the account.
            kms_requests=snap.service_calls("kms") + secrets,
        )


def _log_size() -> int:
    sys.stdout.flush()
    try:
        return os.fstat(sys.stdout.fileno()).st_size
    except (OSError, ValueError):
        return 0


@contextlib.contextmanager
def window(session: Session, counter: CallCounter, idle_timeout: float = 120) -> Iterator[Window]:
    """Count from now until the block is done and the pollers are idle again."""
    session.idle(idle_timeout)
    counter.reset()
    session.invocations.reset()
    session.api_requests = 0
    out = Window(memory_mb={lid: f.memory_mb for lid, f in session.stack.invoker.functions.items()})
    log_start, started = _log_size(), time.monotonic()
    counter.enabled = True
    try:
        yield out
    finally:
        session.idle(idle_timeout)
        counter.enabled = False
        out.elapsed = time.monotonic() - started
        out.snapshot = counter.snapshot()
        out.invocations, out.seconds = session.invocations.snapshot()
        out.api_requests = session.api_requests
        out.log_bytes = _log_size() - log_start


def per_message_lines(section: str, label: str, w: Window, messages: int, *, cost_target: float,
                      sqs_target: float | None = None) -> list[Line]:
    """The lines of one measured run: calls by service and API, SQS requests, DynamoDB units,
    Lambda, cost per million (with its target), logs."""
    lines: list[Line] = []
    by_service: dict[str, Counter[str]] = {}
    for (service, op), n in w.snapshot.calls.items():
        by_service.setdefault(service, Counter())[op] += n
    for service in sorted(by_service, key=lambda s: -sum(by_service[s].values())):
        ops = by_service[service]
        total = sum(ops.values()) / messages
        detail = ", ".join(f"{op} {n / messages:.3f}" for op, n in ops.most_common())
        lines.append(Line(section, f"{label}: {_SERVICE_NAMES.get(service, service)} calls/msg",
                          f"{total:.3f} ({detail})"))
    if w.snapshot.by_item:
        detail = ", ".join(f"{k} {n / messages:.3f}" for k, n in w.snapshot.by_item.most_common())
        lines.append(Line(section, f"{label}: DynamoDB calls/msg by item", detail))
    sqs = w.snapshot.sqs_requests / messages
    what = f"{label}: SQS requests/msg (billed)"
    if sqs_target is None:
        lines.append(Line(section, what, f"{sqs:.3f}"))
    else:
        lines.append(Line.check(section, what, f"{sqs:.3f}", f"<= {sqs_target}", sqs <= sqs_target))
    usage = w.usage()
    lines.append(
        Line(
            section,
            f"{label}: DynamoDB units/msg",
            f"write {usage.ddb_write_units / messages:.2f}, read {usage.ddb_read_units / messages:.2f}"
            " (from item sizes, GSIs included)",
        )
    )
    if w.snapshot.write_units_by:
        detail = ", ".join(f"{k} {n / messages:.2f}" for k, n in w.snapshot.write_units_by.most_common())
        lines.append(Line(section, f"{label}: DynamoDB write units/msg by item", detail))
    per_fn = ", ".join(
        f"{fn.removesuffix('Function')} {w.invocations[fn]} x {w.seconds[fn] / w.invocations[fn] * 1000:.0f} ms"
        for fn in sorted(w.invocations, key=lambda f: -w.invocations[f]))
    lines.append(
        Line(
            section,
            f"{label}: Lambda/msg",
            f"{usage.lambda_requests / messages:.3f} invocations, {usage.lambda_gb_seconds / messages:.4f} GB-s "
            f"({per_fn}; local wall time, an upper bound)",
        )
    )
    costs = per_million(usage, messages)
    total = sum(costs.values())
    detail = ", ".join(f"{svc} {money(c)}" for svc, c in sorted(costs.items(), key=lambda kv: -kv[1]) if c >= 0.0005)
    lines.append(Line.check(section, f"{label}: AWS cost per 1M messages", f"{money(total)} ({detail})",
                            f"<= {money(cost_target)}", total <= cost_target))
    today = per_million(usage, messages, DYNAMODB_SINCE_2024_11)
    lines.append(Line(section, f"{label}: AWS cost per 1M, DynamoDB at its price since 2024-11",
                      f"{money(sum(today.values()))} (DynamoDB {money(today['DynamoDB'])} at $0.625/$0.125 per million"
                      " write/read units, half the bench's price: informational, the line above is judged)"))
    lines.append(
        Line(
            section,
            f"{label}: logs (not in the cost)",
            f"{w.log_bytes / messages / 1024:.1f} KiB/msg ~ {money(logs_cost_per_million(w.log_bytes, messages))} "
            f"per 1M at $0.50/GB CloudWatch Logs",
        )
    )
    return lines
