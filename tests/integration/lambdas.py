"""Calling a function's handler in-process with an events/ file, as `sam local invoke -e`
would, through the local stack's invoker (same loader `make run` uses)."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local.stack.invoker import FunctionConfig, Invoker

ROOT = Path(__file__).resolve().parents[2]

_invoker = Invoker(
    [
        FunctionConfig.package(name, ROOT / "functions")
        for name in (
            "api",
            "authorizer",
            "sender",
            "finalizer",
            "webhooks",
            "status_poller",
            "balance_checker",
            "fanout",
            "scheduler",
            "rotation",
            "ingest",
            "lifecycle",
            "sweeper",
            "callbacks",
        )
    ]
)


def event(name: str) -> dict[str, Any]:
    """A copy of events/<name>.json."""
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


_pumping = threading.Lock()  # one pump at a time: concurrent invokes do not read the stream twice
_pump_after_invoke = True


def invoke(function: str, payload: dict[str, Any]) -> Any:
    """Invoke, then pump the table's change stream into the lifecycle function (as Lambda's
    stream mapping would a moment later), so that batch counters and events are current."""
    try:
        return _invoker.invoke(function, payload)
    finally:
        if function != "lifecycle" and _pump_after_invoke:
            pump_stream()


def pump_stream() -> int:
    from tests.integration import stream

    with _pumping:
        return stream.pump(_invoker.invoke)


@contextlib.contextmanager
def stream_paused() -> Iterator[None]:
    """No pumping after each invoke (a test that times the senders: in AWS the lifecycle
    function runs on its own CPU, not between the sender's calls); one pump at the end."""
    global _pump_after_invoke
    _pump_after_invoke = False
    try:
        yield
    finally:
        _pump_after_invoke = True
        pump_stream()
