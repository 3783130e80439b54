"""The local stack the contract tests and `make fuzz` run against, and what they read from it.

One `contract_stack()` serves the whole tests/contract package (conftest.py) and each `make fuzz`
run (tests/contract/fuzzing.py): `make run`'s LocalStack on a free loopback port, the provider
simulators given enough credit for every message a fuzz run sends, and one tenant whose key
authenticates every request (`Authorization: Bearer <key>`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from local.stack.stack import REPO_ROOT, LocalStack

DOCUMENT_PATH = "/openapi.json"
COMMITTED_DOCUMENT = REPO_ROOT / "functions" / "api" / "openapi.json"  # written by `make openapi`
# What a request may take on the local stack, the 10 MB body and the 100,000-level nesting
# included (the gateway's own integration timeout is 29 s).
REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class ContractStack:
    stack: LocalStack
    key: str  # the tenant's API key

    @property
    def api_url(self) -> str:
        return self.stack.api_url

    @property
    def document_url(self) -> str:
        return self.stack.api_url + DOCUMENT_PATH

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def served_document(self) -> dict[str, Any]:
        """GET /openapi.json (no key), as JSON; fails with the answer when it is not one."""
        response = requests.get(self.document_url, timeout=REQUEST_TIMEOUT)
        assert response.status_code == 200, f"GET {DOCUMENT_PATH}: {response.status_code} {response.text[:2000]}"
        try:
            document = response.json()
        except ValueError as exc:
            raise AssertionError(f"GET {DOCUMENT_PATH} is not JSON: {response.text[:2000]}") from exc
        assert isinstance(document, dict), f"GET {DOCUMENT_PATH} is not a JSON object: {response.text[:2000]}"
        return document


@contextmanager
def contract_stack(name: str = "contract") -> Iterator[ContractStack]:
    """The local stack with one tenant; every server it started is stopped on the way out."""
    local = LocalStack(port=0, environment="contract", start_schedules=False)
    local.start()
    try:
        # A fuzz run sends a few thousand messages: more than the simulators' default credit.
        local.sandbox.configure("passeinfo", balance=1_000_000)
        local.sandbox.configure("messagepro", credits=1_000_000)
        from tamtam.tenants import create_tenant  # after start(): it reads the stack's environment

        yield ContractStack(stack=local, key=create_tenant(name, usage_plan_id=local.usage_plan_id).api_key)
    finally:
        local.stop()


class Unresolvable(Exception):
    """A `$ref` that points to nothing in the document (or outside it)."""


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (`#/components/...`) until a node that is not one."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise Unresolvable(f"reference {ref!r} is not local, or circular")
        seen.add(ref)
        node = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise Unresolvable(f"reference {ref!r} points to nothing")
            node = node[part]
    return node


def write_document(document: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """`predicate()`'s first truthy value; fails with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
