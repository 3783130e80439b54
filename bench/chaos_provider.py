"""Provider-side faults of `make chaos`, and what the harness sees on the wire to the providers.

- `FaultInjector`: a thread that keeps giving each provider's send endpoint an intermittent
  fault through the sandbox's control API: every tick one provider gets `times` (1-3) requests
  of one mode (5xx, timeout, slow, drop), replacing what it had left. Faults it applied are
  counted from the sandbox's own log lines (its log file: it runs in a process of its own).
- `TlsRefuser`: a loopback TCP server that accepts a connection, reads the TLS ClientHello and
  answers plain HTTP bytes (the client's handshake fails: "wrong version number") or closes (an
  EOF in the handshake), alternately; every connection is one handshake failed, counted here.
  `TlsOutage` points providers' `base_url` (their secret in the emulated Secrets Manager) at it,
  `https://`, for `period` seconds every `every` seconds, then back; the functions see it once
  their cached secret expires (the chaos run sets SECRET_MAX_AGE_SECONDS to 2).
- `Wire`: wraps `requests.adapters.HTTPAdapter.send` in this process (where the functions run).
  A provider request of an invocation that is dead or past its deadline never leaves
  (bench.chaos_kills `alive`; recorded as "stopped": the code had decided to send, and marked
  it dispatched, before its invocation died). Every request written to the sandbox's socket is recorded by the
  phone numbers in its URL and body ("received": the sandbox is on loopback and always accepts,
  so a request it held until the client timed out was received too; one to the TLS refuser was
  not). Tokens the sandbox hands out (token endpoints' JSON answers) are kept: they are secrets
  the log check looks for.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import requests.adapters

from local.stack.invoker import current

SEND_PATHS = {  # the part of each provider's send path the faults match (core.Fault.match)
    "passeinfo": "/v1/message/",
    "messagepro": "send/sms",
    "flowsms": "send-sms/",
    "ventis": "/messaging/api/v1/message",
    "smsgate": "/3rdparty/v1/messages",
}
MODES = ("error", "timeout", "slow", "drop")


class FaultInjector:
    def __init__(self, sandbox: Any, *, seed: int, log_path: Path | None = None, tick: float = 0.5,
                 timeout_delay: float = 3.0, slow_delay: float = 1.0):
        self.sandbox, self.tick, self.log_path = sandbox, tick, log_path
        self.timeout_delay, self.slow_delay = timeout_delay, slow_delay
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)

    def start(self) -> FaultInjector:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self.sandbox.clear_faults()

    def count(self) -> None:
        """The faults the sandbox applied, from its log (call once the run is over)."""
        if self.log_path is not None and self.log_path.exists():
            self.applied = applied_faults(self.log_path.read_text(errors="replace"))

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            provider = self.rng.choice(list(SEND_PATHS))
            mode = self.rng.choice(MODES)
            fault: dict[str, Any] = {"times": self.rng.randint(1, 3), "match": SEND_PATHS[provider]}
            if mode == "error":
                fault["status"] = self.rng.choice([500, 502, 503])
            elif mode == "timeout":
                fault["delay"] = self.timeout_delay
            elif mode == "slow":
                fault["delay"] = self.slow_delay
            try:
                self.sandbox.clear_faults(provider)
                self.sandbox.fault(provider, mode, **fault)
            except Exception:  # noqa: BLE001 - the sandbox is stopping
                return
            self.injected[mode] += fault["times"]


_APPLIED = re.compile(r"sandbox fault (\w+) on ")


def applied_faults(log: str) -> Counter[str]:
    """Faults by mode, from the sandbox's "sandbox fault <mode> on <provider> <path>" lines."""
    return Counter(m.group(1) for m in _APPLIED.finditer(log))


# -- TLS handshakes that fail ---------------------------------------------------------------


class TlsRefuser:
    """127.0.0.1:<port>, where no TLS handshake ever succeeds."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handshakes = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="chaos-tls", daemon=True)

    def start(self) -> TlsRefuser:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with self.lock:
                self.handshakes += 1
                garbage = self.handshakes % 2 == 0
            threading.Thread(target=self._refuse, args=(conn, garbage), daemon=True).start()

    @staticmethod
    def _refuse(conn: socket.socket, garbage: bool) -> None:
        try:
            conn.settimeout(2)
            conn.recv(4096)  # the ClientHello
            if garbage:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        except OSError:
            pass
        finally:
            conn.close()


class TlsOutage:
    """Providers' base URL on the TLS refuser for `period` s every `every` s (first after `first`)."""

    def __init__(self, *, sm: Any, secret_ids: dict[str, str], secrets: dict[str, dict[str, Any]], sandbox_url: str,
                 refuser: TlsRefuser, providers: tuple[str, ...], every: float, period: float, first: float = 5.0):
        self.sm, self.secret_ids, self.secrets = sm, secret_ids, secrets
        self.sandbox_url, self.refuser, self.providers = sandbox_url.rstrip("/"), refuser, providers
        self.every, self.period, self.first = every, period, first
        self.outages = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-tls-outage", daemon=True)

    def start(self) -> TlsOutage:
        self._thread.start()
        return self

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()

    def _put(self, provider: str, broken: bool) -> None:
        secret = dict(self.secrets[provider])
        if broken:
            tls = f"https://127.0.0.1:{self.refuser.port}"
            secret = {k: v.replace(self.sandbox_url, tls) if isinstance(v, str) else v for k, v in secret.items()}
        self.sm.put_secret_value(SecretId=self.secret_ids[provider], SecretString=json.dumps(secret))

    def _run(self) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            for provider in self.providers:
                self._put(provider, True)
            self.outages += 1
            self._stop.wait(self.period)
            for provider in self.providers:
                self._put(provider, False)
            wait = max(self.every - self.period, 1.0)


# -- the wire ------------------------------------------------------------------------------

_NUMBERS = re.compile(r"\d{8,15}")
_TOKEN_KEYS = ("access", "refresh", "access_token", "refresh_token", "token", "id_token")


class Wire:
    def __init__(self, sandbox_url: str, alive: Any, also: tuple[str, ...] = ()):
        """`also`: other provider addresses (the TLS refuser's): requests to them are stopped
        like the sandbox's, never counted as received."""
        self.sandbox_url, self.alive = sandbox_url.rstrip("/"), alive
        self.others = tuple(a.rstrip("/") for a in also)
        self.received: Counter[str] = Counter()  # digit runs (8-15) -> provider requests holding them
        self.stopped: Counter[str] = Counter()  # ... requests a dead invocation was about to write
        self.refused: Counter[str] = Counter()  # ... requests whose TLS handshake failed (the `also` servers)
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        self._original: Any = None

    def install(self) -> Wire:
        original = self._original = requests.adapters.HTTPAdapter.send
        wire = self

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            to_sandbox = request.url.startswith(wire.sandbox_url) and "/_sandbox/" not in request.url
            to_provider = to_sandbox or request.url.startswith(wire.others)
            if to_provider and current() is not None:
                try:
                    wire.alive("provider request")
                except BaseException:
                    wire._record(request, wire.stopped)
                    raise
            if to_sandbox:
                wire._record(request)
            elif to_provider:
                wire._record(request, wire.refused)
            response = original(adapter, request, *args, **kwargs)
            if to_sandbox and ("token" in request.url or "/auth" in request.url):
                wire._harvest(response)
            return response

        requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        if self._original is not None:
            requests.adapters.HTTPAdapter.send = self._original  # type: ignore[method-assign]
            self._original = None

    def _record(self, request: Any, into: Counter[str] | None = None) -> None:
        body = request.body or b""
        text = (
            unquote_plus(request.url) + " " + (body.decode(errors="replace") if isinstance(body, bytes) else str(body))
        )
        numbers = set(_NUMBERS.findall(text))
        with self.lock:
            (self.received if into is None else into).update(numbers)

    def requests_for(self, phone: str, *, stopped: bool = False, refused: bool = False) -> int:
        """Provider requests the sandbox received naming `phone` (in international or national
        form: some providers take the number without its country code); `stopped`: requests
        that never left because their invocation had died (after the code decided to send);
        `refused`: requests whose TLS handshake failed."""
        d = "".join(c for c in phone if c.isdigit())
        seen = self.stopped if stopped else self.refused if refused else self.received
        with self.lock:
            return max(seen.get(d, 0), seen.get(d[-9:], 0), seen.get(d[-8:], 0))

    def _harvest(self, response: Any) -> None:
        try:
            answer = response.json()
        except ValueError:
            return
        if isinstance(answer, dict):
            with self.lock:
                self.tokens.update(
                    str(answer[k]) for k in _TOKEN_KEYS if isinstance(answer.get(k), str) and len(answer[k]) >= 12
                )
