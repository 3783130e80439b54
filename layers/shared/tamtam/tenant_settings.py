"""Per-tenant settings kept on the tenant item (tamtam.store.tenants), read through a
short per-process cache (60 s). Each is optional; absent, the deployment's default applies:

- `routes`: route overrides, `{"+224": ["messagepro", ...]}` (tamtam.routing);
- `otp_allowed_prefixes`: the country prefixes one-time codes may go to, `["+224", "+33"]`, or
  `["*"]` for any; absent (or empty): the countries of the routes (tamtam.otp.limits);
- `otp_min_length`: the shortest code the tenant may ask for, 4 to 10 (default 6);
- `messages_per_minute`, `bulk_recipients_per_hour`: the tenant's send limits (tamtam.limits),
  raised or lowered; 0 = no limit.
- `opt_outs_exempt_transactional`: whether a single send marked `transactional` goes to a
  number on the tenant's opt-out list (default true; false: it answers 422
  `recipient_opted_out` like any other). One-time codes are never blocked (tamtam.opt_outs).

A setting the gateway cannot honour (an unknown provider, a malformed prefix, a number out of
range) is ignored and logged, the others still apply: that one then takes its default."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tamtam.observability import logger
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.store import tenants as tenant_items

CACHE_SECONDS = 60.0
_PREFIX = re.compile(r"^(\*|\+[1-9]\d{0,5})$")

_lock = threading.Lock()
_cache: dict[str, tuple[float, TenantSettings]] = {}  # tenant id -> (read at, settings)


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    routes: dict[str, list[str]] | None = None
    otp_allowed_prefixes: tuple[str, ...] | None = None
    otp_min_length: int | None = Field(None, ge=4, le=10)
    messages_per_minute: int | None = Field(None, ge=0)
    bulk_recipients_per_hour: int | None = Field(None, ge=0)
    opt_outs_exempt_transactional: bool | None = None

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

    @field_validator("otp_allowed_prefixes")
    @classmethod
    def _prefixes(cls, prefixes: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for prefix in prefixes or ():
            if not _PREFIX.match(prefix):
                raise ValueError(f"OTP prefix {prefix!r} is not '*' or '+<country code>'")
        return prefixes or None  # empty: the default


def _read(table: Any, tenant_id: str) -> TenantSettings:
    item = tenant_items.get_tenant(table, tenant_id) or {}
    given = {name: item[name] for name in TenantSettings.model_fields if item.get(name) is not None}
    while True:
        try:
            return TenantSettings.model_validate(given)
        except ValidationError as exc:
            wrong = {str(e["loc"][0]) for e in exc.errors() if e.get("loc")} & set(given)
            logger.error(
                "tenant settings ignored",
                extra={"tenant_id": tenant_id, "settings": sorted(wrong) or sorted(given), "error": str(exc)},
            )
            if not wrong:
                return TenantSettings()
            given = {k: v for k, v in given.items() if k not in wrong}


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


def opt_outs_exempt_transactional(table: Any, tenant_id: str) -> bool:
    """Whether sends marked transactional skip the opt-out check (default: they do)."""
    value = settings_for(table, tenant_id).opt_outs_exempt_transactional
    return True if value is None else value


def reset_cache() -> None:
    with _lock:
        _cache.clear()
