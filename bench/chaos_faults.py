"""What `make chaos` does to the pipeline.

- `FaultInjector`: a thread that keeps giving each provider's send endpoint an intermittent
  fault through the sandbox's control API: every tick one provider gets `times` (1-3) requests
  of one mode (5xx, timeout, slow, drop), replacing what it had left. Faults it applied are
  counted from the sandbox's own log lines (its log file: it runs in a process of its own).
- `SenderCrashes`: a sender that dies after the provider took the message and before the status
  is written. `tamtam.messaging.send._record_sent` raises for a share of first calls, and the
  sender's invocation then fails as a whole (the Lambda runtime exiting): its batch is not
  deleted and comes back after the queue's visibility timeout, the claim still `sending`.
- `short_visibility`: a provision() that gives the local stack's main queues a short visibility
  timeout (infra's 180 s would make a crashed batch wait three minutes). Only this run's emulated
  queues change; infra/ and its defaults do not.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.stack.invoker import FunctionError

SEND_PATHS = {  # the part of each provider's send path the faults match (core.Fault.match)
    "passeinfo": "/v1/message/",
    "messagepro": "send/sms",
    "flowsms": "send-sms/",
    "ventis": "/messaging/api/v1/message",
    "smsgate": "/3rdparty/v1/messages",
}
MODES = ("error", "timeout", "slow", "drop")


class FaultInjector:
    def __init__(self, sandbox: Any, *, seed: int, log_path: Path | None = None, tick: float = 0.5,
                 timeout_delay: float = 3.0, slow_delay: float = 1.0):
        self.sandbox, self.tick, self.log_path = sandbox, tick, log_path
        self.timeout_delay, self.slow_delay = timeout_delay, slow_delay
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)

    def start(self) -> FaultInjector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sandbox.clear_faults()
        if self.log_path is not None and self.log_path.exists():
            self.applied.update(applied_faults(self.log_path.read_text(errors="replace")))

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            provider = self.rng.choice(list(SEND_PATHS))
            mode = self.rng.choice(MODES)
            fault: dict[str, Any] = {"times": self.rng.randint(1, 3), "match": SEND_PATHS[provider]}
            if mode == "error":
                fault["status"] = self.rng.choice([500, 502, 503])
            elif mode == "timeout":
                fault["delay"] = self.timeout_delay
            elif mode == "slow":
                fault["delay"] = self.slow_delay
            try:
                self.sandbox.clear_faults(provider)
                self.sandbox.fault(provider, mode, **fault)
            except Exception:  # the sandbox is stopping
                return
            self.injected[mode] += fault["times"]


_APPLIED = re.compile(r"sandbox fault (\w+) on ")


def applied_faults(log: str) -> Counter[str]:
    """Faults by mode, from the sandbox's "sandbox fault <mode> on <provider> <path>" lines."""
    return Counter(m.group(1) for m in _APPLIED.finditer(log))


class SenderCrashes:
    """Kill a sender between the provider call and the status write, for `rate` of the sends."""

    def __init__(self, invoker: Any, senders: list[str], *, rate: float, seed: int):
        from tamtam.messaging import send

        self.module, self.rate = send, rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.killed: set[str] = set()  # message ids whose sender died
        self.pending: set[str] = set()  # died, the invocation not failed yet
        self.crashed_invocations = 0
        self._original_record = send._record_sent
        self._original_invoke = invoker.invoke
        self.invoker, self.senders = invoker, set(senders)

    def install(self) -> SenderCrashes:
        self.module._record_sent = self._record_sent
        self.invoker.invoke = self._invoke
        return self

    def uninstall(self) -> None:
        self.module._record_sent = self._original_record
        self.invoker.invoke = self._original_invoke

    def _record_sent(self, table: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            die = message.id not in self.killed and self.rng.random() < self.rate
            if die:
                self.killed.add(message.id)
                self.pending.add(message.id)
        if die:
            raise _SenderDied(message.id)
        return self._original_record(table, message, *args, **kwargs)

    def _invoke(self, logical_id: str, event: Any) -> Any:
        call: Callable[[str, Any], Any] = self._original_invoke
        if logical_id not in self.senders:
            return call(logical_id, event)
        try:
            return call(logical_id, event)
        finally:
            died = self._died_in(event)
            if died:
                with self.lock:
                    self.crashed_invocations += 1
                raise FunctionError(logical_id, "Runtime.ExitError",
                                    f"the sender died after sending {', '.join(sorted(died))}", "chaos")

    def _died_in(self, event: Any) -> set[str]:
        import json

        ids = set()
        for record in (event or {}).get("Records") or []:
            try:
                ids.add(json.loads(record["body"])["message_id"])
            except (KeyError, TypeError, ValueError):
                continue
        with self.lock:
            died = ids & self.pending
            self.pending -= died
        return died


class _SenderDied(Exception):
    """The sender's process is gone: nothing after the provider call happened."""


def short_visibility(seconds: int) -> Callable[[str, str, str, str], Any]:
    from local.stack.resources import provision

    def provision_short(endpoint_url: str, region: str, name: str, environment: str) -> Any:
        import boto3

        provisioned = provision(endpoint_url, region, name, environment)
        sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        for key, url in provisioned.queue_urls.items():
            if not key.endswith("-dlq"):
                sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})
        return provisioned

    return provision_short
