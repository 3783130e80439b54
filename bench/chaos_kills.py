"""Invocations that die: at a failpoint, or because they ran out of time.

- `Kills.point`: the handler installed with `tamtam.failpoints.install`. Every point reached is
  counted; inside an invocation a point kills it (`Killed`) with its point's probability, until
  the point's budget is spent. A killed invocation is marked dead (`local.stack.invoker`), so it
  fails as a whole (`Runtime.ExitError`: an SQS batch is not deleted and comes back after its
  visibility timeout; the API's caller gets a 5xx) even when `Killed` was raised in a worker
  thread whose exception the code around it would not pass on.
- Dead means dead: `alive()` raises `Killed` in any thread of a dead invocation, and in one past
  its deadline (which it then marks dead, "timed out"). `bench.chaos_aws` calls it before every
  AWS call of the functions and `bench.chaos_provider` before every provider request: a killed
  or timed-out invocation makes no call after its death, as a Lambda whose runtime is gone.
- Short time: `remaining_time` gives a share of the senders' invocations a context with 0.1-1 s
  left instead of the function's timeout (the invoker's `remaining_time` hook); those still
  running at their deadline die there (`Sandbox.Timedout`, the batch comes back).

Counted from the run: points reached and killed, invocations given a short time, invocations
that failed timed out or killed (from the invoker's own FunctionError).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from local.stack import invoker as invoker_module
from local.stack.invoker import FunctionError, current
from tamtam import failpoints
from tamtam.failpoints import Killed

POINTS = ("accept.enqueued", "scheduler.enqueued", "sender.before_claim", "sender.claimed", "sender.called",
          "sender.recorded", "fanout.written", "fanout.enqueued", "lifecycle.published")


class Kills:
    def __init__(self, *, rates: dict[str, float], budget: int, seed: int, short_functions: set[str],
                 short_rate: float, short_seconds: tuple[float, float] = (0.1, 1.0)):
        self.rates, self.budget = dict(rates), budget
        self.short_functions, self.short_rate, self.short_seconds = set(short_functions), short_rate, short_seconds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.reached: Counter[str] = Counter()
        self.killed: Counter[str] = Counter()
        self.after_death: Counter[str] = Counter()  # points reached by a dead invocation's threads
        self.short_given = 0
        self.failed: Counter[str] = Counter()  # FunctionError type -> invocations (killed / timed out)
        self.deaths: dict[str, list[str]] = {}  # message id -> how the invocations holding it died
        self.active = True
        self._undo: list[Callable[[], None]] = []

    # -- install -------------------------------------------------------------------------
    def install(self, invoker: Any) -> Kills:
        failpoints.install(self.point)
        self._undo.append(failpoints.uninstall)
        self._undo.append(invoker_module.follow_threads())
        invoker.remaining_time = self.remaining_time
        self._undo.append(lambda: setattr(invoker, "remaining_time", None))
        original = invoker.invoke

        def invoke(logical_id: str, event: Any) -> Any:
            try:
                return original(logical_id, event)
            except FunctionError as err:
                if err.error_type in ("Runtime.ExitError", "Sandbox.Timedout"):
                    why = f"{logical_id}: {err.error_type} {err.error_message.rsplit('(', 1)[-1].rstrip(')')}"
                    with self.lock:
                        self.failed[err.error_type] += 1
                        for message_id in _message_ids(event):
                            self.deaths.setdefault(message_id, []).append(why)
                raise

        invoker.invoke = invoke
        self._undo.append(lambda: setattr(invoker, "invoke", original))
        return self

    def stop(self) -> None:
        """No more kills nor short deadlines (the pipeline may finish); points still counted."""
        self.active = False

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    # -- hooks ---------------------------------------------------------------------------
    def alive(self, where: str = "") -> None:
        """Raise Killed when this thread's invocation is dead or past its deadline."""
        invocation = current()
        if invocation is None:
            return
        if invocation.dead is None and invocation.overdue:
            invocation.kill("timed out")
        if invocation.dead is not None:
            raise Killed(where or invocation.dead)

    def point(self, point: str, context: dict[str, Any]) -> None:
        invocation = current()
        with self.lock:
            self.reached[point] += 1
        if invocation is None:
            return
        try:
            self.alive(point)
        except Killed:
            with self.lock:
                self.after_death[point] += 1
            raise
        if not self.active:
            return
        with self.lock:
            die = self.killed[point] < self.budget and self.rng.random() < self.rates.get(point, 0.0)
            if die:
                self.killed[point] += 1
        if die:
            invocation.kill(f"killed at {point}")
            raise Killed(point)

    def remaining_time(self, logical_id: str, event: Any) -> float | None:
        if not self.active or logical_id not in self.short_functions:
            return None
        with self.lock:
            if self.rng.random() >= self.short_rate:
                return None
            self.short_given += 1
            return self.rng.uniform(*self.short_seconds)

    # -- report --------------------------------------------------------------------------
    def summary(self) -> str:
        return ", ".join(f"{p} {self.killed[p]}/{self.reached[p]}" for p in POINTS)


def _message_ids(event: Any) -> list[str]:
    """The message ids an SQS event's records name (a sender's queue bodies)."""
    import json

    ids = []
    for record in (event or {}).get("Records") or []:
        try:
            body = json.loads(record.get("body") or "")
        except (TypeError, ValueError):
            continue
        if isinstance(body, dict) and isinstance(body.get("message_id"), str):
            ids.append(body["message_id"])
    return ids
