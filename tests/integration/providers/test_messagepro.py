"""MessageProClient against the Message Pro (Zender) simulator over real HTTP on loopback."""

from __future__ import annotations

import traceback

import pytest
import requests

from local.sandbox.core import Fault
from local.sandbox.server import SandboxServer
from tamtam.providers.base import AmbiguousError, AuthError, PermanentError, Reason, TransientError
from tamtam.providers.messagepro import MessageProClient, MessageProSecret, MessageProSettings
from tests.integration.providers.fixtures_three import *  # noqa: F403

FAST = MessageProSettings(connect_timeout=1.0, read_timeout=0.5)
SECRET = "sandbox-secret"
GUINEA = "+224622000001"


def make_client(url: str, session: requests.Session, settings: MessageProSettings = FAST, **secret: str | None):
    values = {"base_url": f"{url}/messagepro/api", "secret": SECRET, "device": "sandbox-device",
              "whatsapp_account": "sandbox-wa-account", **secret}
    return MessageProClient(MessageProSecret.model_validate(values), settings, session=session)


def sim(server: SandboxServer):
    return server.sandbox.sims["messagepro"]


def test_given_a_device_when_sending_an_sms_then_it_is_queued_with_an_id_and_costs_credits(
    messagepro_sandbox, http_session
):
    client = make_client(messagepro_sandbox.url, http_session)

    result = client.send(outbound(GUINEA))

    assert result.provider_message_id == "1"
    assert result.raw_status == "Message has been queued for sending!"
    [entry] = messagepro_sandbox.sandbox.outbox_items("messagepro")
    assert (entry["to"], entry["channel"], entry["sender"]) == (GUINEA, "sms", "sandbox-device")
    assert entry["extra"]["mode"] == "devices"
    assert sim(messagepro_sandbox).settings["credits"] == 99.0


def test_given_a_json_body_when_posting_then_zender_does_not_read_it(messagepro_sandbox, http_session):
    body = {"secret": SECRET, "mode": "devices", "device": "sandbox-device", "phone": GUINEA, "message": "hi"}

    answer = http_session.post(f"{messagepro_sandbox.url}/messagepro/api/send/sms", json=body, timeout=5)

    assert answer.status_code == 200
    assert answer.json() == {"status": 400, "message": "Invalid Parameters!", "data": False}
    assert messagepro_sandbox.sandbox.outbox_items() == []


def test_given_credits_mode_when_credits_run_out_then_insufficient_credit(messagepro_sandbox, http_session):
    client = make_client(messagepro_sandbox.url, http_session, MessageProSettings(mode="credits"), gateway="1")
    sim(messagepro_sandbox).configure({"credits": 1.0})

    assert client.send(outbound(GUINEA)).provider_message_id == "1"
    with pytest.raises(PermanentError) as refused:
        client.send(outbound(GUINEA))

    assert refused.value.reason is Reason.INSUFFICIENT_CREDIT
    assert refused.value.raw_text == "Not enough credits to send this message!"
    assert messagepro_sandbox.sandbox.outbox_items()[0]["extra"]["mode"] == "credits"


def test_given_a_wrong_secret_when_sending_then_auth_error(messagepro_sandbox, http_session):
    client = make_client(messagepro_sandbox.url, http_session, secret="not-the-secret")

    with pytest.raises(AuthError) as refused:
        client.send(outbound(GUINEA))

    assert refused.value.raw_text == "Invalid API secret supplied!"
    assert "not-the-secret" not in str(refused.value)


def test_given_a_key_without_send_permission_when_sending_then_auth_failed(messagepro_sandbox, http_session):
    sim(messagepro_sandbox).configure({"secrets": {SECRET: ["get_credits"]}})

    with pytest.raises(PermanentError) as refused:
        make_client(messagepro_sandbox.url, http_session).send(outbound(GUINEA))

    assert refused.value.reason is Reason.AUTH_FAILED
    assert not isinstance(refused.value, AuthError)  # the secret is fine; its permissions are not


@pytest.mark.parametrize(
    ("secret_fields", "to", "reason"),
    [
        ({}, "+22462200000", Reason.INVALID_NUMBER),  # one digit short: not a valid number
        ({"device": "unknown-device"}, GUINEA, Reason.DEVICE_OFFLINE),
    ],
)
def test_given_a_refusal_from_zender_when_sending_then_its_reason(
    messagepro_sandbox, http_session, secret_fields, to, reason
):
    with pytest.raises(PermanentError) as refused:
        make_client(messagepro_sandbox.url, http_session, **secret_fields).send(outbound(to))

    assert refused.value.reason is reason
    assert messagepro_sandbox.sandbox.outbox_items() == []


@pytest.mark.parametrize(
    ("fault_reason", "error_type", "reason"),
    [
        ("insufficient_credit", PermanentError, Reason.INSUFFICIENT_CREDIT),
        ("invalid_number", PermanentError, Reason.INVALID_NUMBER),
        ("auth_failed", AuthError, Reason.AUTH_FAILED),
        ("sender_not_approved", PermanentError, Reason.SENDER_NOT_APPROVED),
        ("device_offline", PermanentError, Reason.DEVICE_OFFLINE),
    ],
)
def test_given_an_injected_rejection_when_sending_then_the_reason_is_mapped(
    messagepro_sandbox, http_session, fault_reason, error_type, reason
):
    messagepro_sandbox.sandbox.set_fault("messagepro", Fault(mode="reject", reason=fault_reason))

    with pytest.raises(error_type) as refused:
        make_client(messagepro_sandbox.url, http_session).send(outbound(GUINEA))

    assert refused.value.reason is reason


@pytest.mark.parametrize(("style", "status"), [("http", 503), ("http", 429), ("envelope", 500)])
def test_given_a_server_error_when_sending_then_transient(messagepro_sandbox, http_session, style, status):
    sim(messagepro_sandbox).configure({"error_style": style})
    messagepro_sandbox.sandbox.set_fault("messagepro", Fault(mode="error", status=status, times=1))
    client = make_client(messagepro_sandbox.url, http_session)

    with pytest.raises(TransientError) as failed:
        client.send(outbound(GUINEA))

    assert failed.value.reason is Reason.PROVIDER_UNAVAILABLE
    assert failed.value.raw_status == str(status)
    assert client.send(outbound(GUINEA)).provider_message_id == "1"  # the fault was used up


def test_given_no_answer_within_the_read_timeout_when_sending_then_ambiguous(messagepro_sandbox, http_session):
    messagepro_sandbox.sandbox.set_fault("messagepro", Fault(mode="timeout", delay=1.5))

    with pytest.raises(AmbiguousError) as failed:
        make_client(messagepro_sandbox.url, http_session).send(outbound(GUINEA))

    assert failed.value.reason is Reason.TIMEOUT


def test_given_a_whatsapp_message_when_sending_then_it_goes_through_the_account(messagepro_sandbox, http_session):
    result = make_client(messagepro_sandbox.url, http_session).send(outbound(GUINEA, channel="whatsapp"))

    assert result.raw_status == "WhatsApp chat has been queued for sending!"
    [entry] = messagepro_sandbox.sandbox.outbox_items("messagepro")
    assert (entry["to"], entry["channel"], entry["sender"]) == (GUINEA, "whatsapp", "sandbox-wa-account")
    assert entry["provider_message_id"] == result.provider_message_id


@pytest.mark.parametrize("account", [None, "unknown-account"])
def test_given_no_usable_whatsapp_account_when_sending_whatsapp_then_device_offline(
    messagepro_sandbox, http_session, account
):
    client = make_client(messagepro_sandbox.url, http_session, whatsapp_account=account)

    with pytest.raises(PermanentError) as refused:
        client.send(outbound(GUINEA, channel="whatsapp"))

    assert refused.value.reason is Reason.DEVICE_OFFLINE


def test_given_an_old_zender_without_ids_when_sending_then_the_result_has_no_id(messagepro_sandbox, http_session):
    sim(messagepro_sandbox).configure({"return_message_id": False})

    result = make_client(messagepro_sandbox.url, http_session).send(outbound(GUINEA))

    assert result.provider_message_id is None


def test_given_a_sent_message_when_time_passes_then_status_goes_sending_sent_delivered(
    messagepro_sandbox, http_session, manual_clock
):
    client = make_client(messagepro_sandbox.url, http_session)
    message_id = client.send(outbound(GUINEA)).provider_message_id

    first = client.status(message_id)
    manual_clock.advance(1.0)
    second = client.status(message_id)
    manual_clock.advance(1.0)
    third = client.status(message_id)

    assert (first.status, first.raw_status) == ("sending", "queued")
    assert (second.status, second.raw_status) == ("sent", "SMS_SENT")
    assert (third.status, third.raw_status) == ("delivered", "SMS_DELIVERED")


def test_given_a_failed_delivery_when_polling_then_failed(messagepro_sandbox, http_session, manual_clock):
    sim(messagepro_sandbox).configure({"final_status_code": "DELIVERY_FAILED"})
    client = make_client(messagepro_sandbox.url, http_session)
    message_id = client.send(outbound(GUINEA)).provider_message_id
    manual_clock.advance(5.0)

    report = client.status(message_id)

    assert (report.status, report.raw_status) == ("failed", "DELIVERY_FAILED")


def test_given_an_unknown_message_id_when_polling_then_permanent(messagepro_sandbox, http_session):
    with pytest.raises(PermanentError) as refused:
        make_client(messagepro_sandbox.url, http_session).status("999")

    assert refused.value.reason is Reason.REJECTED


def test_given_credits_when_asking_the_balance_then_a_float(messagepro_sandbox, http_session):
    client = make_client(messagepro_sandbox.url, http_session)
    sim(messagepro_sandbox).configure({"credits": 798.634})

    assert client.balance() == pytest.approx(798.634)
    client.send(outbound(GUINEA))
    assert client.balance() == pytest.approx(797.634)


def test_given_a_refused_connection_when_querying_then_transient_without_the_secret_anywhere(
    refused_url, http_session
):
    client = make_client(refused_url, http_session)

    with pytest.raises(TransientError) as failed:
        client.balance()

    text = "".join(traceback.format_exception(failed.value))
    assert SECRET not in text and SECRET not in repr(failed.value)
    assert failed.value.__cause__ is None


def test_given_devices_mode_without_a_device_when_building_then_refused():
    with pytest.raises(ValueError, match="needs 'device'"):
        MessageProClient.from_secret({"secret": SECRET, "gateway": "1"}, settings=MessageProSettings(mode="devices"))


def test_given_the_zender_routes_when_used_directly_then_otp_bulk_and_history_behave(messagepro_sandbox, http_session):
    api = f"{messagepro_sandbox.url}/messagepro/api"
    device = {"secret": SECRET, "mode": "devices", "device": "sandbox-device"}

    otp = http_session.post(f"{api}/send/otp", data={**device, "type": "sms", "phone": GUINEA,
                                                     "message": "Code {{otp}}"}, timeout=5).json()
    code = otp["data"]["otp"]
    verified = http_session.get(f"{api}/get/otp", params={"secret": SECRET, "otp": code}, timeout=5).json()
    replayed = http_session.get(f"{api}/get/otp", params={"secret": SECRET, "otp": code}, timeout=5).json()
    bulk = http_session.post(f"{api}/send/sms.bulk", data={**device, "campaign": "c1", "message": "hello",
                                                           "numbers": f"{GUINEA},+224622000002,bad"}, timeout=5).json()
    sent = http_session.get(f"{api}/get/sms.sent", params={"secret": SECRET, "limit": 2}, timeout=5).json()

    assert (otp["status"], otp["data"]["message"]) == (200, f"Code {code}")
    assert verified == {"status": 200, "message": "OTP has been verified!", "data": False}
    assert replayed["status"] == 403 and replayed["message"] == "OTP is invalid or expired!"
    assert (bulk["status"], bulk["message"]) == (200, "Bulk messages has been queued for sending!")
    assert [item["recipient"] for item in sent["data"]] == ["+224622000002", GUINEA]
    assert len(messagepro_sandbox.sandbox.outbox_items("messagepro")) == 3
