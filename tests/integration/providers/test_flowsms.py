"""FlowSmsClient against the FLOW SMS (DRF + simplejwt) simulator over real HTTP on loopback."""

from __future__ import annotations

import pytest
import requests

from local.sandbox.core import Fault
from local.sandbox.server import SandboxServer
from tamtam.providers.base import AmbiguousError, AuthError, PermanentError, Reason, TransientError
from tamtam.providers.flowsms import FlowSmsClient, FlowSmsSecret, FlowSmsSettings
from tests.integration.providers.fixtures_three import *  # noqa: F403

FAST = FlowSmsSettings(connect_timeout=1.0, read_timeout=0.5)
TO = "+224622000001"


def make_client(server: SandboxServer, session: requests.Session, clock, settings: FlowSmsSettings = FAST,
                **secret: str) -> FlowSmsClient:
    values = {"base_url": f"{server.url}/flowsms/campaigns/api/", "username": "sandbox",
              "password": "sandbox-password", "sender_id": "TAMTAM", **secret}
    return FlowSmsClient(FlowSmsSecret.model_validate(values), settings, session=session, clock=clock)


def counters(server: SandboxServer) -> dict[str, int]:
    return server.sandbox.sims["flowsms"].state()["counters"]


def test_given_valid_credentials_when_sending_then_the_message_id_comes_back_and_the_outbox_holds_it(
    flowsms_sandbox, http_session, manual_clock
):
    client = make_client(flowsms_sandbox, http_session, manual_clock)

    result = client.send(outbound(TO))

    [entry] = flowsms_sandbox.sandbox.outbox_items("flowsms")
    assert (entry["to"], entry["sender"]) == (TO, "TAMTAM")
    assert result.provider_message_id == entry["provider_message_id"]
    assert result.raw_status == "sent"


def test_given_a_live_access_token_when_sending_again_then_no_new_login(flowsms_sandbox, http_session, manual_clock):
    client = make_client(flowsms_sandbox, http_session, manual_clock)

    client.send(outbound(TO))
    manual_clock.advance(200)
    client.send(outbound(TO))

    assert counters(flowsms_sandbox) == {"logins": 1, "refreshes": 0, "sends": 2}


def test_given_a_201_answer_when_sending_then_success(flowsms_sandbox, http_session, manual_clock):
    flowsms_sandbox.sandbox.sims["flowsms"].configure({"send_status": 201})

    result = make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert result.provider_message_id.startswith("flow-")


def test_given_wrong_credentials_when_sending_then_auth_error(flowsms_sandbox, http_session, manual_clock):
    client = make_client(flowsms_sandbox, http_session, manual_clock, password="wrong-password")

    with pytest.raises(AuthError) as refused:
        client.send(outbound(TO))

    assert "No active account found" in refused.value.raw_text
    assert "wrong-password" not in str(refused.value)
    assert flowsms_sandbox.sandbox.outbox_items() == []


def test_given_an_expired_access_token_when_sending_then_the_refresh_token_renews_it(
    flowsms_sandbox, http_session, manual_clock
):
    client = make_client(flowsms_sandbox, http_session, manual_clock)
    client.send(outbound(TO))

    manual_clock.advance(301)
    client.send(outbound(TO))

    assert counters(flowsms_sandbox) == {"logins": 1, "refreshes": 1, "sends": 2}


def test_given_rotated_refresh_tokens_when_renewing_twice_then_the_new_refresh_token_is_used(
    flowsms_sandbox, http_session, manual_clock
):
    flowsms_sandbox.sandbox.sims["flowsms"].configure({"rotate_refresh_tokens": True})
    client = make_client(flowsms_sandbox, http_session, manual_clock)
    client.send(outbound(TO))

    for _ in range(2):
        manual_clock.advance(301)
        client.send(outbound(TO))

    assert counters(flowsms_sandbox) == {"logins": 1, "refreshes": 2, "sends": 3}


def test_given_both_tokens_expired_when_sending_then_a_fresh_login(flowsms_sandbox, http_session, manual_clock):
    client = make_client(flowsms_sandbox, http_session, manual_clock)
    client.send(outbound(TO))

    manual_clock.advance(86_401)
    client.send(outbound(TO))

    assert counters(flowsms_sandbox) == {"logins": 2, "refreshes": 0, "sends": 2}


def test_given_a_refresh_token_the_server_finds_dead_when_renewing_then_a_fresh_login(
    flowsms_sandbox, http_session, manual_clock
):
    client_clock = ManualClock(manual_clock.now)  # the client believes its refresh token is alive
    client = make_client(flowsms_sandbox, http_session, client_clock)
    client.send(outbound(TO))

    manual_clock.advance(86_401)
    client_clock.advance(301)
    client.send(outbound(TO))

    assert counters(flowsms_sandbox) == {"logins": 2, "refreshes": 0, "sends": 2}


def test_given_an_access_token_refused_on_send_when_sending_then_renewed_and_retried_once(
    flowsms_sandbox, http_session, manual_clock
):
    client_clock = ManualClock(manual_clock.now)  # the client still trusts its access token
    client = make_client(flowsms_sandbox, http_session, client_clock)
    client.send(outbound(TO))

    manual_clock.advance(301)
    result = client.send(outbound(TO))

    assert result.provider_message_id is not None
    assert counters(flowsms_sandbox) == {"logins": 1, "refreshes": 1, "sends": 2}
    assert len(flowsms_sandbox.sandbox.outbox_items()) == 2


def test_given_a_401_that_survives_renewal_when_sending_then_auth_error(flowsms_sandbox, http_session, manual_clock):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="error", status=401, match="send-sms"))

    with pytest.raises(AuthError):
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert counters(flowsms_sandbox)["logins"] + counters(flowsms_sandbox)["refreshes"] == 2


@pytest.mark.parametrize(("status", "match"), [(503, "send-sms"), (500, "send-sms"), (429, "send-sms"), (502, "token")])
def test_given_a_server_error_when_sending_then_transient(flowsms_sandbox, http_session, manual_clock, status, match):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="error", status=status, match=match))

    with pytest.raises(TransientError) as failed:
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert failed.value.reason is Reason.PROVIDER_UNAVAILABLE


def test_given_no_answer_to_the_send_when_sending_then_ambiguous(flowsms_sandbox, http_session, manual_clock):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="timeout", delay=1.5, match="send-sms"))

    with pytest.raises(AmbiguousError) as failed:
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert failed.value.reason is Reason.TIMEOUT


def test_given_no_answer_to_the_login_when_sending_then_transient(flowsms_sandbox, http_session, manual_clock):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="timeout", delay=1.5, match="token/"))

    with pytest.raises(TransientError):
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))


@pytest.mark.parametrize(
    ("to", "sender", "reason"),
    [("+12", None, Reason.INVALID_NUMBER), (TO, "NOT-APPROVED", Reason.SENDER_NOT_APPROVED)],
)
def test_given_a_field_error_when_sending_then_its_reason(
    flowsms_sandbox, http_session, manual_clock, to, sender, reason
):
    with pytest.raises(PermanentError) as refused:
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(to, sender=sender))

    assert refused.value.reason is reason
    assert refused.value.raw_status == "400"


@pytest.mark.parametrize(
    "fault_reason", ["insufficient_credit", "invalid_number", "auth_failed", "sender_not_approved", "device_offline"]
)
def test_given_an_injected_rejection_when_sending_then_the_reason_is_mapped(
    flowsms_sandbox, http_session, manual_clock, fault_reason
):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="reject", reason=fault_reason, match="send-sms"))

    with pytest.raises(PermanentError) as refused:
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert refused.value.reason.value == fault_reason


def test_given_a_token_when_managing_sender_ids_then_new_ones_are_pending(flowsms_sandbox, http_session):
    api = f"{flowsms_sandbox.url}/flowsms/campaigns/api/"
    access = http_session.post(api + "token/", json={"username": "sandbox", "password": "sandbox-password"},
                               timeout=5).json()["access"]
    auth = {"Authorization": f"Bearer {access}"}

    created = http_session.post(api + "senderids/", json={"name": "NEWID"}, headers=auth, timeout=5)
    listed = http_session.get(api + "senderids/", headers=auth, timeout=5).json()
    anonymous = http_session.get(api + "senderids/", timeout=5)

    assert (created.status_code, created.json()["status"]) == (201, "pending")
    assert {(s["name"], s["status"]) for s in listed} == {("TAMTAM", "approved"), ("NEWID", "pending")}
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Authentication credentials were not provided."}
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="api"'
