"""A small client of the sandbox control API (`/_sandbox`, see `core`), for tests and the
local stack."""

from __future__ import annotations

from typing import Any

import requests

_TIMEOUT = (2.0, 10.0)


class SandboxControl:
    """Drives a running sandbox: outbox, faults, simulator settings and state."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self._session = requests.Session()
        self._session.trust_env = False  # the sandbox is on loopback: never through a proxy

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._session.request(method, f"{self.url}/_sandbox/{path}", timeout=_TIMEOUT, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"sandbox control {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def outbox(self, provider: str | None = None, to: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("provider", provider), ("to", to)) if v is not None}
        return self._call("GET", "outbox", params=params)

    def clear_outbox(self) -> int:
        return self._call("DELETE", "outbox")["cleared"]

    def fault(self, provider: str, mode: str, **kw: Any) -> dict[str, Any]:
        """Inject a fault (`core.Fault`: status, delay, times, match, reason)."""
        return self._call("PUT", f"faults/{provider}", json={"mode": mode, **kw})

    def clear_faults(self, provider: str | None = None) -> None:
        self._call("DELETE", "faults" if provider is None else f"faults/{provider}")

    def configure(self, provider: str, **settings: Any) -> dict[str, Any]:
        """Change simulator settings; answers the simulator's settings after the change."""
        return self._call("PUT", f"config/{provider}", json=settings)

    def state(self, provider: str) -> dict[str, Any]:
        return self._call("GET", f"state/{provider}")

    def inbound(self, provider: str, sender: str, text: str, channel: str = "sms") -> dict[str, Any]:
        """Someone texts the provider: it calls its webhooks (local.sandbox.inbound)."""
        return self._call("POST", f"{provider}/inbound", json={"from": sender, "text": text, "channel": channel})

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
