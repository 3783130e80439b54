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
    [FunctionConfig(logical_id=name, code_dir=ROOT / "functions" / name) for name in ("api", "authorizer", "sender", "finalizer", "webhooks", "status_poller", "balance_checker", "fanout", "scheduler", "rotation", "ingest")]
)


def event(name: str) -> dict[str, Any]:
    """A copy of events/<name>.json."""
    return copy.deepcopy(json.loads((ROOT / "events" / f"{name}.json").read_text()))


def invoke(function: str, payload: dict[str, Any]) -> Any:
    return _invoker.invoke(function, payload)
