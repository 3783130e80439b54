"""Codes, their keyed hash and the pepper's two accepted shapes: pure functions."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tamtam.otp import codes

PEPPER = b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("length", [4, 6, 10])
def test_given_a_length_then_that_many_decimal_digits(length):
    code = codes.generate(length)
    assert len(code) == length and code.isdigit() and code.isascii()


@pytest.mark.parametrize("length", [3, 11, 0])
def test_given_a_length_out_of_range_then_refused(length):
    with pytest.raises(ValueError, match="4 to 10"):
        codes.generate(length)


def test_given_many_codes_then_every_digit_appears_in_every_position_and_they_differ():
    drawn = [codes.generate(6) for _ in range(2000)]
    assert len(set(drawn)) > 1900
    for position in range(6):
        assert {c[position] for c in drawn} == set("0123456789")


def test_given_a_code_then_the_digest_is_the_hmac_of_id_and_code_under_the_pepper():
    expected = hmac.new(PEPPER, b"otp_1:123456", hashlib.sha256).hexdigest()
    assert codes.digest("123456", "otp_1", PEPPER) == expected


def test_given_the_same_code_on_another_record_or_pepper_then_another_digest():
    base = codes.digest("123456", "otp_1", PEPPER)
    assert codes.digest("123456", "otp_2", PEPPER) != base
    assert codes.digest("123456", "otp_1", PEPPER[::-1]) != base
    assert codes.digest("123457", "otp_1", PEPPER) != base


def test_given_the_right_code_then_it_matches_and_a_near_miss_does_not():
    stored = codes.digest("042137", "otp_1", PEPPER)
    assert codes.matches("042137", "otp_1", stored, PEPPER)
    assert not codes.matches("042138", "otp_1", stored, PEPPER)
    assert not codes.matches("42137", "otp_1", stored, PEPPER)
    assert not codes.matches("042137", "otp_2", stored, PEPPER)


def test_given_matches_then_the_compare_is_hmac_compare_digest(monkeypatch):
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return a == b

    monkeypatch.setattr(codes.hmac, "compare_digest", spy)
    codes.matches("1234", "otp_1", "00", PEPPER)
    assert calls == [(codes.digest("1234", "otp_1", PEPPER), "00")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (json.dumps({"pepper": "p" * 32}), b"p" * 32),
        ("a3f1" * 8, b"a3f1" * 8),
        ("1234567890123456", b"1234567890123456"),  # valid JSON (a number) yet a plain pepper
        (("z" * 20).encode(), b"z" * 20),
        ("  " + "q" * 16 + "\n", b"q" * 16),
    ],
)
def test_given_a_json_or_plain_pepper_then_its_bytes(raw, expected):
    assert codes.parse_pepper(raw) == expected


@pytest.mark.parametrize("raw", ["short", json.dumps({"pepper": "short"}), json.dumps({"other": "x" * 32}), ""])
def test_given_a_missing_or_short_pepper_then_refused(raw):
    with pytest.raises(ValueError, match="at least 16"):
        codes.parse_pepper(raw)
