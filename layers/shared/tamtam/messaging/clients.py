"""Provider clients cached per warm Lambda, so tokens and connections are reused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tamtam.providers.base import ProviderClient
from tamtam.providers.registry import build_client

SecretLoader = Callable[..., dict[str, Any]]


class ClientCache:
    def __init__(self, load_secret: SecretLoader):
        self._load_secret = load_secret
        self._clients: dict[str, ProviderClient] = {}
        self._lock = threading.Lock()

    def get(self, provider: str) -> ProviderClient:
        with self._lock:
            client = self._clients.get(provider)
            if client is None:
                client = build_client(provider, self._load_secret(provider))
                self._clients[provider] = client
            return client

    def refresh(self, provider: str) -> ProviderClient:
        """Refetch the secret (it may have been rotated) and rebuild the client."""
        with self._lock:
            client = build_client(provider, self._load_secret(provider, force=True))
            self._clients[provider] = client
            return client
