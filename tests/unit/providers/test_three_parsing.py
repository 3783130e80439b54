"""Pure helpers of the Message Pro, FLOW SMS and Ventis clients: no network."""

from __future__ import annotations

import base64
import json

import pytest

from tamtam.providers.base import AuthError, PermanentError, Reason, TransientError
from tamtam.providers.flowsms import (
    failure_text,
    field_errors_reason,
    jwt_expiry,
    provider_message_id,
    text_reason,
)
from tamtam.providers.messagepro import delivery_report, e164, envelope_error, read_envelope
from tamtam.providers.ventis import VentisAnswer, parse_ventis_answer, ventis_number, ventis_reason


def _segment(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(payload: object) -> str:
    return f"{_segment({'alg': 'HS256', 'typ': 'JWT'})}.{_segment(payload)}.c2lnbmF0dXJl"


# --- FLOW SMS ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (_jwt({"token_type": "access", "exp": 1_900_000_000, "jti": "a"}), 1_900_000_000.0),
        (_jwt({"exp": 1_900_000_000.5, "user_id": 7}), 1_900_000_000.5),
        (_jwt({"exp": 1_900_000_000, "pad": "x"}), 1_900_000_000.0),  # another padding length
        (_jwt({"token_type": "access"}), None),
        (_jwt({"exp": "1900000000"}), None),
        (_jwt({"exp": True}), None),
        (_jwt([1, 2, 3]), None),
        (f"{_segment({'alg': 'HS256'})}.{_segment(b'not json')}.sig", None),
        ("not-a-jwt", None),
        ("a.!!!.c", None),
        ("", None),
    ],
)
def test_given_a_token_when_reading_exp_then_the_claim_or_none(token, expected):
    assert jwt_expiry(token) == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"phone_numbers": {"0": ["Enter a valid phone number."]}}, Reason.INVALID_NUMBER),
        ({"phone_numbers": ["This list may not be empty."]}, Reason.INVALID_NUMBER),
        ({"sender_id": ["Sender ID 'X' is not approved."]}, Reason.SENDER_NOT_APPROVED),
        ({"non_field_errors": ["Insufficient SMS credits."]}, Reason.INSUFFICIENT_CREDIT),
        ({"message": ["This field is required."]}, Reason.REJECTED),
        ({"detail": "Sender ID is pending approval"}, Reason.SENDER_NOT_APPROVED),
        (["unexpected list"], Reason.REJECTED),
        (None, Reason.REJECTED),
    ],
)
def test_given_a_drf_400_body_when_classifying_then_the_reason(body, reason):
    assert field_errors_reason(body) is reason


def test_given_failed_messages_when_reading_their_words_then_phone_numbers_are_left_out():
    failed = [{"phone_number": "+224622000001", "error": "SMS gateway unreachable"}, "Route closed"]

    text = failure_text(failed)

    assert text == "sms gateway unreachable route closed"
    assert text_reason(text) is Reason.DEVICE_OFFLINE
    assert text_reason(failure_text([{"phone_number": "+1", "error": "Invalid phone number"}])) is Reason.INVALID_NUMBER
    assert text_reason(failure_text(None)) is Reason.REJECTED


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"campaign_id": 12, "messages": [{"id": 3, "message_id": "api-1"}]}, "api-1"),
        ({"campaign_id": 12, "messages": [{"id": 3, "message_id": None}]}, "3"),
        ({"campaign_id": 12, "messages": []}, "12"),
        ({"campaign_id": 12}, "12"),
        ({}, None),
    ],
)
def test_given_a_send_answer_when_picking_the_provider_id_then_the_most_specific_one(body, expected):
    assert provider_message_id(body) == expected


# --- Message Pro -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "error_type", "reason"),
    [
        (400, "Invalid phone number!", PermanentError, Reason.INVALID_NUMBER),
        (400, "Invalid Parameters!", PermanentError, Reason.REJECTED),
        (400, "Message is too long!", PermanentError, Reason.REJECTED),
        (401, "Invalid API secret supplied!", AuthError, Reason.AUTH_FAILED),
        (403, "Not enough credits to send this message!", PermanentError, Reason.INSUFFICIENT_CREDIT),
        (403, "Maximum allowed number of sent messages has been reached!", PermanentError, Reason.INSUFFICIENT_CREDIT),
        (403, "This API key doesn't have permission to use this endpoint!", PermanentError, Reason.AUTH_FAILED),
        (403, "Subscription has no permission to use SMS services!", PermanentError, Reason.AUTH_FAILED),
        (403, "Device is not available!", PermanentError, Reason.DEVICE_OFFLINE),
        (404, "Device doesn't exist!", PermanentError, Reason.DEVICE_OFFLINE),
        (404, "WhatsApp account doesn't exist!", PermanentError, Reason.DEVICE_OFFLINE),
        (500, "Not enough credits to send this message!", PermanentError, Reason.INSUFFICIENT_CREDIT),
        (500, "We encountered a gateway error!", TransientError, Reason.PROVIDER_UNAVAILABLE),
        (500, "Unable to connect to WhatsApp servers!", TransientError, Reason.PROVIDER_UNAVAILABLE),
    ],
)
def test_given_a_zender_error_envelope_when_mapping_then_kind_and_reason(status, message, error_type, reason):
    error = envelope_error(status, message)

    assert type(error) is error_type
    assert (error.reason, error.raw_status, error.raw_text) == (reason, str(status), message)


@pytest.mark.parametrize(
    ("item", "status", "raw_status"),
    [
        # Zender answers words (smsStatusParser), never the stored integer.
        ({"status": "queued", "status_code": False}, "sending", "queued"),
        ({"status": "pending", "status_code": "DELIVERY_PENDING"}, "sending", "pending"),
        ({"status": "sent", "status_code": "SMS_SENT"}, "sent", "SMS_SENT"),
        ({"status": "sent", "status_code": ""}, "sent", "sent"),
        ({"status": "sent", "status_code": "SMS_DELIVERED"}, "delivered", "SMS_DELIVERED"),
        ({"status": "sent", "status_code": "DELIVERY_FAILED"}, "failed", "DELIVERY_FAILED"),
        ({"status": "failed", "status_code": False}, "failed", "failed"),
        ({"status": "unknown"}, "sending", "unknown"),  # a word it does not know never fails a message
    ],
)
def test_given_a_zender_message_when_mapping_its_status_then_the_gateway_lifecycle(item, status, raw_status):
    report = delivery_report(item)

    assert (report.status, report.raw_status) == (status, raw_status)
    assert (report.reason is Reason.REJECTED) == (status == "failed")


def test_given_php_notices_before_the_json_when_reading_the_envelope_then_it_is_found():
    text = '<br />\n<b>Notice</b>: Undefined index: sim<br />\n{"status":200,"message":"ok","data":false}'

    assert read_envelope(text) == {"status": 200, "message": "ok", "data": False}
    assert read_envelope('{"status":"403","message":"no"}') == {"status": 403, "message": "no"}
    assert read_envelope("<html>Bad Gateway</html>") is None
    assert read_envelope('{"message":"no status"}') is None


def test_given_numbers_with_or_without_plus_when_formatting_for_zender_then_e164():
    assert e164("+224622000001") == e164("224622000001") == e164(" 224622000001 ") == "+224622000001"


# --- Ventis ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("+SUCCESS|3f1c0e9e-8a9b-4c47-9f8e-1d2a3b4c5d6e|2025-01-01T10:00:00Z",
         VentisAnswer(True, message_id="3f1c0e9e-8a9b-4c47-9f8e-1d2a3b4c5d6e")),
        ("  +SUCCESS|abc|1735725600\n", VentisAnswer(True, message_id="abc")),
        ("+SUCCESS", VentisAnswer(True)),
        ("-ERROR|INVALID_NUMBER|Invalid destination number",
         VentisAnswer(False, code="INVALID_NUMBER", text="Invalid destination number")),
        ("-ERROR|E42|text with | a pipe", VentisAnswer(False, code="E42", text="text with | a pipe")),
        ("-ERROR", VentisAnswer(False)),
        ('{"id": "u-1"}', VentisAnswer(True, message_id="u-1")),
        ('{"uuid": "u-2", "status": "SUCCESS"}', VentisAnswer(True, message_id="u-2")),
        ('{"messageId": 77}', VentisAnswer(True, message_id="77")),
        ('{"data": {"uuid": "u-3"}}', VentisAnswer(True, message_id="u-3")),
        ('{"status": "queued"}', VentisAnswer(True)),
        ('{"status": "ERROR", "error": "INVALID_SENDER", "message": "Sender not allowed"}',
         VentisAnswer(False, code="INVALID_SENDER", text="Sender not allowed")),
        ('{"success": false, "code": "NO_CREDIT", "message": "Solde insuffisant"}',
         VentisAnswer(False, code="NO_CREDIT", text="Solde insuffisant")),
        ('{"timestamp": "t", "status": 404, "error": "Not Found", "path": "/x"}',
         VentisAnswer(False, code="Not Found")),
        ('"+SUCCESS|quoted|ts"', VentisAnswer(True, message_id="quoted")),
        ("<html>Bad Gateway</html>", None),
        ("", None),
        ("[1, 2]", None),
    ],
)
def test_given_a_send_answer_when_parsing_then_text_and_json_are_read(body, expected):
    assert parse_ventis_answer(body) == expected


@pytest.mark.parametrize(
    ("code", "text", "reason"),
    [
        ("INVALID_NUMBER", "Invalid destination number", Reason.INVALID_NUMBER),
        ("ROUTE_UNAVAILABLE", "No route available to the destination operator", Reason.DEVICE_OFFLINE),
        ("INSUFFICIENT_CREDIT", None, Reason.INSUFFICIENT_CREDIT),
        ("INVALID_SENDER", "Sender is not allowed", Reason.SENDER_NOT_APPROVED),
        ("UNAUTHORIZED", "Account is not allowed to send messages", Reason.AUTH_FAILED),
        ("ENDPOINT_NOT_FOUND", None, Reason.PROVIDER_UNAVAILABLE),
        ("E17", "Solde insuffisant", Reason.INSUFFICIENT_CREDIT),
        (None, "Message too long", Reason.REJECTED),
    ],
)
def test_given_an_error_code_when_classifying_then_the_reason(code, text, reason):
    assert ventis_reason(code, text) is reason


@pytest.mark.parametrize(
    ("number", "keep_leading_zero", "expected"),
    [
        ("+24166123456", False, "24166123456"),
        ("+24166123456", True, "241066123456"),
        ("+24174123456", True, "241074123456"),
        ("+2410661234567", False, "241661234567"),  # a trunk 0 written into the E.164 form
        ("+2410661234567", True, "2410661234567"),  # the seed's example
        ("+24106031234", False, "24106031234"),  # the 0 belongs to the number itself
        ("+24106031234", True, "24106031234"),
        ("24166123456", False, "24166123456"),
        ("+224622000001", True, "224622000001"),  # other countries: no zero added
    ],
)
def test_given_an_e164_number_when_formatting_for_ventis_then_the_documented_rule(number, keep_leading_zero, expected):
    assert ventis_number(number, keep_leading_zero) == expected


@pytest.mark.parametrize("number", ["+", "not a number", "+999"])
def test_given_a_non_number_when_formatting_for_ventis_then_invalid_number(number):
    with pytest.raises(PermanentError) as refused:
        ventis_number(number)

    assert refused.value.reason is Reason.INVALID_NUMBER
