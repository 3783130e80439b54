"""Schedule / ScheduleV2 events, emulated (moto never fires schedules): one thread per schedule
invokes its function with the scheduled event (or the event's Input) at its `rate(...)` or
`cron(...)`, `speedup` times faster for rate expressions. `trigger()` runs one now.

Like an asynchronous Lambda invocation, a failed scheduled run is retried `retry_attempts` times
(1 and 2 minutes later, divided by `speedup`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from local.stack.invoker import ACCOUNT_ID, FunctionError, Invoker

log = logging.getLogger("local.stack.schedules")

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


@dataclass(frozen=True)
class ScheduleSpec:
    function: str  # logical id
    name: str  # the event's name in template.yaml
    expression: str  # rate(5 minutes) | cron(0/5 * * * ? *)
    input: str | None = None  # the event's Input (JSON text)
    enabled: bool = True
    kind: str = "Schedule"  # Schedule (EventBridge rule) | ScheduleV2 (EventBridge Scheduler)


def rate_seconds(expression: str) -> int | None:
    m = _RATE.match(expression.strip())
    if not m:
        return None
    value, unit = int(m.group(1)), m.group(2).rstrip("s")
    if value < 1 or (value == 1) != (m.group(2) == unit):
        raise ValueError(f"invalid rate expression {expression!r}")
    return value * _UNIT[unit]


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> set[int] | None:
    """One cron field -> the allowed values; None for `*` / `?` (anything)."""
    if text in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-")
            start, end = names.get(a.upper()) or int(a), names.get(b.upper()) or int(b)
        else:
            start = names.get(part.upper()) or int(part)
            end = hi if "/" in text else start
        if not lo <= start <= hi or not lo <= end <= hi:
            raise ValueError(f"cron field {text!r} out of range")
        allowed.update(range(start, end + 1, step))
    return allowed


class Cron:
    """AWS cron(minutes hours day-of-month month day-of-week year), without L, W and #."""

    def __init__(self, expression: str):
        m = re.match(r"^cron\((.*)\)$", expression.strip())
        fields = m.group(1).split() if m else []
        if len(fields) != 6 or any(c in m.group(1) for c in "LW#"):  # type: ignore[union-attr]
            raise ValueError(f"unsupported cron expression {expression!r}")
        self.minute = _field(fields[0], 0, 59, {})
        self.hour = _field(fields[1], 0, 23, {})
        self.dom = _field(fields[2], 1, 31, {})
        self.month = _field(fields[3], 1, 12, _MONTHS)
        self.dow = _field(fields[4], 1, 7, _DAYS)
        self.year = _field(fields[5], 1970, 2199, {})

    @staticmethod
    def _ok(allowed: set[int] | None, value: int) -> bool:
        return allowed is None or value in allowed

    def next_after(self, after: datetime) -> datetime:
        t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = after + timedelta(days=366 * 5)
        while t < limit:
            if not (self._ok(self.year, t.year) and self._ok(self.month, t.month)):
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not (self._ok(self.dom, t.day) and self._ok(self.dow, (t.isoweekday() % 7) + 1)):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif not self._ok(self.hour, t.hour):
                t = t.replace(minute=0) + timedelta(hours=1)
            elif not self._ok(self.minute, t.minute):
                t += timedelta(minutes=1)
            else:
                return t
        raise ValueError("cron expression never fires")


class Schedules:
    def __init__(
        self,
        invoker: Invoker,
        schedules: Iterable[ScheduleSpec],
        *,
        region: str = "eu-west-1",
        speedup: float = 1.0,
        retry_attempts: int = 2,
    ):
        self.invoker = invoker
        self.schedules = list(schedules)
        self.region = region
        self.speedup = max(speedup, 1e-9)
        self.retry_attempts = retry_attempts
        self.fired: Counter[str] = Counter()  # runs per schedule name (timer and trigger)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- events --------------------------------------------------------------------------
    def resource_arn(self, spec: ScheduleSpec) -> str:
        if spec.kind == "ScheduleV2":
            return f"arn:aws:scheduler:{self.region}:{ACCOUNT_ID}:schedule/default/{spec.name}"
        return f"arn:aws:events:{self.region}:{ACCOUNT_ID}:rule/{spec.name}"

    def event(self, spec: ScheduleSpec) -> Any:
        if spec.input is not None:
            return json.loads(spec.input)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler" if spec.kind == "ScheduleV2" else "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.resource_arn(spec)],
            "detail": {},
        }

    def find(self, key: str, name: str | None = None) -> ScheduleSpec:
        """The schedule named `key`, else the (first, or `name`d) schedule of function `key`."""
        for spec in self.schedules:
            if spec.name == key and name is None:
                return spec
        for spec in self.schedules:
            if spec.function == key and (name is None or spec.name == name):
                return spec
        raise KeyError(f"no schedule {key!r}" + (f" named {name!r}" if name else ""))

    def trigger(self, key: str, name: str | None = None) -> Any:
        """Run one scheduled invocation now, in this thread; return the function's result
        (FunctionError propagates, no retries)."""
        spec = self.find(key, name)
        with self._lock:
            self.fired[spec.name] += 1
        return self.invoker.invoke(spec.function, self.event(spec))

    # ---- timers --------------------------------------------------------------------------
    def start(self) -> Schedules:
        self._stop.clear()
        for spec in self.schedules:
            if not spec.enabled:
                continue
            try:
                delays = self._delays(spec)
            except ValueError as exc:
                log.warning("schedule %s not started: %s", spec.name, exc)
                continue
            thread = threading.Thread(target=self._run, args=(spec, delays), name=f"schedule-{spec.name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        log.info("%d schedules started (speedup %g)", len(self._threads), self.speedup)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _delays(self, spec: ScheduleSpec) -> Iterable[float]:
        seconds = rate_seconds(spec.expression)
        if seconds is not None:
            interval = seconds / self.speedup
            return _rate_delays(interval)
        cron = Cron(spec.expression)
        return _cron_delays(cron)

    def _run(self, spec: ScheduleSpec, delays: Iterable[float]) -> None:
        for delay in delays:
            if self._stop.wait(max(delay, 0.0)):
                return
            self._fire(spec)

    def _fire(self, spec: ScheduleSpec) -> None:
        event = self.event(spec)
        for attempt in range(self.retry_attempts + 1):
            with self._lock:
                self.fired[spec.name] += 1
            try:
                self.invoker.invoke(spec.function, event)
                return
            except FunctionError as err:
                log.warning("scheduled run %s failed (attempt %d): %s", spec.name, attempt + 1, err)
            if attempt < self.retry_attempts and self._stop.wait(60.0 * (attempt + 1) / self.speedup):
                return


def _rate_delays(interval: float) -> Iterable[float]:
    start = time.monotonic()
    k = 1
    while True:
        now = time.monotonic()
        while start + k * interval < now:  # skip the ticks a long run overlapped
            k += 1
        yield start + k * interval - now
        k += 1


def _cron_delays(cron: Cron) -> Iterable[float]:
    while True:
        now = datetime.now(UTC)
        yield (cron.next_after(now) - now).total_seconds()
