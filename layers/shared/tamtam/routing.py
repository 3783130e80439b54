"""Which providers may carry a message, in order: a route per destination country prefix,
configurable (ROUTES, JSON), with SMSGate (an Android phone) as the device fallback."""

from __future__ import annotations

import json
import os
from functools import lru_cache

from tamtam.errors import InvalidRequest
from tamtam.providers.registry import PROVIDER_NAMES

DEFAULT_ROUTES: dict[str, list[str]] = {
    "+224": ["passeinfo", "messagepro"],
    "+241": ["ventis"],
    "*": ["flowsms"],
}
DEVICE_FALLBACK = "smsgate"


@lru_cache(maxsize=1)
def configured_routes() -> dict[str, list[str]]:
    raw = os.environ.get("ROUTES")
    routes = json.loads(raw) if raw else DEFAULT_ROUTES
    for providers in routes.values():
        unknown = [p for p in providers if p not in PROVIDER_NAMES]
        if unknown:
            raise ValueError(f"ROUTES names unknown providers: {unknown}")
    return routes


def route_for(e164: str, *, pinned: str | None = None, overrides: dict[str, list[str]] | None = None) -> list[str]:
    """The ordered providers for `e164`. A pinned provider is the whole route."""
    if pinned is not None:
        if pinned not in PROVIDER_NAMES:
            raise InvalidRequest(f"unknown provider {pinned!r}", field="provider", code="unknown_provider")
        return [pinned]
    routes = {**configured_routes(), **(overrides or {})}
    prefixes = sorted((p for p in routes if p != "*" and e164.startswith(p)), key=len, reverse=True)
    chosen = list(routes[prefixes[0]] if prefixes else routes.get("*", []))
    fallback = os.environ.get("DEVICE_FALLBACK", DEVICE_FALLBACK)
    if fallback and fallback not in chosen:
        chosen.append(fallback)
    return chosen
