"""Resend routing, limit arithmetic, settings and the sealing of the code (fake KMS): no AWS."""

from __future__ import annotations

import base64

import pytest

from tamtam.errors import ServiceUnavailable
from tamtam.otp import keys, limits
from tamtam.otp.logic import choose_provider, rotated
from tamtam.otp.settings import get_otp_settings, reset_otp_settings
from tests.unit.otp.fakes import FakeKms

ROUTE = ["passeinfo", "messagepro", "smsgate"]


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    for name in ("OTP_KEY_ID", "OTP_PEPPER_SECRET", "OTP_PHONE_MAX_SENDS", "OTP_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    reset_otp_settings()
    yield
    reset_otp_settings()


@pytest.mark.parametrize(
    ("provider", "status", "expected"),
    [
        ("passeinfo", "failed", "messagepro"),
        ("passeinfo", "sent", "messagepro"),
        ("passeinfo", "queued", "messagepro"),
        ("messagepro", "failed", "smsgate"),
        ("smsgate", "failed", "passeinfo"),
        ("passeinfo", "delivered", "passeinfo"),
        ("messagepro", "delivered", "messagepro"),
        (None, None, "passeinfo"),
        ("flowsms", "failed", "passeinfo"),
    ],
)
def test_given_the_last_message_then_the_resend_provider(provider, status, expected):
    assert choose_provider(ROUTE, provider, status) == expected


def test_given_a_pinned_route_then_the_resend_stays_on_it_whatever_happened():
    assert choose_provider(["ventis"], "ventis", "failed") == "ventis"


def test_given_a_first_provider_then_the_route_is_rotated_to_start_there():
    assert rotated(ROUTE, "messagepro") == ["messagepro", "smsgate", "passeinfo"]
    assert rotated(ROUTE, "passeinfo") == ROUTE


def test_given_old_and_recent_sends_then_only_the_window_counts():
    assert limits.recent_sends([10.0, 500.0, 100.0, 950.0], now=1000.0, window=900) == [500.0, 950.0]


@pytest.mark.parametrize(
    ("recent", "expected"),
    [
        ([100.0, 200.0, 300.0, 400.0], None),
        ([100.0, 200.0, 300.0, 400.0, 500.0], 100),  # the oldest leaves at 100 + 900
        ([100.0, 200.0, 300.0, 400.0, 500.0, 600.0], 200),  # the limit was lowered: two must leave
        ([100.4, 200.0, 300.0, 400.0, 500.0], 101),  # rounded up, never early
    ],
)
def test_given_sends_in_the_window_then_the_wait_until_one_more_fits(recent, expected):
    assert limits.phone_retry_after(recent, now=900.0, window=900, limit=5) == expected


class _Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"the table was used ({name})")


def test_given_limits_set_to_zero_then_they_are_off(monkeypatch):
    monkeypatch.setenv("OTP_PHONE_MAX_SENDS", "0")
    monkeypatch.setenv("OTP_TENANT_DAILY_MAX_SENDS", "0")
    reset_otp_settings()
    limits.take_phone(_Untouchable(), "ten_1", "+224622000001", now=1000.0)
    limits.take_tenant_day(_Untouchable(), "ten_1", now=1000.0)


def test_given_the_environment_then_the_settings_and_their_defaults(monkeypatch):
    defaults = get_otp_settings()
    assert (defaults.max_attempts, defaults.resend_cooldown_seconds, defaults.phone_max_sends) == (5, 30, 5)
    assert (defaults.phone_window_seconds, defaults.tenant_daily_max_sends) == (900, 10000)
    monkeypatch.setenv("OTP_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("OTP_KEY_ID", "alias/otp")
    reset_otp_settings()
    assert (get_otp_settings().max_attempts, get_otp_settings().key_id) == (3, "alias/otp")


def test_given_a_code_then_it_is_sealed_with_the_otp_and_tenant_as_context(monkeypatch):
    monkeypatch.setenv("OTP_KEY_ID", "alias/otp")
    reset_otp_settings()
    kms = FakeKms()
    sealed = keys.seal(kms, "042137", otp_id="otp_1", tenant_id="ten_1")
    assert "042137" not in sealed and b"042137" not in base64.b64decode(sealed)
    assert keys.unseal(kms, sealed, otp_id="otp_1", tenant_id="ten_1") == "042137"
    assert kms.calls[0] == (
        "encrypt",
        {"KeyId": "alias/otp", "purpose": "tamtam-otp", "otp_id": "otp_1", "tenant_id": "ten_1"},
    )
    with pytest.raises(ValueError, match="InvalidCiphertext"):
        keys.unseal(kms, sealed, otp_id="otp_2", tenant_id="ten_1")
    with pytest.raises(ValueError, match="InvalidCiphertext"):
        keys.unseal(kms, sealed, otp_id="otp_1", tenant_id="ten_2")


def test_given_no_otp_key_or_pepper_configured_then_503_otp_unavailable():
    with pytest.raises(ServiceUnavailable) as no_key:
        keys.seal(FakeKms(), "1234", otp_id="otp_1", tenant_id="ten_1")
    with pytest.raises(ServiceUnavailable) as no_pepper:
        keys.pepper()
    assert no_key.value.code == no_pepper.value.code == "otp_unavailable"
