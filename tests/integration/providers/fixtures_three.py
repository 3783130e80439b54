"""Fixtures of the Message Pro, FLOW SMS and Ventis client tests (imported with `import *`
by those test modules): one sandbox per test serving only the simulator under test, a clock
that moves only when the test says so (shared by the simulator and, unless a test wants
them apart, the client), an HTTP session that bypasses proxies, and a refused port."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from local.sandbox.server import SandboxServer, start_sandbox
from tamtam.providers.base import OutboundMessage
from tamtam.providers.http import make_session

__all__ = [
    "ManualClock",
    "flowsms_sandbox",
    "http_session",
    "manual_clock",
    "messagepro_sandbox",
    "outbound",
    "refused_url",
    "ventis_sandbox",
]


class ManualClock:
    """A clock for `Sandbox.clock` and the clients' `clock`: time moves only by `advance`."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def outbound(to: str, text: str = "Your code is 482913", *, sender: str | None = None,
             channel: str = "sms", message_id: str = "msg-1") -> OutboundMessage:
    return OutboundMessage(message_id=message_id, to=to, text=text, sender=sender, channel=channel)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


def _serve(provider: str, clock: ManualClock) -> Iterator[SandboxServer]:
    server = start_sandbox(providers=[provider])
    server.sandbox.clock = clock
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def messagepro_sandbox(manual_clock: ManualClock) -> Iterator[SandboxServer]:
    yield from _serve("messagepro", manual_clock)


@pytest.fixture
def flowsms_sandbox(manual_clock: ManualClock) -> Iterator[SandboxServer]:
    yield from _serve("flowsms", manual_clock)


@pytest.fixture
def ventis_sandbox(manual_clock: ManualClock) -> Iterator[SandboxServer]:
    yield from _serve("ventis", manual_clock)


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    """The clients' own kind of session, never routed through a proxy (loopback only)."""
    session = make_session()
    session.trust_env = False
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL whose port refuses connections (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
