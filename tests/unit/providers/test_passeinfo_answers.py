"""How the PasseInfo client reads an answer: the body decides (the SDK never reads the status)."""

from __future__ import annotations

import json

import pytest
import requests

from tamtam.providers.base import AmbiguousError, AuthError, PermanentError, Reason, TransientError
from tamtam.providers.passeinfo import message_id_of, read_answer, read_send


def answer(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return response


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "success", "message": "123"}, "123"),  # README
        ({"status": "success", "message_id": "123"}, "123"),  # client.py docstring
        ({"status": "success", "message_id": 7, "message": "Message sent"}, "7"),
        ({"status": "success", "message": "Message sent"}, None),
        ({"status": "success", "message": True}, None),
        ({"status": "success"}, None),
    ],
)
def test_given_a_send_answer_when_reading_its_id_then_only_an_id_counts(body, expected):
    assert message_id_of(body) == expected


@pytest.mark.parametrize(
    ("status", "body", "kind", "reason"),
    [
        (200, {"status": "error", "message": "Invalid API key"}, AuthError, Reason.AUTH_FAILED),
        (200, {"status": "failed", "message": "Numéro invalide"}, PermanentError, Reason.INVALID_NUMBER),
        (200, {"success": False, "message": "Solde insuffisant"}, PermanentError, Reason.INSUFFICIENT_CREDIT),
        (201, {"status": "success"}, AmbiguousError, Reason.PROVIDER_UNAVAILABLE),
        (200, b"OK", AmbiguousError, Reason.PROVIDER_UNAVAILABLE),
        (502, b"<html>Bad Gateway</html>", TransientError, Reason.PROVIDER_UNAVAILABLE),
        (404, b"<html>Cannot POST /v1/message/single_message</html>", PermanentError, Reason.PROVIDER_UNAVAILABLE),
    ],
)
def test_given_send_answers_when_reading_then_the_body_decides(status, body, kind, reason):
    with pytest.raises(kind) as raised:
        read_send(answer(status, body), ["success"])
    assert type(raised.value) is kind and raised.value.reason is reason


def test_given_a_success_word_setting_then_another_word_counts_as_success():
    assert read_send(answer(200, {"status": "OK", "message": "9"}), ["success", "ok"])["message"] == "9"


@pytest.mark.parametrize(
    ("body", "kind"),
    [({"status": "error", "message": "Message not found"}, PermanentError), (b"<html/>", TransientError)],
)
def test_given_a_status_query_answer_that_is_no_report_then_an_error(body, kind):
    with pytest.raises(kind):
        read_answer(answer(200, body))


def test_given_an_unreadable_renewal_answer_then_ambiguous_without_its_text():
    with pytest.raises(AmbiguousError) as raised:
        read_answer(answer(200, b"pk_live_secret"), ["success"], changes_state=True)
    assert raised.value.raw_text is None


@pytest.mark.parametrize(
    ("status", "body", "kind", "reason"),
    [
        (200, b'{"status":"error","message":"Invalid API key"}', AuthError, Reason.AUTH_FAILED),
        (400, b'{"status":"error","message":"Api-Key is invalid"}', AuthError, Reason.AUTH_FAILED),
        (404, b'{"status":"error","message":"Not found: /v1/user/renew_api_key"}', PermanentError, Reason.REJECTED),
        (200, b'{"status":"error","message":"Solde insuffisant"}', PermanentError, Reason.INSUFFICIENT_CREDIT),
        (400, b'{"status":"error","message":"Invalid contact"}', PermanentError, Reason.INVALID_NUMBER),
        (403, b"Forbidden", AuthError, Reason.AUTH_FAILED),
        (500, b"<html>oops</html>", TransientError, Reason.PROVIDER_UNAVAILABLE),
        (200, b"<html>maintenance</html>", AmbiguousError, Reason.PROVIDER_UNAVAILABLE),  # a send may have gone out
    ],
)
def test_given_answers_the_sdk_would_not_check_then_each_maps_to_its_error(status, body, kind, reason):
    with pytest.raises(kind) as raised:
        read_send(answer(status, body), ["success"])
    assert raised.value.reason is reason
    assert isinstance(raised.value, AuthError) == (kind is AuthError)


def test_given_a_status_query_answer_saying_failed_then_it_is_not_an_error():
    assert read_answer(answer(200, b'{"status":"failed","message_id":"x"}'))["status"] == "failed"
