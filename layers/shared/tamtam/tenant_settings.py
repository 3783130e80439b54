"""Per-tenant settings kept on the tenant item (pk `TENANT#<id>`, sk `TENANT`), read through a
short per-process cache (60 s): today the route overrides, `{"+224": ["messagepro", ...]}`.

An override the gateway cannot honour (an unknown provider, a malformed prefix) is ignored
as a whole and logged: the message then follows the configured routes."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from tamtam.observability import logger
from tamtam.providers.registry import PROVIDER_NAMES

CACHE_SECONDS = 60.0
_PREFIX = re.compile(r"^(\*|\+[1-9]\d{0,5})$")

_lock = threading.Lock()
_cache: dict[str, tuple[float, TenantSettings]] = {}  # tenant id -> (read at, settings)


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    routes: dict[str, list[str]] | None = None

    @field_validator("routes")
    @classmethod
    def _known_routes(cls, routes: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        for prefix, providers in (routes or {}).items():
            if not _PREFIX.match(prefix):
                raise ValueError(f"route prefix {prefix!r} is not '*' or '+<country code>'")
            if not providers:
                raise ValueError(f"route {prefix!r} names no provider")
            unknown = [p for p in providers if p not in PROVIDER_NAMES]
            if unknown:
                raise ValueError(f"route {prefix!r} names unknown providers {unknown}")
        return routes


def tenant_key(tenant_id: str) -> dict[str, str]:
    return {"pk": f"TENANT#{tenant_id}", "sk": "TENANT"}


def _read(table: Any, tenant_id: str) -> TenantSettings:
    item = table.get_item(Key=tenant_key(tenant_id)).get("Item") or {}
    try:
        return TenantSettings.model_validate({"routes": item.get("routes")})
    except ValidationError as exc:
        logger.error("tenant route overrides ignored", extra={"tenant_id": tenant_id, "error": str(exc)})
        return TenantSettings()


def settings_for(table: Any, tenant_id: str) -> TenantSettings:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(tenant_id)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    settings = _read(table, tenant_id)
    with _lock:
        _cache[tenant_id] = (now, settings)
    return settings


def route_overrides(table: Any, tenant_id: str) -> dict[str, list[str]] | None:
    """The tenant's routes by destination prefix, or None when it has none."""
    return settings_for(table, tenant_id).routes


def reset_cache() -> None:
    with _lock:
        _cache.clear()
