"""VentisClient against the Ventis (Keycloak + messaging API) simulator over real HTTP on loopback."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs

import pytest
import requests

from local.sandbox.core import Fault
from local.sandbox.server import SandboxServer
from local.sandbox.ventis import SEND_PATH, TOKEN_PATH
from tamtam.providers.base import AmbiguousError, AuthError, PermanentError, Reason, TransientError
from tamtam.providers.ventis import VentisClient, VentisSecret, VentisSettings
from tests.integration.providers.fixtures_three import *  # noqa: F403

FAST = VentisSettings(connect_timeout=1.0, read_timeout=0.5)
TO = "+24166123456"
SEND = "api/v1/message"


def make_client(server: SandboxServer, session: requests.Session, clock, settings: VentisSettings = FAST,
                **secret: str | None) -> VentisClient:
    values = {
        "token_url": f"{server.url}/ventis/realms/Messaging/protocol/openid-connect/token",
        "base_url": f"{server.url}/ventis/messaging/api/v1",
        "client_secret": "sandbox-client-secret",
        "username": "sandbox",
        "password": "sandbox-password",
        "sender": "TAMTAM",
        **secret,
    }
    return VentisClient(VentisSecret.model_validate(values), settings, session=session, clock=clock)


def sim(server: SandboxServer):
    return server.sandbox.sims["ventis"]


def counters(server: SandboxServer) -> dict[str, int]:
    return sim(server).state()["counters"]


@pytest.mark.parametrize("answer_format", ["text", "json"])
def test_given_valid_credentials_when_sending_then_the_uuid_comes_back_and_the_outbox_holds_241_digits(
    ventis_sandbox, http_session, manual_clock, answer_format
):
    sim(ventis_sandbox).configure({"answer_format": answer_format})

    result = make_client(ventis_sandbox, http_session, manual_clock).send(outbound(TO))

    [entry] = ventis_sandbox.sandbox.outbox_items("ventis")
    assert (entry["to"], entry["sender"], entry["extra"]["isOTP"]) == ("24166123456", "TAMTAM", False)
    assert result.provider_message_id == entry["provider_message_id"]
    assert uuid.UUID(result.provider_message_id)


@pytest.mark.parametrize(
    ("keep_leading_zero", "to", "expected"),
    [
        (None, "+24166123456", "24166123456"),  # the default: digits as given
        (None, "+2410661234567", "2410661234567"),  # seed 003 line 79, the 0 kept
        (False, "+24166123456", "24166123456"),
        (True, "+24166123456", "241066123456"),
        (True, "+2410661234567", "2410661234567"),  # the seed's example, trunk 0 kept
        (False, "+2410661234567", "241661234567"),
    ],
)
def test_given_the_leading_zero_setting_when_sending_then_to_follows_it(
    ventis_sandbox, http_session, manual_clock, keep_leading_zero, to, expected
):
    settings = VentisSettings(connect_timeout=1.0, read_timeout=0.5, keep_leading_zero=keep_leading_zero)

    make_client(ventis_sandbox, http_session, manual_clock, settings).send(outbound(to))

    assert ventis_sandbox.sandbox.outbox_items("ventis")[0]["to"] == expected


def test_given_is_otp_as_a_string_when_the_server_wants_a_boolean_then_refused_and_when_it_wants_a_string_then_sent(
    ventis_sandbox, http_session, manual_clock
):
    settings = VentisSettings(connect_timeout=1.0, read_timeout=0.5, is_otp_as_string=True)
    client = make_client(ventis_sandbox, http_session, manual_clock, settings)

    with pytest.raises(PermanentError) as refused:
        client.send(outbound(TO))
    sim(ventis_sandbox).configure({"is_otp_type": "string"})
    client.send(outbound(TO))

    assert (refused.value.reason, refused.value.raw_text) == (
        Reason.REJECTED, "INVALID_REQUEST|isOTP must be a JSON boolean")
    assert [e["extra"]["isOTP"] for e in ventis_sandbox.sandbox.outbox_items("ventis")] == ["false"]


@pytest.mark.parametrize(
    ("secret_fields", "expected_text"),
    [
        ({"password": "wrong-password"}, "invalid_grant: Invalid user credentials"),
        ({"client_secret": "wrong-client-secret"}, "unauthorized_client: Invalid client or Invalid client credentials"),
    ],
)
def test_given_bad_credentials_when_sending_then_auth_error(
    ventis_sandbox, http_session, manual_clock, secret_fields, expected_text
):
    with pytest.raises(AuthError) as refused:
        make_client(ventis_sandbox, http_session, manual_clock, **secret_fields).send(outbound(TO))

    assert (refused.value.raw_status, refused.value.raw_text) == ("401", expected_text)
    assert "wrong-" not in str(refused.value)


def test_given_a_live_token_when_sending_again_then_no_new_token(ventis_sandbox, http_session, manual_clock):
    client = make_client(ventis_sandbox, http_session, manual_clock)

    client.send(outbound(TO))
    manual_clock.advance(260)  # under 90 % of the 300 s lifetime
    client.send(outbound(TO))

    assert counters(ventis_sandbox) == {"password_grants": 1, "refresh_grants": 0, "sends": 2, "unauthorized": 0}


def test_given_a_token_near_expiry_when_sending_then_the_refresh_token_renews_it(
    ventis_sandbox, http_session, manual_clock
):
    client = make_client(ventis_sandbox, http_session, manual_clock)
    client.send(outbound(TO))

    manual_clock.advance(280)  # past 90 % of expires_in, before the server's expiry
    client.send(outbound(TO))

    assert counters(ventis_sandbox) == {"password_grants": 1, "refresh_grants": 1, "sends": 2, "unauthorized": 0}


def test_given_both_tokens_expired_when_sending_then_a_fresh_login(ventis_sandbox, http_session, manual_clock):
    client = make_client(ventis_sandbox, http_session, manual_clock)
    client.send(outbound(TO))

    manual_clock.advance(1_801)
    client.send(outbound(TO))

    assert counters(ventis_sandbox) == {"password_grants": 2, "refresh_grants": 0, "sends": 2, "unauthorized": 0}


def test_given_a_refresh_token_keycloak_finds_inactive_when_renewing_then_a_fresh_login(
    ventis_sandbox, http_session, manual_clock
):
    sim(ventis_sandbox).configure({"access_lifetime": 60, "refresh_lifetime": 120})
    client_clock = ManualClock(manual_clock.now)
    client = make_client(ventis_sandbox, http_session, client_clock)
    client.send(outbound(TO))

    manual_clock.advance(500)  # Keycloak: both tokens dead
    client_clock.advance(100)  # the client: access due for renewal, refresh still alive
    client.send(outbound(TO))

    assert counters(ventis_sandbox) == {"password_grants": 2, "refresh_grants": 0, "sends": 2, "unauthorized": 0}


def test_given_a_401_on_send_when_sending_then_a_new_token_and_one_retry(ventis_sandbox, http_session, manual_clock):
    client_clock = ManualClock(manual_clock.now)  # the client still trusts its access token
    client = make_client(ventis_sandbox, http_session, client_clock)
    client.send(outbound(TO))

    manual_clock.advance(301)
    result = client.send(outbound(TO))

    assert result.provider_message_id is not None
    assert counters(ventis_sandbox) == {"password_grants": 1, "refresh_grants": 1, "sends": 2, "unauthorized": 1}


def test_given_a_401_that_survives_renewal_when_sending_then_auth_error(ventis_sandbox, http_session, manual_clock):
    ventis_sandbox.sandbox.set_fault("ventis", Fault(mode="error", status=401, match=SEND))

    with pytest.raises(AuthError):
        make_client(ventis_sandbox, http_session, manual_clock).send(outbound(TO))

    assert counters(ventis_sandbox)["password_grants"] + counters(ventis_sandbox)["refresh_grants"] == 2
    assert ventis_sandbox.sandbox.outbox_items() == []


@pytest.mark.parametrize(("status", "match"), [(503, SEND), (502, SEND), (429, SEND), (500, "token")])
def test_given_a_server_error_when_sending_then_transient(ventis_sandbox, http_session, manual_clock, status, match):
    ventis_sandbox.sandbox.set_fault("ventis", Fault(mode="error", status=status, match=match))

    with pytest.raises(TransientError) as failed:
        make_client(ventis_sandbox, http_session, manual_clock).send(outbound(TO))

    assert failed.value.reason is Reason.PROVIDER_UNAVAILABLE


def test_given_no_answer_to_the_send_when_sending_then_ambiguous(ventis_sandbox, http_session, manual_clock):
    ventis_sandbox.sandbox.set_fault("ventis", Fault(mode="timeout", delay=1.5, match=SEND))

    with pytest.raises(AmbiguousError) as failed:
        make_client(ventis_sandbox, http_session, manual_clock).send(outbound(TO))

    assert failed.value.reason is Reason.TIMEOUT


def test_given_no_answer_from_keycloak_when_sending_then_transient(ventis_sandbox, http_session, manual_clock):
    ventis_sandbox.sandbox.set_fault("ventis", Fault(mode="timeout", delay=1.5, match="token"))

    with pytest.raises(TransientError):
        make_client(ventis_sandbox, http_session, manual_clock).send(outbound(TO))


@pytest.mark.parametrize(
    ("to", "sender", "reason"),
    [("+224622000001", None, Reason.INVALID_NUMBER), (TO, "UNKNOWN", Reason.SENDER_NOT_APPROVED)],
)
@pytest.mark.parametrize("answer_format", ["text", "json"])
def test_given_an_error_answer_when_sending_then_its_reason(
    ventis_sandbox, http_session, manual_clock, to, sender, reason, answer_format
):
    sim(ventis_sandbox).configure({"answer_format": answer_format})

    with pytest.raises(PermanentError) as refused:
        make_client(ventis_sandbox, http_session, manual_clock).send(outbound(to, sender=sender))

    assert refused.value.reason is reason
    assert ventis_sandbox.sandbox.outbox_items() == []


@pytest.mark.parametrize(
    "fault_reason", ["insufficient_credit", "invalid_number", "auth_failed", "sender_not_approved", "device_offline"]
)
@pytest.mark.parametrize("error_http_status", [400, 200])
def test_given_an_injected_rejection_when_sending_then_the_reason_is_mapped(
    ventis_sandbox, http_session, manual_clock, fault_reason, error_http_status
):
    sim(ventis_sandbox).configure({"error_http_status": error_http_status})
    ventis_sandbox.sandbox.set_fault("ventis", Fault(mode="reject", reason=fault_reason, match=SEND))

    with pytest.raises(PermanentError) as refused:
        make_client(ventis_sandbox, http_session, manual_clock).send(outbound(TO))

    assert refused.value.reason.value == fault_reason
    assert refused.value.raw_status == str(error_http_status)


# --- issue 12: what the public integration sends, and what the sandbox refuses --------------


def canned_client(canned: CannedServer, **secret: str) -> VentisClient:
    values = {"token_url": f"{canned.url}/token", "base_url": f"{canned.url}/api/v1", "client_secret": "s",
              "username": "u", "password": "p", "sender": "TAMTAM", **secret}
    return VentisClient(VentisSecret.model_validate(values), FAST)


TOKEN = '{"access_token": "at", "expires_in": 300, "refresh_expires_in": 1800, "refresh_token": "rt"}'


def test_given_defaults_when_sending_then_the_body_is_the_integrations(canned_server):
    canned_server.answer(200, TOKEN)
    canned_server.answer(200, "+SUCCESS|0f8e1c2a-0000-4000-8000-000000000001|2025-01-01T10:00:00Z", "text/plain")

    result = canned_client(canned_server).send(outbound("+2410661234567"))

    (_, _, _, form), (method, path, headers, body) = canned_server.requests
    assert (method, path, headers["authorization"]) == ("POST", "/api/v1/message", "Bearer at")
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert json.loads(body) == {"to": "2410661234567", "sender": "TAMTAM", "isOTP": False,
                                "message": "Your code is 482913"}
    assert parse_qs(form.decode()) == {"grant_type": ["password"], "username": ["u"], "password": ["p"],
                                       "client_id": ["api-messaging"], "client_secret": ["s"]}
    assert result.provider_message_id == "0f8e1c2a-0000-4000-8000-000000000001"


@pytest.mark.parametrize(
    ("answer", "message_id"),
    [("SUCCESS|u-1|2025-01-01", "u-1"), ("+success|u-2|ts", "u-2")],  # parse_ventis_response: upper(), sign optional
)
def test_given_a_success_line_in_any_case_when_sending_then_it_is_read(canned_server, answer, message_id):
    canned_server.answer(200, TOKEN)
    canned_server.answer(200, answer, "text/plain")

    assert canned_client(canned_server).send(outbound(TO)).provider_message_id == message_id


def test_given_an_empty_client_secret_when_logging_in_then_no_client_secret_is_sent(canned_server):
    canned_server.answer(200, TOKEN)
    canned_server.answer(200, "+SUCCESS|u-3|ts", "text/plain")

    canned_client(canned_server, client_secret="").send(outbound(TO))

    assert "client_secret" not in parse_qs(canned_server.requests[0][3].decode(), keep_blank_values=True)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"isOTP": "false"}, "INVALID_REQUEST"),  # the integration sends a JSON boolean
        ({"isOTP": None}, "INVALID_REQUEST"),
        ({"to": "+2410661234567"}, "INVALID_NUMBER"),  # digits only, no +
        ({"to": "241 06 61 23 45 67"}, "INVALID_NUMBER"),
    ],
)
def test_given_what_the_integration_never_sends_then_the_sandbox_refuses_it_in_its_error_format(
    ventis_sandbox, http_session, change, code
):
    grant = {"grant_type": "password", "client_id": "api-messaging", "client_secret": "sandbox-client-secret",
             "username": "sandbox", "password": "sandbox-password"}
    token = http_session.post(f"{ventis_sandbox.url}/ventis{TOKEN_PATH}", data=grant, timeout=5).json()["access_token"]
    body = {"to": "2410661234567", "sender": "TAMTAM", "isOTP": False, "message": "hello", **change}

    answer = http_session.post(f"{ventis_sandbox.url}/ventis{SEND_PATH}", json=body, timeout=5,
                               headers={"Authorization": f"Bearer {token}"})

    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.text.startswith(f"-ERROR|{code}|")
    assert ventis_sandbox.sandbox.outbox_items() == []


def test_given_no_client_secret_for_a_confidential_client_then_keycloak_says_so(
    ventis_sandbox, http_session, manual_clock
):
    with pytest.raises(AuthError) as refused:
        make_client(ventis_sandbox, http_session, manual_clock, client_secret=None).send(outbound(TO))

    assert (refused.value.raw_status, refused.value.raw_text) == (
        "401", "unauthorized_client: Client secret not provided in request")
