"""Fixtures of the Message Pro, FLOW SMS and Ventis client tests (imported with `import *`
by those test modules): one sandbox per test serving only the simulator under test, a clock
that moves only when the test says so (shared by the simulator and, unless a test wants
them apart, the client), an HTTP session that bypasses proxies, a refused port, and a canned
server (a provider answering exactly what a test scripts, to show how a client reads answers
the sandbox would never give by default)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from local.sandbox.server import SandboxServer, start_sandbox
from tamtam.providers.base import OutboundMessage
from tamtam.providers.http import make_session

__all__ = [
    "Canned",
    "CannedServer",
    "ManualClock",
    "canned_server",
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


@dataclass(frozen=True)
class Canned:
    """One scripted answer."""

    status: int = 200
    body: bytes | str = b""
    content_type: str = "application/json"


@dataclass
class CannedServer:
    """A loopback HTTP server answering the scripted `answers` in turn (the last one repeats)
    and recording each request as (method, path, headers with lower-case names, body)."""

    url: str
    answers: list[Canned] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, status: int = 200, body: bytes | str = b"", content_type: str = "application/json") -> None:
        self.answers.append(Canned(status, body, content_type))


@pytest.fixture
def canned_server() -> Iterator[CannedServer]:
    canned = CannedServer(url="")

    class Handler(BaseHTTPRequestHandler):  # HTTP/1.0: one request a connection, none left open
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with canned.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                canned.requests.append((self.command, self.path, headers, body))
                scripted = (canned.answers.pop(0) if len(canned.answers) > 1 else canned.answers[0]) \
                    if canned.answers else Canned(500, b"no answer scripted", "text/plain")
            payload = scripted.body.encode() if isinstance(scripted.body, str) else scripted.body
            self.send_response(scripted.status)
            self.send_header("Content-Type", scripted.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - the method names http.server dispatches to

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = False
    server.block_on_close = True
    canned.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-receiver-canned")
    thread.start()
    try:
        yield canned
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
