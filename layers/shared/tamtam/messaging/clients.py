"""Provider clients cached per warm Lambda, so tokens and connections are reused. A client is
rebuilt when its secret changes (a rotation, or a refetch after an auth failure). While a
rotation is in flight, `pending` offers a client on the secret's AWSPENDING version."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from tamtam.providers.base import ProviderClient
from tamtam.providers.registry import build_client
from tamtam.secrets import PENDING

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

    def pending(self, provider: str, tried: ProviderClient | None = None) -> ProviderClient | None:
        """A client on the AWSPENDING version of the secret (a rotation between createSecret and
        finishSecret: PasseInfo refuses the old key at once), or None when there is none or it
        holds the credentials just refused (`tried`; by default the cached client). With no
        pending version, AWSCURRENT is read once more: a rotation may have finished since the
        refetch. Never cached: this path is taken only after the current credentials failed
        twice. When another thread has meanwhile cached other credentials than `tried` (it
        refetched after finishSecret), those are not the refused ones: they are offered."""
        try:
            try:
                secret = self._load_secret(provider, stage=PENDING)
            except LookupError:
                secret = self._load_secret(provider, force=True)
            fingerprint = _fingerprint(secret)
            with self._lock:
                cached = self._clients.get(provider)
            refused = cached[0] if cached is not None and (tried is None or cached[1] is tried) else None
            if fingerprint == refused:
                return None
            return build_client(provider, secret)
        except (LookupError, ValueError):  # nothing readable, or not a valid secret
            return None
