"""The OTP settings (environment, prefix `OTP_`), validated and cached like tamtam.settings.

`OTP_KEY_ID` and `OTP_PEPPER_SECRET` come from template.yaml Globals; every limit is a tunable
with a default (tamtam.otp.limits says what each counts). A limit of 0 turns that limit off.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field

from tamtam.env_settings import EnvSettings


class OtpSettings(EnvSettings):
    env_prefix: ClassVar[str] = "OTP_"

    key_id: str = Field("", description="KMS key (id, ARN or alias) that encrypts the code for resends")
    pepper_secret: str = Field("", description="Secrets Manager id of the HMAC pepper ({'pepper': ...} or plain)")
    pepper_max_age_seconds: int = Field(300, ge=0, description="how long the pepper is cached")
    max_attempts: int = Field(5, ge=1, le=20, description="verification attempts before the code is locked")
    resend_cooldown_seconds: int = Field(30, ge=0, description="shortest time between two sends of one code")
    phone_max_sends: int = Field(5, ge=0, description="sends to one number (per tenant) in the phone window")
    phone_window_seconds: int = Field(900, ge=1, description="the sliding window of the per-phone limit")
    tenant_daily_max_sends: int = Field(10000, ge=0, description="sends per tenant per UTC day")
    number_max_sends: int = Field(
        10, ge=0, description="sends to one number, all tenants together, in the number window"
    )
    number_window_seconds: int = Field(3600, ge=1, description="the fixed window of the per-number limit")
    range_digits: int = Field(3, ge=1, le=6, description="a number range is the number without its last digits "
                              "(3: a range of 1,000 numbers)")
    range_max_sends: int = Field(20, ge=0, description="sends to one number range, all tenants together, in the "
                                 "range window (a burst: SMS pumping walks a range)")
    range_window_seconds: int = Field(600, ge=1, description="the fixed window of the per-range limit")
    min_length: int = Field(6, ge=4, le=10, description="shortest code a tenant may ask for (tenant setting "
                            "otp_min_length lowers or raises it)")
    allowed_prefixes: str = Field("", description="comma-separated country prefixes codes may go to for tenants "
                                  "without their own list; empty: the countries of the routes; '*': any")
    limit_write_tries: int = Field(5, ge=1, description="optimistic-lock tries of a per-phone counter update")


@lru_cache(maxsize=1)
def get_otp_settings() -> OtpSettings:
    return OtpSettings.from_env()


def reset_otp_settings() -> None:
    """For tests that change the environment."""
    get_otp_settings.cache_clear()
