"""tamtam.redact: credentials out of provider answers and error texts; ids and prose kept."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from tamtam.providers.base import AuthError, PermanentError, Reason
from tamtam.providers.passeinfo import PasseInfoSecret
from tamtam.providers.smsgate import SmsGateSecret, TokenPair
from tamtam.redact import REDACTED, error_keys, redact
from tamtam.store.message_item import Attempt

SECRET = "s3cr3t-value_1"

ECHOES = [
    # a JSON body, plain and escaped inside a JSON string (an echo in an error's `message`)
    (f'{{"username": "acme", "password": "{SECRET}"}}', f'{{"username": "acme", "password": "{REDACTED}"}}'),
    (f'{{"message": "POST /token/ {{\\"username\\": \\"acme\\", \\"password\\": \\"{SECRET}\\"}}"}}',
     f'{{"message": "POST /token/ {{\\"username\\": \\"acme\\", \\"password\\": \\"{REDACTED}\\"}}"}}'),
    # a form body and a query
    (f"grant_type=password&username=acme&password={SECRET}&client_id=api-messaging&client_secret={SECRET}",
     f"grant_type=password&username=acme&password={REDACTED}&client_id=api-messaging&client_secret={REDACTED}"),
    (f"GET /api/get/credits?secret={SECRET}&x=1", f"GET /api/get/credits?secret={REDACTED}&x=1"),
    # headers and schemes
    (f"Api-Key: {SECRET} Client-Id: acme", f"Api-Key: {REDACTED} Client-Id: acme"),
    ("authorization: Basic dXNlcjpwYXNzd29yZA==", f"authorization: {REDACTED}"),
    ("the header was Bearer abcDEF123456xyz, refused", f"the header was Bearer {REDACTED}, refused"),
    # a Python repr (pydantic's input_value), and token answers
    (f"{{'base_url': 'http://x', 'api_key': '{SECRET}'}}", f"{{'base_url': 'http://x', 'api_key': '{REDACTED}'}}"),
    (f'{{"access": "{SECRET}", "refresh": "{SECRET}", "token_type": "Bearer", "expires_in": 300}}',
     f'{{"access": "{REDACTED}", "refresh": "{REDACTED}", "token_type": "Bearer", "expires_in": 300}}'),
    (f'{{"accessToken": "{SECRET}", "id": "tok1"}}', f'{{"accessToken": "{REDACTED}", "id": "tok1"}}'),
    # cut short by a raw text's length limit
    (f'{{"username": "acme", "password": "{SECRET[:5]}', f'{{"username": "acme", "password": "{REDACTED}'),
    # shapes without a name: a JWT, long hex, long mixed base64
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl here", f"token {REDACTED} here"),
    ("key 0123456789abcdef0123456789abcdef01 end", f"key {REDACTED} end"),
    ("new pair Zm9vYmFyYmF6cXV4UVdFUlRZdWlvcDEyMzQ1 issued", f"new pair {REDACTED} issued"),
]

KEPT = [
    "Invalid API secret supplied!",
    "Basic authentication failed",
    "Handset unreachable; RESULT_ERROR_GENERIC_FAILURE",
    "msg_01hzx3k9q8w7e6r5t4y3u2i1o0_000001 3f2a1b4c-1234-4abc-8def-0123456789ab",
    '{"detail":"Given token not valid for any token type","code":"token_not_valid",'
    '"messages":[{"token_class":"AccessToken","token_type":"access","message":"Token is invalid or expired"}]}',
    '{"token_id": "tok1", "expires_at": "2026-12-01T00:00:00Z"}',
    "-ERROR|INVALID_NUMBER|Invalid destination number",
]


@pytest.mark.parametrize(("text", "expected"), ECHOES)
def test_given_an_echoed_credential_then_it_is_redacted_and_a_second_pass_changes_nothing(text, expected):
    assert redact(text) == expected
    assert redact(expected) == expected


@pytest.mark.parametrize("text", KEPT)
def test_given_provider_words_and_ids_then_they_are_kept(text):
    assert redact(text) == text


def test_given_no_text_then_none_or_empty_stays():
    assert (redact(None), redact("")) == (None, "")


def test_given_a_provider_error_then_its_raw_text_is_redacted_wherever_it_goes():
    error = AuthError("401", f"GET /v1/user/get_solde api-key: {SECRET}")
    assert SECRET not in error.raw_text and SECRET not in str(error)
    assert SECRET not in (PermanentError(Reason.REJECTED, "400", f"password={SECRET}").raw_text or "")


def test_given_an_attempt_then_its_raw_text_is_stored_redacted():
    attempt = Attempt(provider="smsgate", at="t", outcome="report", raw_text=f"device error; api_key={SECRET}")
    assert attempt.raw_text == f"device error; api_key={REDACTED}"


@pytest.mark.parametrize(
    ("model", "value"),
    [
        (PasseInfoSecret, {"base_url": "http://x", "api_key": SECRET}),
        (SmsGateSecret, {"username": "acme", "webhook_signing_key": SECRET}),
        (TokenPair, {"refresh_token": SECRET}),
    ],
)
def test_given_a_secret_model_missing_a_field_then_its_error_never_quotes_the_input(model, value):
    with pytest.raises(ValidationError) as raised:
        model.model_validate(value)
    assert SECRET[:6] not in str(raised.value) and SECRET[-6:] not in str(raised.value)


def test_given_errors_then_their_log_keys_name_the_fields_and_reason_never_the_values():
    with pytest.raises(ValidationError) as raised:
        PasseInfoSecret.model_validate({"api_key": SECRET})
    assert error_keys(raised.value) == {"error": "ValidationError", "fields": ["client_id"]}
    keys = error_keys(AuthError("401", f"Api-Key: {SECRET}", detail="refused"))
    assert keys == {"error": "AuthError", "reason": "auth_failed", "raw_status": "401",
                    "raw_text": f"Api-Key: {REDACTED}", "detail": "refused"}
    assert error_keys(KeyError(SECRET)) == {"error": "KeyError"}


@pytest.mark.parametrize("text", ["password" * 600, "a" * 5000, 'a="' * 2000, "Bearer " * 1000, "x-" * 2500])
def test_given_a_pathological_answer_then_redaction_stays_linear(text):
    started = time.perf_counter()
    redact(text)
    assert time.perf_counter() - started < 0.5  # nested choices took minutes on the first of these
