"""Lambda figures the emulator cannot distort: CPU time per message and function, and Lambda GB-s
estimated from it plus a modelled provider latency.

The local stack runs every function in this process against moto, which serves one request at a
time: an invocation's wall time is mostly spent waiting for it, which on AWS it would not. Waiting
burns no CPU, so the invoker's CPU accounting (local/stack/invoker.py: the invoking thread's
`time.thread_time()` and that of each task it submits to a ThreadPoolExecutor, which
`follow_threads()` ties to the invocation) measures what the code itself costs, whatever the
emulator's speed.

What a Lambda is billed for is its wall time, though, and on AWS the senders spend most of theirs
waiting for the provider. That wait is modelled, not measured (the sandbox answers at once): each
provider request (`requests.Session.request` inside an invocation: every provider client goes
through it) takes `PROVIDER_LATENCY_S` (200 ms; BENCH_PROVIDER_LATENCY_MS to change it). The
requests one executor task makes (a sender's record, in its worker) follow each other; the tasks
of one invocation run at once (the sender submits every record of its batch together, to a pool
of 64 workers), so their requests overlap: an invocation waits `latency x the most requests made
by one of its tasks` (the invoking thread's own requests count as a task of their own: the
sender makes none). Not
modelled: the latency of the AWS calls themselves (a few ms each on AWS) and pacing waits (the
bench paces at 1,000/s, so its slots are never waited for).
"""

from __future__ import annotations

import os
import threading
from collections import Counter, defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from bench.measure import Window
from bench.pricing import PRICES, per_million
from bench.report import Line, money

PROVIDER_LATENCY_S = float(os.environ.get("BENCH_PROVIDER_LATENCY_MS", "200")) / 1000


@dataclass
class _Task:
    """The provider requests of one executor task (or of an invocation's own thread)."""

    invocation: Any
    thread: int
    requests: int = 0


_task: ContextVar[_Task | None] = ContextVar("bench_cpu_task", default=None)


@dataclass
class CpuFigures:
    """What a window's invocations cost, by function."""

    cpu_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    wait_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))  # modelled
    provider_requests: Counter[str] = field(default_factory=Counter)
    latency: float = PROVIDER_LATENCY_S

    def gb_seconds(self, memory_mb: dict[str, int]) -> tuple[float, float]:
        """(GB-s of the CPU time, GB-s of the modelled provider wait)."""
        def gb(seconds: dict[str, float]) -> float:
            return sum(s * memory_mb.get(f, 128) / 1024 for f, s in seconds.items())

        return gb(self.cpu_seconds), gb(self.wait_seconds)


class CpuMeter:
    """CPU time and modelled provider wait of the invocations between `start()` and `stop()`."""

    def __init__(self, invoker: Any, latency: float = PROVIDER_LATENCY_S):
        self.invoker, self.latency = invoker, latency
        self._lock = threading.Lock()
        self._tasks: dict[str, tuple[str, list[_Task]]] = {}  # request id -> (function, its tasks)
        self._cpu_at_start: dict[str, float] = {}
        self._undo: list[Any] = []
        self.enabled = False

    def install(self) -> CpuMeter:
        import requests

        from local.stack import invoker as invoker_module

        self._undo.append(invoker_module.follow_threads())
        original = requests.Session.request
        meter = self

        def request(session: requests.Session, method: Any, url: Any, *args: Any,
                    **kwargs: Any) -> requests.Response:
            meter._count_request()
            return original(session, method, url, *args, **kwargs)

        requests.Session.request = request  # type: ignore[method-assign,assignment]
        self._undo.append(lambda: setattr(requests.Session, "request", original))
        return self

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _count_request(self) -> None:
        from local.stack.invoker import current

        invocation = current()
        if invocation is None or not self.enabled:
            return
        task, thread = _task.get(), threading.get_ident()
        if task is None or task.invocation is not invocation or task.thread != thread:
            # Each executor task runs in a copy of its submitter's context (follow_threads), so
            # this one is seen by this task only.
            task = _Task(invocation, thread)
            _task.set(task)
            with self._lock:
                self._tasks.setdefault(invocation.request_id, (invocation.logical_id, []))[1].append(task)
        task.requests += 1

    def start(self) -> None:
        with self._lock:
            self._tasks = {}
        self._cpu_at_start = self.invoker.cpu_seconds()
        self.enabled = True

    def stop(self) -> CpuFigures:
        self.enabled = False
        out = CpuFigures(latency=self.latency)
        for function, cpu in self.invoker.cpu_seconds().items():
            used = cpu - self._cpu_at_start.get(function, 0.0)
            if used > 0:
                out.cpu_seconds[function] = used
        with self._lock:
            tasks = dict(self._tasks)
        for function, of_invocation in tasks.values():
            out.provider_requests[function] += sum(t.requests for t in of_invocation)
            out.wait_seconds[function] += self.latency * max(t.requests for t in of_invocation)
        return out


def _gb_s_cost(gb_seconds: float, messages: int) -> float:
    """USD of `gb_seconds` (measured over `messages`) per million messages."""
    return gb_seconds / messages * 1e6 * PRICES["lambda_gb_second"]


def lines(section: str, label: str, w: Window, figures: CpuFigures, messages: int) -> list[Line]:
    """CPU ms per message by function; Lambda GB-s estimated from CPU and the modelled provider
    wait, priced beside the wall-time figure; the cost per million with that estimate."""
    if not figures.cpu_seconds:
        return [Line.missing(section, f"{label}: CPU ms/msg by function", "no invocation was measured")]
    total_cpu = sum(figures.cpu_seconds.values())
    by_fn = ", ".join(
        f"{fn.removesuffix('Function')} {s / messages * 1000:.2f}"
        for fn, s in sorted(figures.cpu_seconds.items(), key=lambda kv: -kv[1]))
    out = [Line(section, f"{label}: CPU ms/msg by function",
                f"{by_fn} (total {total_cpu / messages * 1000:.2f}; thread CPU of each invocation and of its "
                "executor tasks: waiting for moto burns none)")]
    usage = w.usage()
    cpu_gb_s, wait_gb_s = figures.gb_seconds(w.memory_mb)
    estimate = cpu_gb_s + wait_gb_s
    requests = sum(figures.provider_requests.values())
    out.append(Line(
        section, f"{label}: Lambda GB-s/msg, CPU + modelled provider wait",
        f"estimate {estimate / messages:.4f} (CPU {cpu_gb_s / messages:.4f} + provider wait "
        f"{wait_gb_s / messages:.4f}: {requests / messages:.3f} provider requests/msg at "
        f"{figures.latency * 1000:.0f} ms, a task's in series, an invocation's tasks overlapping) "
        f"-> duration {money(_gb_s_cost(estimate, messages))} per 1M; wall time (upper bound, in the cost line) "
        f"{usage.lambda_gb_seconds / messages:.4f} -> {money(_gb_s_cost(usage.lambda_gb_seconds, messages))}"))
    usage.lambda_gb_seconds = estimate
    costs = per_million(usage, messages)
    detail = ", ".join(f"{svc} {money(c)}" for svc, c in sorted(costs.items(), key=lambda kv: -kv[1]) if c >= 0.0005)
    out.append(Line(section, f"{label}: AWS cost per 1M messages, Lambda from the CPU estimate",
                    f"{money(sum(costs.values()))} ({detail}; the cost line above, wall time, is the one judged)"))
    return out
