"""Abuse controls on sending codes, in the one table with TTLs (settings: tamtam.otp.settings;
tenant settings: tamtam.tenant_settings), checked in this order:

- the code's length: at least `min_length` (6) digits, or the tenant's `otp_min_length` (4 to
  10): 422 `code_too_short`;
- the destination: the tenant's `otp_allowed_prefixes`, else `OTP_ALLOWED_PREFIXES`, else the
  country prefixes of the routes (tamtam.routing's configured routes and the tenant's own; the
  catch-all `*` carries messages anywhere but opens no country to codes); `*` in a list allows
  any country: 403 `destination_not_allowed`;
- per phone number (per tenant): at most `phone_max_sends` (5) in any sliding
  `phone_window_seconds` (900; a short log of send times, written with an optimistic lock on a
  version): 429 `otp_phone_limit`;
- per phone number, all tenants together: at most `number_max_sends` (10) per fixed
  `number_window_seconds` (3600): 429 `otp_number_limit`;
- per number range (the number without its last `range_digits`, 3: 1,000 numbers), all tenants
  together: at most `range_max_sends` (20) per fixed `range_window_seconds` (600), against SMS
  pumping, which walks a range: 429 `otp_range_limit` and one `OtpPrefixVelocityExceeded`
  metric (alarmed, infra/alarms.tf);
- per tenant: at most `tenant_daily_max_sends` (10,000) per UTC day: 429 `otp_tenant_limit`.

The counters across tenants are tamtam.limits' fixed windows (one conditional UpdateItem). A
refusal says how long until the limit would let the send through (Retry-After); the limits
checked before it keep the attempt counted.
"""

from __future__ import annotations

import math
from typing import Any

from tamtam import observability, tenant_settings
from tamtam.errors import InvalidRequest
from tamtam.limits import take
from tamtam.otp.errors import DestinationNotAllowed, RateLimited
from tamtam.otp.settings import get_otp_settings
from tamtam.routing import configured_routes
from tamtam.store import otp_limits

DAY = 86400
ANY = "*"


def check_length(table: Any, tenant_id: str, length: int) -> None:
    own = tenant_settings.settings_for(table, tenant_id).otp_min_length
    minimum = get_otp_settings().min_length if own is None else own
    if length < minimum:
        raise InvalidRequest(f"codes of this account have at least {minimum} digits", field="length",
                             code="code_too_short")


def route_countries(overrides: dict[str, list[str]] | None = None) -> tuple[str, ...]:
    """The country prefixes the routes name (configured, then the tenant's), without `*`."""
    return tuple(sorted(p for p in {**configured_routes(), **(overrides or {})} if p != ANY))


def allowed_prefixes(table: Any, tenant_id: str) -> tuple[str, ...]:
    own = tenant_settings.settings_for(table, tenant_id)
    if own.otp_allowed_prefixes:
        return own.otp_allowed_prefixes
    configured = tuple(p.strip() for p in get_otp_settings().allowed_prefixes.split(",") if p.strip())
    return configured or route_countries(own.routes)


def check_destination(table: Any, tenant_id: str, to: str) -> None:
    prefixes = allowed_prefixes(table, tenant_id)
    if ANY not in prefixes and not any(to.startswith(p) for p in prefixes):
        raise DestinationNotAllowed("one-time codes to this country are not enabled for this account", field="to")


def number_range(to: str, digits: int) -> str:
    """The range `to` is in: the number without its last `digits` digits."""
    return to[:-digits]


def take_number(table: Any, to: str, *, now: float) -> None:
    settings = get_otp_settings()
    limit, window = settings.number_max_sends, settings.number_window_seconds
    if limit == 0:
        return
    wait = take(table, f"OTPNUMBER#{to}", count=1, limit=limit, window=window, now=now)
    if wait is not None:
        raise RateLimited(f"too many codes to this number; at most {limit} in {window // 60} minutes",
                          retry_after=wait, code="otp_number_limit", field="to")


def take_range(table: Any, to: str, *, now: float) -> None:
    settings = get_otp_settings()
    limit, window = settings.range_max_sends, settings.range_window_seconds
    if limit == 0:
        return
    prefix = number_range(to, settings.range_digits)
    wait = take(table, f"OTPRANGE#{prefix}", count=1, limit=limit, window=window, now=now)
    if wait is not None:
        observability.count(observability.OTP_RANGE_METRIC)
        observability.logger.warning("otp range velocity exceeded", extra={"range": prefix, "limit": limit,
                                                                           "window_seconds": window})
        raise RateLimited(f"too many codes to numbers of this range; at most {limit} in {window // 60} minutes",
                          retry_after=wait, code="otp_range_limit", field="to")


def recent_sends(stamps: list[float], *, now: float, window: int) -> list[float]:
    return sorted(t for t in stamps if t > now - window)


def phone_retry_after(recent: list[float], *, now: float, window: int, limit: int) -> int | None:
    """None when one more send fits; else the seconds until the oldest counted send leaves the window."""
    if len(recent) < limit:
        return None
    return math.ceil(recent[len(recent) - limit] + window - now)


def take_phone(table: Any, tenant_id: str, to: str, *, now: float) -> None:
    settings = get_otp_settings()
    limit, window = settings.phone_max_sends, settings.phone_window_seconds
    if limit == 0:
        return
    for _ in range(settings.limit_write_tries):
        log = otp_limits.phone_log(table, tenant_id, to)
        recent = recent_sends(log.sends if log else [], now=now, window=window)
        wait = phone_retry_after(recent, now=now, window=window, limit=limit)
        if wait is not None:
            raise RateLimited(
                f"at most {limit} codes to one number in {window // 60} minutes", retry_after=wait,
                code="otp_phone_limit", field="to",
            )
        expires_at = int(now) + window + 1
        if otp_limits.replace_phone_log(table, tenant_id, to, [*recent, now], read=log, expires_at=expires_at):
            return
    raise RateLimited("too many codes to this number at once", retry_after=1, code="otp_phone_limit", field="to")


def take_tenant_day(table: Any, tenant_id: str, *, now: float) -> None:
    limit = get_otp_settings().tenant_daily_max_sends
    if limit == 0:
        return
    day = int(now) // DAY
    if not otp_limits.take_tenant_day(table, tenant_id, day, limit=limit, expires_at=(day + 2) * DAY):
        raise RateLimited(
            f"the account's {limit} codes for today are used", retry_after=(day + 1) * DAY - math.floor(now),
            code="otp_tenant_limit",
        )
