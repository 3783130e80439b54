"""The sandbox HTTP server: a `ThreadingHTTPServer` on 127.0.0.1 that serves the control API
of `core` under `/_sandbox` and dispatches `/<provider>/...` to that provider's simulator,
applying the injected faults on the way.

    with start_sandbox(providers=["smsgate"]) as sb:
        requests.post(f"{sb.url}/smsgate/3rdparty/v1/messages", ...)

`stop()` ends everything it started: the accept loop, every connection thread (idle
keep-alive connections are shut down, "timeout"/"slow" faults stop waiting) and the
simulators' background threads (a simulator may define `close()`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from dataclasses import asdict, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.sandbox import inbound
from local.sandbox.core import (
    Fault,
    Headers,
    ProviderSim,
    Sandbox,
    SimRequest,
    SimResponse,
    echo_response,
    json_response,
)

logger = logging.getLogger("tamtam.sandbox")

# provider name (also the URL prefix) -> "module:ClassName", imported only when started.
SIMULATORS: dict[str, str] = {
    "passeinfo": "local.sandbox.passeinfo:PasseInfoSim",
    "smsgate": "local.sandbox.smsgate:SmsGateSim",
    "messagepro": "local.sandbox.messagepro:MessageProSim",
    "flowsms": "local.sandbox.flowsms:FlowSmsSim",
    "ventis": "local.sandbox.ventis:VentisSim",
}

FAULT_MODES = frozenset({"error", "reject", "timeout", "slow", "drop", "echo"})
_FAULT_FIELDS = frozenset(f.name for f in fields(Fault))
IDLE_CONNECTION_TIMEOUT = 60.0  # seconds an idle keep-alive connection stays open


def load_simulator(name: str) -> type[ProviderSim]:
    """The simulator class registered for `name` (ValueError for an unknown name)."""
    if name not in SIMULATORS:
        raise ValueError(f"unknown provider {name!r}; known: {', '.join(SIMULATORS)}")
    module_name, _, class_name = SIMULATORS[name].partition(":")
    return getattr(import_module(module_name), class_name)


class _Server(ThreadingHTTPServer):
    # Non-daemon request threads, joined by server_close(): nothing is left running.
    daemon_threads = False
    block_on_close = True

    def __init__(self, port: int, sandbox: Sandbox):
        self.sandbox = sandbox
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def shutdown_connections(self) -> None:
        """Unblock every connection thread (an idle keep-alive read returns at once)."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer (it timed out, we stopped) is not worth a traceback.
        logger.debug("sandbox connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real providers (clients pool connections)
    server_version = "tamtam-sandbox/1"
    timeout = IDLE_CONNECTION_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("sandbox %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET  # noqa: N815 - http.server's names

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        body = self._read_body()
        first, _, rest = parts.path.lstrip("/").partition("/")
        query = parse_qs(parts.query, keep_blank_values=True)
        sandbox = self.server.sandbox
        if first == "_sandbox":
            response: SimResponse | None = _control(sandbox, self.command, rest, query, body)
        elif first in sandbox.sims:
            req = SimRequest(self.command, "/" + rest, query, Headers(dict(self.headers.items())), body)
            response = self._provider(sandbox.sims[first], req)
        else:
            response = json_response({"message": f"no simulator for {parts.path!r}"}, 404)
        if response is None:  # a fault: close without answering
            self.close_connection = True
            return
        self._write(response)

    def _provider(self, sim: ProviderSim, req: SimRequest) -> SimResponse | None:
        self.server.sandbox.begin_request()
        fault = self.server.sandbox.take_fault(sim.name, req.path)
        if fault is None:
            return _handle(sim, req)
        logger.info("sandbox fault %s on %s %s", fault.mode, sim.name, req.path)
        if fault.mode == "error":
            return sim.error_response(fault.status)
        if fault.mode == "reject":
            return sim.reject_response(fault.reason or "rejected")
        if fault.mode == "echo":
            return echo_response(req, fault.status)
        if fault.mode == "timeout":
            self.server.stopping.wait(fault.delay)
            return None
        if fault.mode == "slow":
            if self.server.stopping.wait(fault.delay):
                return None
            return _handle(sim, req)
        _handle(sim, req)  # "drop": the provider takes the message, the answer is lost
        return None

    def _write(self, response: SimResponse) -> None:
        payload, content_type = response.encoded()
        self.send_response(response.status)
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.status != 204 and "content-type" not in headers:
            self.send_header("Content-Type", content_type)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.status == 204 or self.command == "HEAD":
            payload = b""
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _handle(sim: ProviderSim, req: SimRequest) -> SimResponse:
    try:
        return sim.handle(req)
    except json.JSONDecodeError:
        return json_response({"message": "request body is not valid JSON"}, 400)
    except Exception:  # a simulator bug must not kill the connection thread silently
        logger.exception("sandbox simulator %s failed on %s %s", sim.name, req.method, req.path)
        return json_response({"message": f"sandbox simulator {sim.name} failed"}, 500)


def _control(sandbox: Sandbox, method: str, path: str, query: dict[str, list[str]], body: bytes) -> SimResponse:
    """The control API documented in `core`."""
    parts = [p for p in path.split("/") if p]
    resource, provider = [*parts, None, None][:2]
    try:
        data = json.loads(body) if body else {}
        if method == "POST" and len(parts) == 2 and parts[1] == "inbound":  # /_sandbox/<provider>/inbound
            return inbound.deliver(sandbox, parts[0], data)
        if resource == "health" and method == "GET":
            return json_response({"status": "ok", "providers": sorted(sandbox.sims)})
        if resource == "outbox" and provider is None:
            if method == "GET":
                first = {k: v[-1] for k, v in query.items()}
                return json_response(sandbox.outbox_items(first.get("provider"), first.get("to")))
            if method == "DELETE":
                with sandbox.lock:
                    cleared = len(sandbox.outbox)
                    sandbox.outbox.clear()
                return json_response({"cleared": cleared})
        if resource == "faults" and method == "DELETE":
            if provider is not None:
                _sim(sandbox, provider)
            sandbox.clear_faults(provider)
            return SimResponse(204)
        if resource == "faults" and method == "PUT" and provider:
            _sim(sandbox, provider)
            fault = _fault_from(data)
            sandbox.set_fault(provider, fault)
            return json_response(asdict(fault), 201)
        if resource == "config" and method == "PUT" and provider:
            sim = _sim(sandbox, provider)
            if not isinstance(data, dict):
                raise ValueError("settings must be a JSON object")
            sim.configure(data)
            return json_response(sim.state().get("settings", {}))
        if resource == "state" and method == "GET" and provider:
            return json_response(_sim(sandbox, provider).state())
    except LookupError as exc:
        return json_response({"message": str(exc.args[0] if exc.args else exc)}, 404)
    except (ValueError, TypeError) as exc:
        return json_response({"message": str(exc)}, 400)
    return json_response({"message": f"no control route {method} /_sandbox/{path}"}, 404)


def _sim(sandbox: Sandbox, provider: str) -> ProviderSim:
    if provider not in sandbox.sims:
        raise LookupError(f"provider {provider!r} is not running in this sandbox")
    return sandbox.sims[provider]


def _fault_from(data: Any) -> Fault:
    if not isinstance(data, dict):
        raise ValueError("a fault is a JSON object")
    unknown = set(data) - _FAULT_FIELDS
    if unknown:
        raise ValueError(f"unknown fault fields: {', '.join(sorted(unknown))}")
    fault = Fault(**data)
    if fault.mode not in FAULT_MODES:
        raise ValueError(f"fault mode must be one of {', '.join(sorted(FAULT_MODES))}")
    if fault.delay < 0 or (fault.times is not None and fault.times < 0):
        raise ValueError("delay and times must not be negative")
    return fault


class SandboxServer:
    """A running sandbox: `url` (http://127.0.0.1:<port>), `sandbox` (outbox, faults, sims)."""

    def __init__(self, server: _Server):
        self._server = server
        self.sandbox = server.sandbox
        self.port: int = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox.base_url = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-{self.port}"
        )
        self._stopped = False

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end every connection and simulator thread; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stopping.set()
        self._server.shutdown()
        self._server.shutdown_connections()
        self._server.server_close()  # joins the connection threads
        self._thread.join()
        for sim in self.sandbox.sims.values():
            close = getattr(sim, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(port: int = 0, providers: list[str] | None = None) -> SandboxServer:
    """Start the sandbox on 127.0.0.1:`port` (0: any free port, see `.url`) with the
    simulators of `providers` (default: every registered one)."""
    names = list(SIMULATORS) if providers is None else list(providers)
    sandbox = Sandbox([load_simulator(name) for name in names])
    return SandboxServer(_Server(port, sandbox)).start()
