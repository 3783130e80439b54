"""Ventis wire details the public integration fixes (collecte_taxe backend/services/ventis_messaging.py)."""

from __future__ import annotations

import pytest

from tamtam.providers.base import PermanentError, Reason
from tamtam.providers.ventis import VentisAnswer, VentisSettings, parse_ventis_answer, ventis_number


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+2410661234567", "2410661234567"),  # seed 003 line 79: the 0 is kept
        ("+24166123456", "24166123456"),
        ("+24106031234", "24106031234"),
        ("2410661234567", "2410661234567"),  # seed 003 line 80
        ("+224622000001", "224622000001"),
    ],
)
def test_given_the_default_rule_when_formatting_then_the_e164_digits_as_given(number, expected):
    assert ventis_number(number) == expected


@pytest.mark.parametrize("number", ["+", "+24 1066", "+0241066123", "+2410661234567890"])
def test_given_no_e164_digits_when_formatting_then_invalid_number(number):
    with pytest.raises(PermanentError) as refused:
        ventis_number(number)
    assert refused.value.reason is Reason.INVALID_NUMBER


def test_given_no_environment_then_the_integrations_defaults(monkeypatch):
    for name in ("TAMTAM_VENTIS_IS_OTP_AS_STRING", "TAMTAM_VENTIS_KEEP_LEADING_ZERO"):
        monkeypatch.delenv(name, raising=False)
    settings = VentisSettings()
    assert (settings.is_otp_as_string, settings.keep_leading_zero) == (False, None)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("SUCCESS|u-1|ts", VentisAnswer(True, message_id="u-1")),
        ("+success|u-2|ts", VentisAnswer(True, message_id="u-2")),
        ("ERROR|E1|No route", VentisAnswer(False, code="E1", text="No route")),
        ("-error|E2", VentisAnswer(False, code="E2")),
    ],
)
def test_given_the_prefixes_parse_ventis_response_accepts_then_they_are_read(body, expected):
    assert parse_ventis_answer(body) == expected
