"""The sandbox frame: an HTTP server on loopback that dispatches `/<provider>/...` to that
provider's simulator, keeps the outbox, and injects faults.

Control API (JSON), under `/_sandbox`:
- `GET  /_sandbox/outbox[?provider=&to=]`   what providers were asked to send (list)
- `DELETE /_sandbox/outbox`                  empty it
- `PUT  /_sandbox/faults/<provider>`         `{"mode": ..., "status"?, "delay"?, "times"?,
                                              "match"?, "reason"?}` (see `Fault`)
- `DELETE /_sandbox/faults[/<provider>]`     clear faults
- `PUT  /_sandbox/config/<provider>`         provider-specific settings (token lifetimes...)
- `GET  /_sandbox/state/<provider>`          provider-specific state (keys, tokens, messages)
- `POST /_sandbox/<provider>/inbound`        `{"from", "text"[, "channel"]}`: someone texts the
                                              provider, which calls its webhooks (local.sandbox.inbound)
- `GET  /_sandbox/health`

A simulator is a `ProviderSim` subclass registered in `local.sandbox.server`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs


class Headers(dict):
    """Case-insensitive header lookup."""

    def __init__(self, items: dict[str, str] | None = None):
        super().__init__({k.lower(): v for k, v in (items or {}).items()})

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


@dataclass
class SimRequest:
    method: str
    path: str  # the path after the provider prefix, starting with "/" (query string removed)
    query: dict[str, list[str]]
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """Form fields merged over query fields, like PHP's $_REQUEST (last value wins)."""
        merged = {k: v[-1] for k, v in self.query.items()}
        ctype = self.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" in ctype and self.body:
            merged.update({k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()})
        return merged

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        return (self.body or b""), self.content_type or "application/octet-stream"


def json_response(body: Any, status: int = 200, **headers: str) -> SimResponse:
    return SimResponse(status=status, body=body, headers=dict(headers))


@dataclass
class Fault:
    """One injected fault for a provider.

    mode:
    - "error": answer `status` in the provider's own error shape (`ProviderSim.error_response`)
    - "reject": refuse the send for `reason` (a stable reason code such as
      "insufficient_credit", "invalid_number", "auth_failed", "sender_not_approved",
      "device_offline") in the provider's own words (`ProviderSim.reject_response`)
    - "timeout": accept the connection, never answer (for `delay` seconds, default 30), close
    - "slow": wait `delay` seconds, then answer normally
    - "drop": handle the request normally (the message is taken), then close without answering
    - "echo": answer `status` with the request itself (`echo_response`): a misbehaving proxy or
      debug handler, or a token endpoint's unexpected answer, repeating the credentials it got
    `times`: how many requests it applies to (None = until cleared).
    `match`: only requests whose path contains this text (None = every request of the provider).
    """

    mode: str
    status: int = 503
    delay: float = 30.0
    times: int | None = None
    match: str | None = None
    reason: str | None = None


# Headers every client sends that say nothing about the caller: left out of an echo, so that
# what it repeats (credentials, body) comes first and fits in the clients' truncated raw texts.
_TRANSPORT_HEADERS = frozenset(
    {"host", "connection", "accept", "accept-encoding", "user-agent", "content-length", "content-type"}
)


def echo_response(req: SimRequest, status: int) -> SimResponse:
    """The request repeated in a JSON error (`echo` fault): the method and path with its query,
    the caller's own headers, the body; under every key the clients read an error's words from
    (`message`, `error_description`, `detail`)."""
    query = "&".join(f"{name}={value}" for name, values in req.query.items() for value in values)
    headers = " ".join(f"{name}: {value}" for name, value in req.headers.items() if name not in _TRANSPORT_HEADERS)
    parts = (f"{req.method} {req.path}" + (f"?{query}" if query else ""), headers, req.body.decode("utf-8", "replace"))
    text = " ".join(part for part in parts if part)
    return json_response({"error": "request_echo", "message": text, "error_description": text, "detail": text}, status)


@dataclass
class OutboxEntry:
    provider: str
    to: str
    text: str
    sender: str | None = None
    provider_message_id: str | None = None
    channel: str = "sms"
    at: float = field(default_factory=time.time)  # when the request that carried it arrived
    extra: dict[str, Any] = field(default_factory=dict)
    request: int = 0  # the HTTP request that carried it: several recipients of one list share one


class ProviderSim:
    """Base of a provider simulator. Subclasses set `name` (also the URL prefix) and
    implement `handle`; they record accepted messages with `self.sandbox.record(...)`."""

    name: str = ""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.lock = threading.RLock()
        self.settings: dict[str, Any] = {}

    def handle(self, req: SimRequest) -> SimResponse:
        raise NotImplementedError

    def error_response(self, status: int) -> SimResponse:
        """An HTTP-level failure of this provider (5xx, 429...) in its own shape."""
        return json_response({"message": "Service Unavailable"}, status)

    def reject_response(self, reason: str) -> SimResponse:
        """A send refused for `reason`, the way this provider says it."""
        return json_response({"message": reason}, 400)

    def configure(self, settings: dict[str, Any]) -> None:
        with self.lock:
            self.settings.update(settings)

    def state(self) -> dict[str, Any]:
        return {"settings": self.settings}

    def new_id(self) -> str:
        return uuid.uuid4().hex


class Sandbox:
    """Outbox, faults and simulators, shared by the HTTP server threads."""

    def __init__(self, sims: list[Callable[[Sandbox], ProviderSim]]):
        self.lock = threading.RLock()
        self.outbox: list[OutboxEntry] = []
        self.faults: dict[str, list[Fault]] = {}
        self.sims: dict[str, ProviderSim] = {}
        self.clock: Callable[[], float] = time.time  # tests may replace it to make time pass
        self.base_url = ""  # set by the server once bound
        self._requests = itertools.count(1)
        self._current = threading.local()
        for factory in sims:
            sim = factory(self)
            self.sims[sim.name] = sim

    # outbox
    def begin_request(self) -> None:
        """A provider request starts on this thread: what it records shares its number, and is
        timed when the request arrived (not when the simulator got round to recording it)."""
        self._current.request = next(self._requests)
        self._current.at = time.time()

    def record(self, entry: OutboxEntry) -> None:
        if not entry.request:
            entry.request = getattr(self._current, "request", 0)
            entry.at = getattr(self._current, "at", entry.at)
        with self.lock:
            self.outbox.append(entry)

    def outbox_items(self, provider: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            items = list(self.outbox)
        return [
            asdict(e)
            for e in items
            if (provider is None or e.provider == provider) and (to is None or to in (e.to, e.to.lstrip("+")))
        ]

    # faults
    def set_fault(self, provider: str, fault: Fault) -> None:
        with self.lock:
            self.faults.setdefault(provider, []).append(fault)

    def clear_faults(self, provider: str | None = None) -> None:
        with self.lock:
            if provider is None:
                self.faults.clear()
            else:
                self.faults.pop(provider, None)

    def take_fault(self, provider: str, path: str) -> Fault | None:
        """The fault that applies to this request, counting it down."""
        with self.lock:
            for fault in self.faults.get(provider, []):
                if fault.match and fault.match not in path:
                    continue
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                return fault
        return None
