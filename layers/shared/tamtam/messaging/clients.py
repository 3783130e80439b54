"""Provider clients cached per warm Lambda, so tokens and connections are reused. A client is
rebuilt when its secret changes (a rotation, or a refetch after an auth failure)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from tamtam.providers.base import ProviderClient
from tamtam.providers.registry import build_client

SecretLoader = Callable[..., dict[str, Any]]


def _fingerprint(secret: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(secret, sort_keys=True).encode()).hexdigest()


class ClientCache:
    def __init__(self, load_secret: SecretLoader):
        self._load_secret = load_secret
        self._clients: dict[str, tuple[str, ProviderClient]] = {}
        self._lock = threading.Lock()

    def get(self, provider: str, *, force: bool = False) -> ProviderClient:
        secret = self._load_secret(provider, force=force) if force else self._load_secret(provider)
        fingerprint = _fingerprint(secret)
        with self._lock:
            cached = self._clients.get(provider)
            if cached is None or cached[0] != fingerprint:
                cached = (fingerprint, build_client(provider, secret))
                self._clients[provider] = cached
            return cached[1]

    def refresh(self, provider: str) -> ProviderClient:
        """Refetch the secret (it may have been rotated) and rebuild the client if it changed."""
        return self.get(provider, force=True)
