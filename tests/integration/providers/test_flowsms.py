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


# --- issue 12: the sandbox answers what simplejwt, DRF and Django answer ---------------------


def api(server: SandboxServer) -> str:
    return f"{server.url}/flowsms/campaigns/api/"


def login(server: SandboxServer, session: requests.Session) -> dict[str, str]:
    return session.post(api(server) + "token/", json={"username": "sandbox", "password": "sandbox-password"},
                        timeout=5).json()


def test_given_an_access_token_refused_with_a_403_when_sending_then_renewed_and_retried_once(
    flowsms_sandbox, http_session, manual_clock
):
    flowsms_sandbox.sandbox.sims["flowsms"].configure({"session_authentication_first": True})
    client_clock = ManualClock(manual_clock.now)  # the client still trusts its access token
    client = make_client(flowsms_sandbox, http_session, client_clock)
    client.send(outbound(TO))

    manual_clock.advance(301)
    result = client.send(outbound(TO))

    assert result.provider_message_id is not None
    assert counters(flowsms_sandbox) == {"logins": 1, "refreshes": 1, "sends": 2}


def test_given_a_403_token_refusal_from_a_scripted_server_then_the_client_renews_instead_of_failing(
    canned_server, http_session, manual_clock
):
    token_error = ('{"detail": "Given token not valid for any token type", "code": "token_not_valid", "messages": '
                   '[{"token_class": "AccessToken", "token_type": "access", "message": "Token is expired"}]}')
    sent = '{"success": true, "campaign_id": 9, "messages_sent": 1, "messages_failed": 0, "messages": []}'
    for status, body in ((200, '{"access": "a1", "refresh": "r1"}'), (403, token_error), (200, '{"access": "a2"}'),
                         (200, sent)):
        canned_server.answer(status, body)
    secret = FlowSmsSecret.model_validate({"base_url": canned_server.url + "/campaigns/api/", "username": "u",
                                           "password": "p", "sender_id": "TAMTAM"})

    result = FlowSmsClient(secret, FAST, session=http_session, clock=manual_clock).send(outbound(TO))

    assert result.provider_message_id == "9"
    assert [(m, p) for m, p, _, _ in canned_server.requests] == [
        ("POST", "/campaigns/api/token/"), ("POST", "/campaigns/api/send-sms/"),
        ("POST", "/campaigns/api/token/refresh/"), ("POST", "/campaigns/api/send-sms/")]


def test_given_a_403_permission_refusal_when_sending_then_no_renewal(flowsms_sandbox, http_session, manual_clock):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="reject", reason="auth_failed", match="send-sms"))

    with pytest.raises(PermanentError) as refused:
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert (refused.value.reason, refused.value.raw_status) == (Reason.AUTH_FAILED, "403")
    assert counters(flowsms_sandbox) == {"logins": 1, "refreshes": 0, "sends": 0}


def test_given_rotation_with_the_library_defaults_then_the_old_refresh_token_still_works(flowsms_sandbox, http_session):
    flowsms_sandbox.sandbox.sims["flowsms"].configure({"rotate_refresh_tokens": True})
    refresh = login(flowsms_sandbox, http_session)["refresh"]

    first = http_session.post(api(flowsms_sandbox) + "token/refresh/", json={"refresh": refresh}, timeout=5)
    again = http_session.post(api(flowsms_sandbox) + "token/refresh/", json={"refresh": refresh}, timeout=5)

    assert set(first.json()) == {"access", "refresh"}
    assert again.status_code == 200  # BLACKLIST_AFTER_ROTATION is False by default (settings.py)


@pytest.mark.parametrize(
    ("authorization", "body"),
    [
        ("Bearer", {"detail": "Authorization header must contain two space-delimited values",
                    "code": "bad_authorization_header"}),
        ("Bearer a b", {"detail": "Authorization header must contain two space-delimited values",
                        "code": "bad_authorization_header"}),
        ("Token abc", {"detail": "Authentication credentials were not provided."}),
    ],
)
def test_given_malformed_authorization_headers_then_simplejwts_answers(flowsms_sandbox, http_session, authorization,
                                                                        body):
    answer = http_session.get(api(flowsms_sandbox) + "contacts/", headers={"Authorization": authorization}, timeout=5)

    assert (answer.status_code, answer.json(), answer.headers["WWW-Authenticate"]) == (401, body, 'Bearer realm="api"')


def test_given_a_refresh_token_used_as_an_access_token_after_it_expired_then_expiry_is_reported_first(
    flowsms_sandbox, http_session, manual_clock
):
    refresh = login(flowsms_sandbox, http_session)["refresh"]
    manual_clock.advance(86_401)

    answer = http_session.get(api(flowsms_sandbox) + "contacts/", headers={"Authorization": f"Bearer {refresh}"},
                              timeout=5)

    assert answer.json()["messages"][0]["message"] == "Token is expired"  # decode() before verify_token_type()


def test_given_token_view_refusals_then_they_carry_the_bearer_challenge(flowsms_sandbox, http_session):
    wrong = http_session.post(api(flowsms_sandbox) + "token/", json={"username": "sandbox", "password": "x"}, timeout=5)
    dead = http_session.post(api(flowsms_sandbox) + "token/refresh/", json={"refresh": "x.y.z"}, timeout=5)

    assert (wrong.status_code, wrong.headers["WWW-Authenticate"]) == (401, 'Bearer realm="api"')
    assert (dead.json(), dead.headers["WWW-Authenticate"]) == (
        {"detail": "Token is invalid", "code": "token_not_valid"}, 'Bearer realm="api"')


@pytest.mark.parametrize(
    ("body", "content_type", "status", "expected"),
    [
        (b"{not json", "application/json", 400, {"detail": "JSON parse error - Expecting property name enclosed in "
                                                           "double quotes: line 1 column 2 (char 1)"}),
        (b'{"username": "", "password": null}', "application/json", 400,
         {"username": ["This field may not be blank."], "password": ["This field may not be null."]}),
        (b"[1]", "application/json", 400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}),
        (b"username=a", "text/plain", 415, {"detail": 'Unsupported media type "text/plain" in request.'}),
    ],
)
def test_given_bad_token_requests_then_drfs_parser_and_field_errors(flowsms_sandbox, http_session, body,
                                                                    content_type, status, expected):
    answer = http_session.post(api(flowsms_sandbox) + "token/", data=body, headers={"Content-Type": content_type},
                               timeout=5)

    assert (answer.status_code, answer.json()) == (status, expected)


def test_given_bad_phone_number_lists_then_listfield_errors(flowsms_sandbox, http_session):
    auth = {"Authorization": f"Bearer {login(flowsms_sandbox, http_session)['access']}"}
    send = api(flowsms_sandbox) + "send-sms/"
    base = {"sender_id": "TAMTAM", "message": "hi"}

    answers = [http_session.post(send, json={**base, **extra}, headers=auth, timeout=5).json()
               for extra in ({"phone_numbers": []}, {"phone_numbers": "+224622000001"}, {})]

    assert answers == [{"phone_numbers": ["This list may not be empty."]},
                       {"phone_numbers": ['Expected a list of items but got type "str".']},
                       {"phone_numbers": ["This field is required."]}]


def test_given_unknown_paths_and_server_errors_then_djangos_pages(flowsms_sandbox, http_session):
    missing = http_session.get(f"{flowsms_sandbox.url}/flowsms/campaigns/api/nope/", timeout=5)
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="error", status=500, times=1))
    broken = http_session.get(api(flowsms_sandbox) + "contacts/", timeout=5)
    unslashed = http_session.post(api(flowsms_sandbox) + "token", json={}, timeout=5, allow_redirects=False)

    assert (missing.status_code, missing.headers["Content-Type"]) == (404, "text/html")
    assert "<title>Not Found</title>" in missing.text
    assert "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>" in missing.text
    assert (broken.status_code, "<h1>Server Error (500)</h1><p></p>" in broken.text) == (500, True)
    assert (unslashed.status_code, unslashed.headers["Location"]) == (301, "/flowsms/campaigns/api/token/")


@pytest.mark.parametrize(("status", "kind", "reason"), [
    (404, PermanentError, Reason.PROVIDER_UNAVAILABLE),
    (405, PermanentError, Reason.PROVIDER_UNAVAILABLE),
    (400, PermanentError, Reason.REJECTED),
])
def test_given_each_library_error_on_a_send_then_the_client_maps_it(flowsms_sandbox, http_session, manual_clock,
                                                                     status, kind, reason):
    flowsms_sandbox.sandbox.set_fault("flowsms", Fault(mode="error", status=status, match="send-sms"))

    with pytest.raises(kind) as failed:
        make_client(flowsms_sandbox, http_session, manual_clock).send(outbound(TO))

    assert (type(failed.value), failed.value.reason, failed.value.raw_status) == (kind, reason, str(status))
