"""`POST /_sandbox/<provider>/inbound`: the simulators deliver a received message through each
provider's real webhook shape (SMSGate: signed `sms:received` JSON from the device, retried;
Message Pro: Zender's form with the webhook's secret, once); the others have none."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from local.sandbox.server import start_sandbox

SMSGATE_AUTH = ("sandbox", "sandbox-password")


class Receiver:
    """A loopback endpoint that records each POST (headers, body) and answers `status`."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def wait(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.calls


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join()


@pytest.fixture
def sb() -> Iterator[Any]:
    server = start_sandbox(providers=["smsgate", "messagepro", "passeinfo"])
    try:
        yield server
    finally:
        server.stop()


def inbound(sb: Any, provider: str, **body: Any) -> requests.Response:
    return requests.post(f"{sb.url}/_sandbox/{provider}/inbound", json=body, timeout=10)


def test_given_an_sms_received_webhook_then_smsgate_posts_the_signed_event_and_retries_until_2xx(sb, receiver):
    requests.post(f"{sb.url}/smsgate/3rdparty/v1/webhooks", auth=SMSGATE_AUTH, timeout=10,
                  json={"id": "rx", "url": receiver.url, "event": "sms:received"}).raise_for_status()
    receiver.status = 500  # the first attempt fails: the device tries again with the same body

    answer = inbound(sb, "smsgate", **{"from": "+224622000001", "text": "STOP"})
    assert answer.status_code == 202
    receiver.wait(1)
    receiver.status = 200
    calls = receiver.wait(2)

    assert len(calls) == 2 and calls[0][1] == calls[1][1]
    headers, body = calls[1]
    expected = hmac.new(b"sandbox-signing-key", body + headers["x-timestamp"].encode(), hashlib.sha256).hexdigest()
    assert headers["x-signature"] == expected
    envelope = json.loads(body)
    assert (envelope["event"], envelope["webhookId"]) == ("sms:received", "rx")
    payload = envelope["payload"]
    assert (payload["message"], payload["sender"], payload["phoneNumber"]) == ("STOP", "+224622000001", "+224622000001")
    assert payload["messageId"] and payload["receivedAt"][-6] in "+-"  # local time with an offset


def test_given_no_sms_received_webhook_then_409(sb):
    answer = inbound(sb, "smsgate", **{"from": "+224622000001", "text": "STOP"})
    assert answer.status_code == 409


def test_given_a_messagepro_webhook_then_zender_posts_its_form_with_the_secret_once(sb, receiver):
    requests.put(f"{sb.url}/_sandbox/config/messagepro", timeout=10, json={
        "webhooks": [{"url": receiver.url, "secret": "hook-secret", "types": ["sms", "whatsapp"]}]}).raise_for_status()
    receiver.status = 500  # Zender does not retry

    answer = inbound(sb, "messagepro", **{"from": "+224622000001", "text": "Arrêt"})
    chat = inbound(sb, "messagepro", **{"from": "+224622000002", "text": "Merci", "channel": "whatsapp"})

    assert answer.status_code == 200 and answer.json()["webhooks"][0]["status"] == 500
    assert chat.status_code == 200
    (sms_headers, sms_body), (_, chat_body) = receiver.wait(2)
    assert len(receiver.calls) == 2
    assert sms_headers["content-type"] == "application/x-www-form-urlencoded"
    sms = {k: v[-1] for k, v in parse_qs(sms_body.decode()).items()}
    assert {k: sms[k] for k in ("secret", "type", "data[phone]", "data[message]", "data[device]")} == {
        "secret": "hook-secret", "type": "sms", "data[phone]": "+224622000001", "data[message]": "Arrêt",
        "data[device]": "sandbox-device"}
    assert set(sms) == {"secret", "type", "data[id]", "data[rid]", "data[sim]", "data[device]", "data[phone]",
                        "data[message]", "data[timestamp]"}
    wa = {k: v[-1] for k, v in parse_qs(chat_body.decode()).items()}
    assert (wa["type"], wa["data[wid]"], wa["data[attachment]"]) == ("whatsapp", "+224620000900", "0")


def test_given_a_messagepro_webhook_of_another_type_then_409(sb, receiver):
    requests.put(f"{sb.url}/_sandbox/config/messagepro", timeout=10,
                 json={"webhooks": [{"url": receiver.url, "secret": "s", "types": ["whatsapp"]}]}).raise_for_status()
    assert inbound(sb, "messagepro", **{"from": "+224622000001", "text": "hi"}).status_code == 409
    assert receiver.calls == []


def test_given_a_provider_without_inbound_webhooks_then_400(sb):
    answer = inbound(sb, "passeinfo", **{"from": "+224622000001", "text": "STOP"})
    assert (answer.status_code, answer.json()) == (400, {"message": "this provider has no inbound webhook"})


@pytest.mark.parametrize("body", [{}, {"from": "+224622000001"}, {"from": 1, "text": "x"},
                                  {"from": "+224622000001", "text": "x", "channel": "mms"}])
def test_given_a_bad_inbound_request_then_400(sb, body):
    assert requests.post(f"{sb.url}/_sandbox/smsgate/inbound", json=body, timeout=10).status_code == 400
