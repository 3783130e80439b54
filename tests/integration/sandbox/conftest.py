"""Fixtures of the sandbox frame tests: a sandbox of two simulators on loopback, its control
client, and a check that each test leaves no sandbox thread behind."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from local.sandbox.client import SandboxControl
from local.sandbox.server import SandboxServer, start_sandbox

PROVIDERS = ["passeinfo", "smsgate"]
PASSEINFO_HEADERS = {"Api-Key": "sandbox-api-key", "Client-Id": "sandbox-client"}
SMSGATE_AUTH = ("sandbox", "sandbox-password")


def _sandbox_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("sandbox-")}


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = _sandbox_threads()
    yield
    deadline = time.monotonic() + 2.0
    while _sandbox_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _sandbox_threads() - before, "a sandbox thread outlived its test"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(providers=PROVIDERS)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox.url) as client:
        yield client
