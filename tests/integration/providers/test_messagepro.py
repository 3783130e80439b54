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


def get(server: SandboxServer, session: requests.Session, service: str, secret: str = SECRET, **params: str) -> dict:
    """A raw `get/<service>` answer (Zender's envelope)."""
    answer = session.get(f"{server.url}/messagepro/api/get/{service}", params={"secret": secret, **params}, timeout=5)
    assert answer.status_code == 200
    return answer.json()


SMS = {"mode": "devices", "device": "sandbox-device", "phone": GUINEA, "message": "hi"}
CHAT = {"account": "sandbox-wa-account", "recipient": GUINEA, "message": "hi"}


def post(server: SandboxServer, session: requests.Session, service: str, **fields: str) -> dict:
    """A raw `send/<service>` answer (Zender's envelope)."""
    answer = session.post(f"{server.url}/messagepro/api/send/{service}", data={"secret": SECRET, **fields}, timeout=5)
    assert answer.status_code == 200
    return answer.json()


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

    reports, answers = [], []
    for step in (0.0, 0.5, 0.5, 1.0):  # queued, pending (the phone took it), SMS_SENT, SMS_DELIVERED
        manual_clock.advance(step)
        reports.append(client.status(message_id))
        answers.append(get(messagepro_sandbox, http_session, "sms.message", id=message_id, type="sent")["data"])

    assert [(r.status, r.raw_status) for r in reports] == [
        ("sending", "queued"), ("sending", "pending"), ("sent", "SMS_SENT"), ("delivered", "SMS_DELIVERED")
    ]
    # Zender answers smsStatusParser's word, never the stored integer
    assert [(a["status"], a["status_code"]) for a in answers] == [
        ("queued", False), ("pending", False), ("sent", "SMS_SENT"), ("sent", "SMS_DELIVERED")
    ]


def test_given_a_failed_delivery_when_polling_then_failed(messagepro_sandbox, http_session, manual_clock):
    sim(messagepro_sandbox).configure({"final_status_code": "DELIVERY_FAILED"})
    client = make_client(messagepro_sandbox.url, http_session)
    message_id = client.send(outbound(GUINEA)).provider_message_id
    manual_clock.advance(5.0)

    report = client.status(message_id)
    answer = get(messagepro_sandbox, http_session, "sms.message", id=message_id, type="sent")["data"]

    assert (report.status, report.raw_status, report.reason) == ("failed", "DELIVERY_FAILED", Reason.REJECTED)
    assert (answer["status"], answer["status_code"]) == ("failed", "DELIVERY_FAILED")


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


# --- issue 12: what Zender's api.php really answers ----------------------------------------


def test_given_a_send_when_answered_then_the_message_id_is_a_string_as_pdo_returns_it(
    messagepro_sandbox, http_session
):
    sms = post(messagepro_sandbox, http_session, "sms", **SMS)
    chat = post(messagepro_sandbox, http_session, "whatsapp", **CHAT)

    assert sms == {"status": 200, "message": "Message has been queued for sending!", "data": {"messageId": "1"}}
    assert chat == {"status": 200, "message": "WhatsApp chat has been queued for sending!", "data": {"messageId": "1"}}


def test_given_a_whatsapp_message_when_polled_then_it_reads_get_wa_message_up_to_sent_never_delivered(
    messagepro_sandbox, http_session, manual_clock
):
    client = make_client(messagepro_sandbox.url, http_session)
    chat_id = client.send(outbound(GUINEA, channel="whatsapp")).provider_message_id

    reports, answers = [], []
    for step in (0.0, 0.5, 0.5, 3600.0):  # pending, queued (the WhatsApp server took it), sent, an hour later
        manual_clock.advance(step)
        reports.append(client.status(chat_id, channel="whatsapp"))
        answers.append(get(messagepro_sandbox, http_session, "wa.message", id=chat_id, type="sent"))

    assert [(r.status, r.raw_status) for r in reports] == [
        ("sending", "pending"), ("sending", "queued"), ("sent", "sent"), ("sent", "sent")
    ]
    assert [a["data"]["status"] for a in answers] == ["pending", "queued", "sent", "sent"]
    assert answers[-1]["message"] == "Message was found!"
    assert set(answers[-1]["data"]) == {"id", "account", "status", "api", "recipient", "message", "attachment",
                                        "created"}


def test_given_an_sms_and_a_chat_with_the_same_id_when_polled_then_each_channel_reads_its_own_table(
    messagepro_sandbox, http_session, manual_clock
):
    sim(messagepro_sandbox).configure({"final_status_code": "DELIVERY_FAILED"})
    client = make_client(messagepro_sandbox.url, http_session)
    sms_id = client.send(outbound(GUINEA)).provider_message_id
    chat_id = client.send(outbound(GUINEA, channel="whatsapp")).provider_message_id
    manual_clock.advance(5.0)

    assert sms_id == chat_id == "1"  # separate Zender tables (`sent`, `wa_sent`), separate ids
    assert client.status(sms_id).status == "failed"
    assert client.status(chat_id, channel="whatsapp").status == "sent"


def test_given_a_failed_chat_when_polled_then_failed(messagepro_sandbox, http_session, manual_clock):
    sim(messagepro_sandbox).configure({"whatsapp_final_status": "failed"})
    client = make_client(messagepro_sandbox.url, http_session)
    chat_id = client.send(outbound(GUINEA, channel="whatsapp")).provider_message_id
    manual_clock.advance(5.0)

    report = client.status(chat_id, channel="whatsapp")

    assert (report.status, report.raw_status, report.reason) == ("failed", "failed", Reason.REJECTED)


def test_given_an_unknown_chat_id_when_polled_then_permanent(messagepro_sandbox, http_session):
    with pytest.raises(PermanentError) as refused:
        make_client(messagepro_sandbox.url, http_session).status("999", channel="whatsapp")

    assert (refused.value.reason, refused.value.raw_text) == (Reason.REJECTED, "Message doesn't exist!")


def test_given_a_numeric_gateway_when_polled_then_pending_then_sent_and_never_delivered(
    messagepro_sandbox, http_session, manual_clock
):
    client = make_client(messagepro_sandbox.url, http_session, MessageProSettings(mode="credits"), gateway="1")
    message_id = client.send(outbound(GUINEA)).provider_message_id

    first = client.status(message_id)
    manual_clock.advance(3600.0)
    later = client.status(message_id)
    answer = get(messagepro_sandbox, http_session, "sms.message", id=message_id, type="sent")["data"]

    assert (first.status, first.raw_status) == ("sending", "pending")  # waiting for the gateway's callback
    assert (later.status, later.raw_status) == ("sent", "sent")  # the callback sets status 3, no status_code
    assert (answer["sender"], answer["sender_type"], answer["sim"]) == ("Sandbox Gateway", "gateway", 0)


def test_given_a_gateway_that_refuses_when_sending_then_a_refusal_that_keeps_the_failed_record_id(
    messagepro_sandbox, http_session
):
    sim(messagepro_sandbox).configure({"gateway_refuses": True})
    client = make_client(messagepro_sandbox.url, http_session, MessageProSettings(mode="credits"), gateway="1")

    with pytest.raises(PermanentError) as refused:
        client.send(outbound(GUINEA))

    assert not isinstance(refused.value, (TransientError, AmbiguousError))  # never sent twice
    assert refused.value.reason is Reason.PROVIDER_UNAVAILABLE  # provider-side: may fail over
    assert refused.value.raw_text == "Gateway was unable to send your message! (messageId 1)"
    assert messagepro_sandbox.sandbox.outbox_items() == []
    assert sim(messagepro_sandbox).settings["credits"] == 100.0
    stored = get(messagepro_sandbox, http_session, "sms.message", id="1", type="sent")["data"]
    assert (stored["status"], stored["status_code"]) == ("failed", False)
    assert client.status("1").status == "failed"


def test_given_the_whatsapp_server_unreachable_after_storing_the_chat_then_its_id_is_kept_and_it_still_goes_out(
    messagepro_sandbox, http_session, manual_clock
):
    sim(messagepro_sandbox).configure({"whatsapp_queue_unreachable": True})
    client = make_client(messagepro_sandbox.url, http_session)

    result = client.send(outbound(GUINEA, channel="whatsapp"))
    manual_clock.advance(5.0)

    assert (result.provider_message_id, result.raw_status) == ("1", "Unable to connect to WhatsApp servers!")
    assert client.status("1", channel="whatsapp").status == "sent"
    assert len(messagepro_sandbox.sandbox.outbox_items("messagepro")) == 1


def test_given_an_old_zender_unreachable_after_storing_the_chat_then_ambiguous_not_retried(
    messagepro_sandbox, http_session
):
    sim(messagepro_sandbox).configure({"whatsapp_queue_unreachable": True, "return_message_id": False})

    with pytest.raises(AmbiguousError) as failed:
        make_client(messagepro_sandbox.url, http_session).send(outbound(GUINEA, channel="whatsapp"))

    assert (failed.value.raw_status, failed.value.raw_text) == ("500", "Unable to connect to WhatsApp servers!")


@pytest.mark.parametrize(
    ("permissions", "service", "status"),
    [
        (["get_sms_sent"], "sms.message", 403),  # needs get_message as well
        (["get_message"], "sms.message", 403),  # and get_sms_sent for type=sent
        (["get_message", "get_sms_sent"], "sms.message", 200),
        (["get_message", "get_sms_sent"], "wa.message", 403),  # needs get_wa_sent only
        (["get_wa_sent"], "wa.message", 200),
    ],
)
def test_given_a_key_when_reading_one_message_then_zender_checks_these_permissions(
    messagepro_sandbox, http_session, permissions, service, status
):
    post(messagepro_sandbox, http_session, "sms", **SMS)
    post(messagepro_sandbox, http_session, "whatsapp", **CHAT)
    sim(messagepro_sandbox).configure({"secrets": {SECRET: permissions}})

    answer = get(messagepro_sandbox, http_session, service, id="1", type="sent")

    assert answer["status"] == status
    if status == 403:
        assert answer["message"] == "This API key doesn't have permission to use this endpoint!"


@pytest.mark.parametrize(
    ("verb", "status"), [("get", 400), ("send", 500)],  # the default of each verb's switch in api.php
)
def test_given_an_unknown_endpoint_then_invalid_api_endpoint_with_the_verbs_status(
    messagepro_sandbox, http_session, verb, status
):
    answer = http_session.post(f"{messagepro_sandbox.url}/messagepro/api/{verb}/nothing", data={"secret": SECRET},
                               timeout=5).json()

    assert answer == {"status": status, "message": "Invalid API Endpoint!", "data": False}


def test_given_zender_routes_when_used_directly_then_bulk_whatsapp_and_lists_answer_as_api_php(
    messagepro_sandbox, http_session
):
    device = {"mode": "devices", "device": "sandbox-device"}

    no_one = post(messagepro_sandbox, http_session, "sms.bulk", **device, campaign="c", message="hi", groups="404")
    odd_type = post(messagepro_sandbox, http_session, "whatsapp", **CHAT, type="sticker")  # Zender falls back to text
    empty_chat = post(messagepro_sandbox, http_session, "whatsapp", **{**CHAT, "message": ""})
    priority = post(messagepro_sandbox, http_session, "whatsapp", **CHAT, priority="1")
    chats = get(messagepro_sandbox, http_session, "wa.sent")
    sms = post(messagepro_sandbox, http_session, "sms", **SMS, priority="2")
    sent = get(messagepro_sandbox, http_session, "sms.sent")

    assert no_one == {"status": 400, "message": "Invalid Parameters!", "data": False}
    assert (odd_type["status"], odd_type["data"]) == (200, {"messageId": "1"})
    assert (empty_chat["status"], empty_chat["message"]) == (400, "Chat message is too short!")
    assert (priority["status"], priority["message"]) == (200, "WhatsApp chat has been sent!")
    # get/wa.sent answers only "sent" (stored < 4) or "failed", even for a pending chat
    assert (chats["message"], [c["status"] for c in chats["data"]]) == ("Sent WhatsApp Chats", ["sent", "sent"])
    assert sms["status"] == 200
    assert sent["message"] == "Sent SMS Messages"
    assert (sent["data"][0]["status"], sent["data"][0]["priority"]) == ("queued", True)  # priority 2: stored 2
