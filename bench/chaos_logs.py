"""The chaos run's log lines, and the secrets none of them may hold.

`LogCapture` keeps every line this process writes while it is installed (the functions run
here): what goes to `sys.stdout` / `sys.stderr` (Powertools' JSON log lines and EMF metrics,
prints, tracebacks) and what any logging handler writes to a stream (each StreamHandler's
stream is wrapped), plus every record of the standard `logging` tree that reaches the root
logger (the local stack's own lines). Lines still go where they went.

`leaks()` looks for the secrets in them:
- provider credentials: every value of the sandbox's provider secrets that is a key, password,
  secret or signing key, and the Basic-auth header value made of a username and password;
- tokens: every JWT-shaped string, and every token the sandbox handed out (bench.chaos_provider
  `Wire`), the tenant's API key, the OTP pepper;
- OTP codes: a line holding the message's whole rendered text, or the code (as a number of its
  own) together with its message id, OTP id or phone number (a bare 6-digit number alone is too
  common in log lines -- microseconds, durations -- to prove a leak).
"""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

_SECRET_FIELDS = ("api_key", "password", "secret", "client_secret", "webhook_signing_key")
_JWT = re.compile(r"eyJ[\w-]{6,}\.eyJ[\w-]{6,}\.[\w-]{6,}")
_DIGITS = re.compile(r"(?<!\d)\d{4,10}(?!\d)")


class _Tee(io.TextIOBase):
    def __init__(self, inner: Any, capture: LogCapture):
        self.inner, self.capture = inner, capture

    def write(self, text: str) -> int:
        self.capture.feed(text)
        return self.inner.write(text)

    def flush(self) -> None:
        with contextlib.suppress(ValueError):  # the stream it wraps was closed (at exit)
            self.inner.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")


class _RootHandler(logging.Handler):
    """Keeps the records that reach the root logger; prints WARNING+ the way logging's
    last resort would have (adding a handler to root turns the last resort off)."""

    def __init__(self, capture: LogCapture):
        super().__init__(logging.NOTSET)
        self.capture = capture
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a log handler never raises
            return
        self.capture.feed(line + "\n", echo=False)
        if record.levelno >= logging.WARNING and self.capture.echo_warnings:
            sys.__stderr__.write(line + "\n")


class LogCapture:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.echo_warnings = not logging.getLogger().handlers
        self._partial = ""
        self._undo: list[Any] = []

    def feed(self, text: str, echo: bool = True) -> None:
        with self.lock:
            text = self._partial + text
            *done, self._partial = text.split("\n")
            self.lines.extend(done)

    def install(self) -> LogCapture:
        saved_out, saved_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(saved_out, self), _Tee(saved_err, self)
        self._undo.append(lambda: (setattr(sys, "stdout", saved_out), setattr(sys, "stderr", saved_err)))
        loggers = [logging.getLogger()] + [
            lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
        ]
        for lg in loggers:
            for handler in lg.handlers:
                if isinstance(handler, logging.StreamHandler) and not isinstance(handler.stream, _Tee) \
                        and handler.stream not in (sys.stdout, sys.stderr):
                    stream = handler.stream
                    handler.setStream(_Tee(stream, self))
                    self._undo.append(lambda h=handler, s=stream: h.setStream(s))
        root = _RootHandler(self)
        logging.getLogger().addHandler(root)
        self._undo.append(lambda: logging.getLogger().removeHandler(root))
        return self

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()
        with self.lock:
            if self._partial:
                self.lines.append(self._partial)
                self._partial = ""


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)  # value -> what it is
    otps: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)  # (code, rendered text, context)

    def add(self, value: Any, what: str) -> None:
        if isinstance(value, str) and len(value) >= 6:
            self.values.setdefault(value, what)

    def add_provider_secret(self, provider: str, secret: dict[str, Any]) -> None:
        for key in _SECRET_FIELDS:
            self.add(secret.get(key), f"{provider} {key}")
        user, password = (
            secret.get("username") or secret.get("client_id"),
            secret.get("password") or secret.get("client_secret"),
        )
        if user and password:
            self.add(base64.b64encode(f"{user}:{password}".encode()).decode(), f"{provider} Basic credentials")


@dataclass
class Leak:
    what: str
    line: str


def leaks(lines: Iterable[str], secrets: Secrets) -> list[Leak]:
    found: list[Leak] = []
    codes: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
    for code, text, context in secrets.otps:
        codes.setdefault(code, []).append((text, context))
    for line in lines:
        for value, what in secrets.values.items():
            if value in line:
                found.append(Leak(what, line))
        if _JWT.search(line) is not None:
            found.append(Leak("a JWT", line))
        for number in set(_DIGITS.findall(line)) & codes.keys():
            for text, context in codes[number]:
                if text in line or any(c and c in line for c in context):
                    found.append(Leak("an OTP code", line))
        if len(found) > 1000:
            break
    return found
