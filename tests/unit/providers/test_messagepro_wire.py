"""Message Pro (Zender) answers as Zender's `api.php` gives them, parsed by the client: status
words, send envelopes (canned on a fake transport, no network). The same behaviour against the
simulator over HTTP is in tests/integration/providers/test_messagepro.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from tamtam.providers import messagepro as mp
from tamtam.providers.base import AmbiguousError, OutboundMessage, PermanentError, Reason, TransientError

GUINEA = "+224622000001"


class CannedAdapter(BaseAdapter):
    """Answers every request with one body (HTTP 200, as Zender always does); keeps the URLs."""

    def __init__(self, body: Any):
        super().__init__()
        self.body, self.urls = body, []

    def send(self, request, **kwargs):
        self.urls.append(request.url)
        response = requests.Response()
        response.status_code, response.url, response.request = 200, request.url, request
        response._content = (self.body if isinstance(self.body, str) else json.dumps(self.body)).encode()
        response.headers["Content-Type"] = "text/html; charset=UTF-8"
        return response

    def close(self) -> None:
        pass


def client_answering(body: Any) -> tuple[mp.MessageProClient, CannedAdapter]:
    adapter, session = CannedAdapter(body), requests.Session()
    session.mount("https://", adapter)
    secret = mp.MessageProSecret(secret="s", device="d", whatsapp_account="wa")
    return mp.MessageProClient(secret, mp.MessageProSettings(), session=session), adapter


def message(channel: str = "sms") -> OutboundMessage:
    return OutboundMessage(message_id="m1", to=GUINEA, text="hi", channel=channel)


@pytest.mark.parametrize(
    ("item", "status", "raw_status"),
    [
        ({"status": "queued", "status_code": False}, "sending", "queued"),
        ({"status": "pending", "status_code": ""}, "sending", "pending"),
        ({"status": "sent", "status_code": "SMS_SENT"}, "sent", "SMS_SENT"),
        ({"status": "sent", "status_code": "DELIVERY_PENDING"}, "sent", "DELIVERY_PENDING"),
        ({"status": "sent", "status_code": False}, "sent", "sent"),  # also the old `< 4 ? "sent"` answer
        ({"status": "sent", "status_code": "0"}, "sent", "sent"),  # a stored `false` read back
        ({"status": "sent", "status_code": "SMS_DELIVERED"}, "delivered", "SMS_DELIVERED"),
        ({"status": "sent", "status_code": "DELIVERY_FAILED"}, "failed", "DELIVERY_FAILED"),
        ({"status": "failed", "status_code": "DELIVERY_FAILED"}, "failed", "DELIVERY_FAILED"),
        ({"status": "failed", "status_code": False}, "failed", "failed"),
        ({"status": "scheduled", "status_code": False}, "sending", "scheduled"),  # not Zender's: still held
        ({"status_code": False}, "sending", "no status"),
    ],
)
def test_given_zenders_sms_status_word_when_mapping_then_the_gateway_lifecycle(item, status, raw_status):
    report = mp.delivery_report(item)

    assert (report.status, report.raw_status) == (status, raw_status)
    assert (report.reason is Reason.REJECTED) == (status == "failed")


@pytest.mark.parametrize(
    ("word", "status"),
    [("pending", "sending"), ("queued", "sending"), ("sent", "sent"), ("failed", "failed"), ("unknown", "sending")],
)
def test_given_zenders_whatsapp_status_word_when_mapping_then_sent_is_the_furthest_state(word, status):
    report = mp.whatsapp_report({"id": 1, "account": "+224620000900", "status": word, "attachment": False})

    assert (report.status, report.raw_status) == (status, word)


@pytest.mark.parametrize("status", [403, 500])  # send/sms answers 403, send/sms.bulk 500
def test_given_credits_mode_through_our_own_device_then_device_offline_not_insufficient_credit(status):
    error = mp.envelope_error(status, "You cannot send messages with credits using your own devices!")

    assert (type(error), error.reason) == (PermanentError, Reason.DEVICE_OFFLINE)


@pytest.mark.parametrize(
    ("body", "provider_message_id"),
    [
        ({"status": 200, "message": "Message has been queued for sending!", "data": {"messageId": "12"}}, "12"),
        ({"status": 200, "message": "Message has been sent!", "data": {"messageId": 12}}, "12"),
        ({"status": 200, "message": "Message has been queued for sending!", "data": False}, None),  # old Zender
        ({"status": "200", "message": "Message has been queued for sending!", "data": {"messageId": "3"}}, "3"),
    ],
)
def test_given_a_send_answer_that_zender_gives_then_it_is_taken(body, provider_message_id):
    client, _ = client_answering(body)

    assert client.send(message()).provider_message_id == provider_message_id


def test_given_queued_with_message_id_false_then_nothing_was_stored_and_it_may_be_retried():
    client, _ = client_answering({"status": 200, "message": "Message has been queued for sending!",
                                  "data": {"messageId": False}})

    with pytest.raises(TransientError) as failed:
        client.send(message())

    assert failed.value.raw_text == "Message has been queued for sending! (messageId false)"


@pytest.mark.parametrize(("data", "stored"), [({"messageId": "9"}, " (messageId 9)"), (False, "")])
def test_given_the_gateway_refused_then_a_provider_side_refusal_never_a_retry(data, stored):
    client, _ = client_answering({"status": 500, "message": "Gateway was unable to send your message!", "data": data})

    with pytest.raises(PermanentError) as refused:
        client.send(message())

    assert refused.value.reason is Reason.PROVIDER_UNAVAILABLE
    assert refused.value.raw_text == f"Gateway was unable to send your message!{stored}"


@pytest.mark.parametrize(
    "text",
    [
        "Unable to connect to WhatsApp servers!",
        "Failed adding chat to WhatsApp queue!",
        "Failed sending WhatsApp chat!",
        "Failed sending priority WhatsApp chat!",
    ],
)
def test_given_a_whatsapp_error_after_the_chat_may_be_stored_then_ambiguous(text):
    client, _ = client_answering({"status": 500, "message": text, "data": False})

    with pytest.raises(AmbiguousError):
        client.send(message("whatsapp"))


def test_given_an_sms_gateway_error_before_anything_is_stored_then_transient():
    client, _ = client_answering({"status": 500, "message": "We encountered a gateway error!", "data": False})

    with pytest.raises(TransientError):
        client.send(message())


@pytest.mark.parametrize(("channel", "path"), [("sms", "/get/sms.message"), ("whatsapp", "/get/wa.message")])
def test_given_a_channel_when_asking_the_status_then_its_own_endpoint(channel, path):
    client, adapter = client_answering({"status": 200, "message": "Message was found!",
                                        "data": {"id": 5, "status": "sent", "status_code": False}})

    assert client.status("5", channel=channel).status == "sent"
    assert path + "?" in adapter.urls[0] and "id=5" in adapter.urls[0] and "type=sent" in adapter.urls[0]
