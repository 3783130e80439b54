"""PasseInfoClient against the PasseInfo simulator over real HTTP on loopback."""

from __future__ import annotations

import pytest
import requests

from local.sandbox.server import SandboxServer
from tamtam.providers.base import (
    AmbiguousError,
    AuthError,
    OutboundMessage,
    PermanentError,
    Reason,
    TransientError,
)
from tamtam.providers.passeinfo import (
    PasseInfoClient,
    PasseInfoSecret,
    PasseInfoSettings,
    format_contact,
    passeinfo_settings,
)
from tamtam.providers.registry import build_client
from tests.integration.providers.fixtures_three import CannedServer, canned_server  # noqa: F401

FAST = PasseInfoSettings(connect_timeout=1.0, read_timeout=3.0)


def make_client(url: str, settings: PasseInfoSettings = FAST, **secret: str) -> PasseInfoClient:
    values = {"base_url": f"{url}/passeinfo", "client_id": "sandbox-client", "api_key": "sandbox-api-key", **secret}
    return PasseInfoClient(PasseInfoSecret.model_validate(values), settings=settings)


def message(to: str = "+224622000001", sender: str | None = "TAMTAM", message_id: str = "msg-1") -> OutboundMessage:
    return OutboundMessage(message_id=message_id, to=to, text="Your code is 123456", sender=sender)


def test_given_valid_credentials_when_sending_then_the_id_comes_back_and_the_outbox_holds_it(
    sandbox: SandboxServer, control
):
    result = make_client(sandbox.url).send(message())

    [entry] = control.outbox(provider="passeinfo")
    assert result.provider_message_id == entry["provider_message_id"]
    assert result.raw_status == "success"
    assert (entry["to"], entry["text"], entry["sender"]) == ("+224622000001", "Your code is 123456", "TAMTAM")
    assert entry["extra"]["contact"] == "622000001"  # national form on the wire


@pytest.mark.parametrize("keys", [["message"], ["message_id"]])
def test_given_either_documented_id_key_then_the_id_is_read(sandbox: SandboxServer, control, keys: list[str]):
    control.configure("passeinfo", send_id_keys=keys)
    result = make_client(sandbox.url).send(message())
    assert result.provider_message_id == control.outbox()[0]["provider_message_id"]


def test_given_a_message_without_sender_then_the_default_sender_is_used(sandbox: SandboxServer, control):
    make_client(sandbox.url).send(message(sender=None))
    assert control.outbox()[0]["sender"] == "TAMTAM"


def test_given_international_digits_on_both_sides_then_the_send_goes_through(sandbox: SandboxServer, control):
    control.configure("passeinfo", contact_format="international_digits")
    settings = PasseInfoSettings(read_timeout=3.0, phone_format="international_digits")
    make_client(sandbox.url, settings).send(message())
    assert control.outbox()[0]["extra"]["contact"] == "224622000001"
    with pytest.raises(PermanentError) as raised:
        make_client(sandbox.url).send(message())  # national form refused by this server
    assert raised.value.reason is Reason.INVALID_NUMBER


def test_given_the_environment_then_from_secret_reads_the_settings(sandbox: SandboxServer, control, monkeypatch):
    monkeypatch.setenv("TAMTAM_PASSEINFO_PHONE_FORMAT", "international_digits")
    passeinfo_settings.cache_clear()
    try:
        control.configure("passeinfo", contact_format="international_digits")
        secret = {"base_url": f"{sandbox.url}/passeinfo", "client_id": "sandbox-client", "api_key": "sandbox-api-key"}
        build_client("passeinfo", secret).send(message())
    finally:
        passeinfo_settings.cache_clear()
    assert control.outbox()[0]["extra"]["contact"] == "224622000001"


def test_given_phone_formats_then_e164_is_converted_and_foreign_national_numbers_refused():
    assert format_contact("+224622000001", "national") == "622000001"
    assert format_contact("+224622000001", "international_digits") == "224622000001"
    for bad, fmt in (("+24166000001", "national"), ("622000001", "international_digits")):
        with pytest.raises(PermanentError) as raised:
            format_contact(bad, fmt)
        assert raised.value.reason is Reason.INVALID_NUMBER


@pytest.mark.parametrize("secret", [{"api_key": "wrong-key"}, {"client_id": "someone-else"}])
def test_given_bad_credentials_then_auth_error(sandbox: SandboxServer, control, secret: dict[str, str]):
    with pytest.raises(AuthError) as raised:
        make_client(sandbox.url, **secret).send(message())
    assert raised.value.raw_status == "401"
    assert "wrong-key" not in str(raised.value)
    assert control.outbox() == []


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_given_a_server_error_then_transient_error(sandbox: SandboxServer, control, status: int):
    control.fault("passeinfo", "error", status=status)
    with pytest.raises(TransientError) as raised:
        make_client(sandbox.url).send(message())
    assert (raised.value.reason, raised.value.raw_status) == (Reason.PROVIDER_UNAVAILABLE, str(status))


def test_given_no_answer_within_the_read_timeout_then_ambiguous_error(sandbox: SandboxServer, control):
    control.fault("passeinfo", "timeout", delay=10)
    with pytest.raises(AmbiguousError) as raised:
        make_client(sandbox.url).send(message())
    assert raised.value.reason is Reason.TIMEOUT


def test_given_a_dropped_answer_then_ambiguous_error_and_the_message_was_taken(sandbox: SandboxServer, control):
    control.fault("passeinfo", "drop", times=1)
    with pytest.raises(AmbiguousError):
        make_client(sandbox.url).send(message())
    assert len(control.outbox()) == 1


def test_given_a_refused_connection_then_transient_error(closed_port_url: str):
    with pytest.raises(TransientError) as raised:
        make_client(closed_port_url).send(message())
    assert raised.value.reason is Reason.PROVIDER_UNAVAILABLE


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("insufficient_credit", Reason.INSUFFICIENT_CREDIT),
        ("invalid_number", Reason.INVALID_NUMBER),
        ("sender_not_approved", Reason.SENDER_NOT_APPROVED),
        ("something_else", Reason.REJECTED),
    ],
)
def test_given_a_rejection_then_its_reason_code(sandbox: SandboxServer, control, reason: str, expected: Reason):
    control.fault("passeinfo", "reject", reason=reason)
    with pytest.raises(PermanentError) as raised:
        make_client(sandbox.url).send(message())
    assert raised.value.reason is expected and not isinstance(raised.value, AuthError)


def test_given_real_refusals_of_the_simulator_then_their_reason_codes(sandbox: SandboxServer, control):
    client = make_client(sandbox.url)
    with pytest.raises(PermanentError) as raised:
        client.send(message(to="+224122000001"))  # not a Guinea national number
    assert raised.value.reason is Reason.INVALID_NUMBER
    control.configure("passeinfo", approved_senders=["BANK"])
    with pytest.raises(PermanentError) as raised:
        client.send(message(sender="TAMTAM"))
    assert raised.value.reason is Reason.SENDER_NOT_APPROVED
    control.configure("passeinfo", approved_senders=None, balance=0)
    with pytest.raises(PermanentError) as raised:
        client.send(message())
    assert raised.value.reason is Reason.INSUFFICIENT_CREDIT
    assert control.outbox() == []


def test_given_time_passing_then_the_status_goes_pending_sent_delivered(sandbox: SandboxServer, control, clock):
    control.configure("passeinfo", sent_after=5, delivered_after=30)
    client = make_client(sandbox.url)
    provider_id = client.send(message()).provider_message_id

    assert client.status(provider_id).status == "sending"
    clock.advance(6)
    assert client.status(provider_id).status == "sent"
    clock.advance(30)
    report = client.status(provider_id)
    assert (report.status, report.raw_status, report.reason) == ("delivered", "delivered", None)


def test_given_a_failing_delivery_then_the_status_is_failed_with_the_provider_text(sandbox: SandboxServer, control):
    control.configure(
        "passeinfo", sent_after=0, delivered_after=0, final_status="failed", failure_message="Number unreachable"
    )
    client = make_client(sandbox.url)
    report = client.status(client.send(message()).provider_message_id)
    assert (report.status, report.raw_text, report.reason) == ("failed", "Number unreachable", Reason.INVALID_NUMBER)


def test_given_sends_then_the_balance_goes_down(sandbox: SandboxServer, control):
    control.configure("passeinfo", balance=3)
    client = make_client(sandbox.url)
    assert client.balance() == 3
    client.send(message())
    assert client.balance() == 2


def test_given_a_renewal_then_the_new_key_works_and_the_old_one_is_refused_at_once(sandbox: SandboxServer, control):
    client = make_client(sandbox.url)
    new_key = client.renew_api_key()

    assert new_key and new_key != "sandbox-api-key"
    assert control.state("passeinfo")["settings"]["api_key"] == new_key
    assert client.balance() == 1000  # the client switched to the new key
    with pytest.raises(AuthError):
        make_client(sandbox.url).balance()
    assert make_client(sandbox.url, api_key=new_key).balance() == 1000


def test_given_the_default_get_only_server_then_a_post_renewal_is_refused_and_a_get_renewal_reads_api_key(
    sandbox: SandboxServer, control
):
    control.configure("passeinfo", renew_response_keys=["api_key"])
    with pytest.raises(PermanentError) as raised:  # POST is not served by default (models.py renews with GET)
        make_client(sandbox.url, PasseInfoSettings(read_timeout=3.0, renew_method="POST")).renew_api_key()
    assert raised.value.reason is Reason.REJECTED and raw_status_of(raised.value) == "404"
    assert control.state("passeinfo")["renewals"] == 0
    new_key = make_client(sandbox.url).renew_api_key()
    assert control.state("passeinfo")["settings"]["api_key"] == new_key


def raw_status_of(error: Exception) -> str | None:
    return getattr(error, "raw_status", None)


def test_given_a_grace_period_then_the_old_key_works_until_it_ends(sandbox: SandboxServer, control, clock):
    control.configure("passeinfo", old_key_grace=60)
    make_client(sandbox.url).renew_api_key()
    old = make_client(sandbox.url)
    assert old.balance() == 1000
    clock.advance(61)
    with pytest.raises(AuthError):
        old.balance()


# --- issue 12: the body decides, as the SDK never looks at the HTTP status -----------------


def canned_client(canned: CannedServer) -> PasseInfoClient:
    secret = PasseInfoSecret.model_validate({"base_url": canned.url, "client_id": "c", "api_key": "k"})
    return PasseInfoClient(secret, settings=FAST)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"status": "failed", "message": "Insufficient balance"}', Reason.INSUFFICIENT_CREDIT),
        ('{"status": "failure", "message": "Invalid contact number"}', Reason.INVALID_NUMBER),
        ('{"success": false, "message": "Sender name not approved"}', Reason.SENDER_NOT_APPROVED),
    ],
)
def test_given_a_send_refused_with_http_200_then_an_error_with_its_reason_not_a_success(
    canned_server: CannedServer, body: str, reason: Reason
):
    canned_server.answer(200, body)
    with pytest.raises(PermanentError) as raised:
        canned_client(canned_server).send(message())
    assert (raised.value.reason, raised.value.raw_status) == (reason, "200")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"status": "success", "message": "Message envoyé avec succès"}', "application/json"),  # no id
        ('{"status": "success"}', "application/json"),
        ('{"message_id": "m-1"}', "application/json"),  # no status word
        ("<html><body>maintenance</body></html>", "text/html"),
        ("", "application/json"),
    ],
)
def test_given_a_2xx_send_answer_without_a_verdict_then_ambiguous(
    canned_server: CannedServer, body: str, content_type: str
):
    canned_server.answer(200, body, content_type)
    with pytest.raises(AmbiguousError):
        canned_client(canned_server).send(message())


@pytest.mark.parametrize("body", ['{"status": "success", "message": "m-42"}',
                                  '{"status": "Success", "message_id": 42}'])
def test_given_a_success_word_and_an_id_then_the_send_succeeds(canned_server: CannedServer, body: str):
    canned_server.answer(200, body)
    result = canned_client(canned_server).send(message())
    assert result.provider_message_id in ("m-42", "42")


def test_given_a_balance_query_refused_with_http_200_then_the_credentials_check_fails(canned_server: CannedServer):
    canned_server.answer(200, '{"status": "failure", "message": "Invalid API key"}')
    with pytest.raises(AuthError):
        canned_client(canned_server).check_credentials()


def test_given_a_status_query_refused_with_http_200_then_an_error_not_a_pending_message(canned_server: CannedServer):
    canned_server.answer(200, '{"status": "failure", "message": "Message not found"}')
    with pytest.raises(PermanentError):
        canned_client(canned_server).status("m-1")


def test_given_defaults_when_renewing_then_get_v1_user_renew_api_key_with_no_body(canned_server: CannedServer):
    canned_server.answer(200, '{"new_api_key": "pk_new"}')
    assert canned_client(canned_server).renew_api_key() == "pk_new"
    [(method, path, headers, body)] = canned_server.requests
    assert (method, path, body) == ("GET", "/v1/user/renew_api_key", b"")
    assert (headers["api-key"], headers["client-id"]) == ("k", "c")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, '{"status": "failure", "message": "Invalid API key"}', AuthError),
        (200, "pk_plain_text_key", AmbiguousError),  # the key may have changed: never retried blindly
    ],
)
def test_given_a_renewal_answer_without_a_key_then_an_error_that_never_repeats_the_body(
    canned_server: CannedServer, status: int, body: str, kind: type[Exception]
):
    canned_server.answer(status, body, "text/plain" if kind is AmbiguousError else "application/json")
    with pytest.raises(kind) as raised:
        canned_client(canned_server).renew_api_key()
    assert "pk_plain_text_key" not in f"{raised.value} {raised.value.raw_text}"


@pytest.mark.parametrize("error_body", ["status", "success_false"])
def test_given_a_sandbox_answering_every_error_with_200_then_the_client_still_sees_each_error(
    sandbox: SandboxServer, control, error_body: str
):
    control.configure("passeinfo", error_http_status=200, error_body=error_body, balance=0)
    with pytest.raises(PermanentError) as raised:
        make_client(sandbox.url).send(message())
    assert (raised.value.reason, raised.value.raw_status) == (Reason.INSUFFICIENT_CREDIT, "200")
    with pytest.raises(AuthError) as refused:
        make_client(sandbox.url, api_key="wrong-key").check_credentials()
    assert refused.value.raw_status == "200"
    assert control.outbox() == []


def test_given_the_sandbox_error_shapes_then_they_are_the_documented_ones(sandbox: SandboxServer, control):
    headers = {"Api-Key": "sandbox-api-key", "Client-Id": "sandbox-client"}
    unknown = requests.get(f"{sandbox.url}/passeinfo/v1/message/get_single_status/nope", headers=headers, timeout=5)
    refused = requests.get(f"{sandbox.url}/passeinfo/v1/user/get_solde", headers={**headers, "Api-Key": "x"}, timeout=5)
    assert (unknown.status_code, unknown.json()) == (404, {"status": "error", "message": "Message not found"})
    assert (refused.status_code, refused.json()) == (401, {"status": "error", "message": "Invalid API key"})
    control.configure("passeinfo", error_body="success_false", error_word="failed")
    assert requests.get(f"{sandbox.url}/passeinfo/v1/user/get_solde", headers={**headers, "Api-Key": "x"},
                        timeout=5).json() == {"success": False, "message": "Invalid API key"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_given_the_default_sandbox_then_renewal_is_served_on_get_only(sandbox: SandboxServer, control, method: str):
    headers = {"Api-Key": "sandbox-api-key", "Client-Id": "sandbox-client"}
    refused = requests.request(method, f"{sandbox.url}/passeinfo/v1/user/renew_api_key", headers=headers, json={},
                               timeout=5)
    assert refused.status_code == 404
    assert control.state("passeinfo")["renewals"] == 0
    control.configure("passeinfo", unrouted="html")
    page = requests.request(method, f"{sandbox.url}/passeinfo/v1/user/renew_api_key", headers=headers, timeout=5)
    assert (page.status_code, f"Cannot {method} /v1/user/renew_api_key" in page.text) == (404, True)
    assert requests.get(f"{sandbox.url}/passeinfo/v1/user/renew_api_key", headers=headers, timeout=5).status_code == 200
