"""Calling a function's handler in-process with an events/ file, as `sam local invoke -e`
would, through the local stack's invoker (same loader `make run` uses)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from local.stack.invoker import FunctionConfig, Invoker

ROOT = Path(__file__).resolve().parents[2]

_invoker = Invoker(
    [FunctionConfig(logical_id=name, code_dir=ROOT / "functions" / name) for name in ("api", "authorizer", "sender", "finalizer", "webhooks", "status_poller", "balance_checker", "fanout", "scheduler", "rotation", "ingest", "lifecycle", "sweeper")]
)


def event(name: str) -> dict[str, Any]:
    """A copy of events/<name>.json."""
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


def invoke(function: str, payload: dict[str, Any]) -> Any:
    """Invoke, then pump the table's change stream into the lifecycle function (as Lambda's
    stream mapping would a moment later), so that batch counters and events are current."""
    try:
        return _invoker.invoke(function, payload)
    finally:
        if function != "lifecycle":
            pump_stream()


def pump_stream() -> int:
    from tests.integration import stream

    return stream.pump(_invoker.invoke)
