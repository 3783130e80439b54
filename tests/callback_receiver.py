"""A tenant's callback receiver for the tests: a real HTTP server on 127.0.0.1 that answers the
statuses it is given, in turn (the last one for every request after), and keeps every request
(path, headers, raw body) it got."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_verify() -> Callable[..., bool]:
    """The `verify` function of the README's "Status callbacks" section, run as it is written."""
    section = README.read_text(encoding="utf-8").split("## Status callbacks", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "the README's Status callbacks section has no python block"
    scope: dict[str, Any] = {}
    exec(compile(found.group(1), str(README), "exec"), scope)  # noqa: S102 (the documentation's own code)
    return scope["verify"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.monotonic()

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    def __init__(self, *statuses: int, delay: float = 0.0):
        self.statuses = list(statuses) or [200]
        self.delay = delay
        self.got: list[Received] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner._lock:
                    owner.got.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                              time.monotonic()))
                    status = owner.statuses.pop(0) if len(owner.statuses) > 1 else owner.statuses[0]
                if owner.delay:
                    time.sleep(owner.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="callback-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tamtam"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self, message_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            got = list(self.got)
        return [r.event for r in got if message_id is None or r.event.get("message_id") == message_id]
