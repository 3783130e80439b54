"""Fixtures of the provider client tests: the sandbox on loopback (PasseInfo and SMSGate
simulators), its control client, a clock the test moves by hand, a port nothing listens on,
and a tiny webhook receiver. Each test starts and stops what it uses."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.sandbox.client import SandboxControl
from local.sandbox.server import SandboxServer, start_sandbox


def _sandbox_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(("sandbox-", "test-receiver"))}


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = _sandbox_threads()
    yield
    deadline = time.monotonic() + 2.0
    while _sandbox_threads() - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _sandbox_threads() - before, "a sandbox or receiver thread outlived its test"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(providers=["passeinfo", "smsgate"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    with SandboxControl(sandbox.url) as client:
        yield client


class ManualClock:
    """Replaces `Sandbox.clock`: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(sandbox: SandboxServer) -> ManualClock:
    manual = ManualClock()
    sandbox.sandbox.clock = manual
    return manual


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL whose port refuses connections (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answers to give first, then 200
    calls: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.calls) >= count, timeout)
            return list(self.calls)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """An HTTP server on 127.0.0.1 recording every POST (raw body kept for HMAC checks)."""
    receiver = WebhookReceiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.arrived:
                receiver.calls.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = False
    server.block_on_close = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/smsgate"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-receiver")
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
