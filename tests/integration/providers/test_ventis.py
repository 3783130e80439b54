"""VentisClient against the Ventis (Keycloak + messaging API) simulator over real HTTP on loopback."""

from __future__ import annotations

import uuid

import pytest
import requests

from local.sandbox.core import Fault
from local.sandbox.server import SandboxServer
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
    assert (entry["to"], entry["sender"], entry["extra"]["isOTP"]) == ("24166123456", "TAMTAM", "false")
    assert result.provider_message_id == entry["provider_message_id"]
    assert uuid.UUID(result.provider_message_id)


@pytest.mark.parametrize(
    ("keep_leading_zero", "to", "expected"),
    [
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


def test_given_is_otp_as_a_boolean_when_sending_then_a_json_boolean_goes_out(
    ventis_sandbox, http_session, manual_clock
):
    settings = VentisSettings(connect_timeout=1.0, read_timeout=0.5, is_otp_as_string=False)

    make_client(ventis_sandbox, http_session, manual_clock, settings).send(outbound(TO))

    assert ventis_sandbox.sandbox.outbox_items("ventis")[0]["extra"]["isOTP"] is False


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
