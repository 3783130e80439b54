"""SMSGate delivery webhooks through the webhooks function against moto: the signature and
its time window, forward-only status moves, and the sandbox's device really POSTing its
signed events to a receiver that hands them to the function."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.register_webhook import EVENTS, register, webhook_id
from local.sandbox.secrets import local_secret
from tamtam import clock
from tamtam.providers.smsgate import SmsGateClient
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.lambdas import event, invoke, stream_paused

KEY = "sandbox-signing-key"
EVENT_TIME = 1795346400  # the X-Timestamp of events/webhooks/*.json


def at(monkeypatch: pytest.MonkeyPatch, moment: float) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


def sent(message_id: str = seed.EVENTS_MESSAGE, provider: str = "smsgate") -> None:
    seed.message(provider=provider, message_id=message_id)
    messages.transition(seed.table(), message_id, Status.SENDING, expect={Status.QUEUED})
    messages.transition(seed.table(), message_id, Status.SENT, expect={Status.SENDING}, provider=provider)


def call(ev: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = invoke("webhooks", ev)
    return answer["statusCode"], json.loads(answer["body"])


def signed(kind: str, payload: dict[str, Any], *, timestamp: int | None = None, key: str = KEY) -> dict[str, Any]:
    """A webhook call for `kind` signed the way the SMSGate app signs it."""
    body = json.dumps(
        {"id": "evt1", "webhookId": webhook_id(kind), "event": kind, "deviceId": "dev", "payload": payload}
    )
    stamp = str(int(clock.now()) if timestamp is None else timestamp)
    ev = event("webhooks/smsgate_delivered")
    ev["body"] = body
    ev["headers"]["X-Timestamp"] = stamp
    ev["headers"]["X-Signature"] = hmac.new(key.encode(), body.encode() + stamp.encode(), hashlib.sha256).hexdigest()
    return ev


def test_given_the_signed_delivered_event_when_the_message_is_sent_then_it_is_delivered(provisioned, monkeypatch):
    sent()
    at(monkeypatch, EVENT_TIME + 299)  # within the 5 minutes
    status, body = call(event("webhooks/smsgate_delivered"))
    assert (status, body) == (200, {"event": "sms:delivered", "message_id": seed.EVENTS_MESSAGE, "result": "delivered"})
    stored = messages.get(seed.table(), seed.EVENTS_MESSAGE)
    assert stored.status == Status.DELIVERED
    assert (stored.history[-1].status, stored.history[-1].provider) == ("delivered", "smsgate")
    report = stored.attempts[-1]
    assert (report.provider, report.outcome, report.raw_status) == ("smsgate", "report", "sms:delivered")


def test_given_a_forged_event_then_401_in_the_error_shape_and_nothing_changes(provisioned, monkeypatch):
    sent()
    before = messages.get(seed.table(), seed.EVENTS_MESSAGE)
    at(monkeypatch, EVENT_TIME + 10)
    status, body = call(event("webhooks/smsgate_forged"))
    assert status == 401
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == "invalid_signature"
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE) == before


@pytest.mark.parametrize("offset", [301, -301, 86400])
def test_given_a_stale_or_future_timestamp_then_401_and_nothing_changes(provisioned, monkeypatch, offset):
    sent()
    before = messages.get(seed.table(), seed.EVENTS_MESSAGE)
    at(monkeypatch, EVENT_TIME + offset)
    status, body = call(event("webhooks/smsgate_delivered"))
    assert (status, body["error"]["code"]) == (401, "invalid_signature")
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE) == before


def test_given_a_call_without_signature_headers_or_with_another_key_then_401(provisioned):
    sent()
    unsigned = signed("sms:delivered", {"messageId": seed.EVENTS_MESSAGE})
    del unsigned["headers"]["X-Signature"]
    other_key = signed("sms:delivered", {"messageId": seed.EVENTS_MESSAGE}, key="not-the-device-key")
    assert call(unsigned)[0] == 401
    assert call(other_key)[0] == 401
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE).status == Status.SENT


def test_given_the_same_event_twice_then_the_second_changes_nothing(provisioned, monkeypatch):
    sent()
    at(monkeypatch, EVENT_TIME + 1)
    assert call(event("webhooks/smsgate_delivered"))[1]["result"] == "delivered"
    first = messages.get(seed.table(), seed.EVENTS_MESSAGE)
    status, body = call(event("webhooks/smsgate_delivered"))
    assert (status, body["result"]) == (200, "unchanged")
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE) == first
    assert [h.status for h in first.history].count("delivered") == 1


def test_given_a_delivered_message_when_a_late_sent_arrives_then_it_stays_delivered(provisioned):
    sent()
    assert call(signed("sms:delivered", {"messageId": seed.EVENTS_MESSAGE}))[1]["result"] == "delivered"
    status, body = call(signed("sms:sent", {"messageId": seed.EVENTS_MESSAGE, "partsCount": 1}))
    assert (status, body["result"]) == (200, "unchanged")
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE).status == Status.DELIVERED


def test_given_a_failed_event_then_the_message_fails_with_the_reason_and_the_raw_text(provisioned):
    sent()
    payload = {"messageId": seed.EVENTS_MESSAGE, "failedAt": "x", "reason": "RESULT_ERROR_NO_SERVICE"}
    assert call(signed("sms:failed", payload)) == (
        200, {"event": "sms:failed", "message_id": seed.EVENTS_MESSAGE, "result": "failed"}
    )
    stored = messages.get(seed.table(), seed.EVENTS_MESSAGE)
    assert (stored.status, stored.reason) == ("failed", "rejected")
    assert (stored.attempts[-1].raw_status, stored.attempts[-1].raw_text) == ("sms:failed", "RESULT_ERROR_NO_SERVICE")


def test_given_a_failed_event_for_a_message_another_provider_now_holds_then_it_is_ignored(provisioned):
    seed.message(provider="messagepro", message_id=seed.EVENTS_MESSAGE)
    payload = {"messageId": seed.EVENTS_MESSAGE, "reason": "RESULT_ERROR_GENERIC_FAILURE"}
    assert call(signed("sms:failed", payload))[1]["result"] == "unchanged"
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE).status == Status.QUEUED


def test_given_a_sent_event_while_the_sender_holds_the_claim_then_the_message_is_sent(provisioned):
    seed.message(provider="smsgate", message_id=seed.EVENTS_MESSAGE)
    messages.transition(seed.table(), seed.EVENTS_MESSAGE, Status.SENDING, expect={Status.QUEUED})
    assert call(signed("sms:sent", {"messageId": seed.EVENTS_MESSAGE}))[1]["result"] == "sent"
    assert messages.get(seed.table(), seed.EVENTS_MESSAGE).status == Status.SENT


def test_given_other_events_or_unknown_messages_then_acknowledged_without_change(provisioned):
    assert call(signed("system:ping", {"health": {}})) == (200, {"event": "system:ping", "result": "ignored"})
    status, body = call(signed("sms:delivered", {"messageId": "msg_not_ours"}))
    assert (status, body["result"]) == (200, "unchanged")
    assert messages.get(seed.table(), "msg_not_ours") is None


def test_given_a_signed_body_that_is_not_an_event_then_400(provisioned):
    ev = signed("sms:delivered", {})
    stamp = ev["headers"]["X-Timestamp"]
    ev["body"] = "not json"
    ev["headers"]["X-Signature"] = hmac.new(KEY.encode(), b"not json" + stamp.encode(), hashlib.sha256).hexdigest()
    status, body = call(ev)
    assert (status, body["error"]["code"]) == (400, "invalid_json")
    status, body = call(signed("sms:delivered", {"to": "nobody"}))
    assert (status, body["error"]["field"]) == (422, "payload.messageId")


def test_given_another_route_or_method_then_404_in_the_error_shape(provisioned):
    for method, resource in (("GET", "/v1/webhooks/smsgate"), ("POST", "/v1/webhooks/other")):
        ev = signed("sms:delivered", {"messageId": seed.EVENTS_MESSAGE})
        ev.update(httpMethod=method, resource=resource, path=resource)
        status, body = call(ev)
        assert (status, body["error"]["code"]) == (404, "route_not_found")


def test_given_lower_case_signature_headers_then_they_are_read(provisioned):
    ev = signed("sms:delivered", {"messageId": "unknown-message"})
    ev["headers"] = {k.lower(): v for k, v in ev["headers"].items()}
    status, _ = call(ev)
    assert status == 200


def test_given_the_table_unreachable_then_500_in_the_error_shape_for_a_retry(provisioned, monkeypatch):
    from tamtam.settings import reset_settings

    sent()
    # the stream is pumped once the table is back: the lifecycle function is not the one under test
    table_name = os.environ["TABLE_NAME"]
    with stream_paused():
        monkeypatch.setenv("TABLE_NAME", "no-such-table")
        reset_settings()
        try:
            status, body = call(signed("sms:delivered", {"messageId": seed.EVENTS_MESSAGE}))
        finally:
            monkeypatch.setenv("TABLE_NAME", table_name)
            reset_settings()
    assert (status, body["error"]["code"]) == (500, "internal_error")


# -- end to end: the sandbox device POSTs its signed webhooks ------------------------------


@pytest.fixture
def receiver() -> Iterator[str]:
    """A tiny HTTP endpoint that turns each POST into a REST proxy event for the function, as
    API Gateway would, and answers with the function's answer."""
    template = event("webhooks/smsgate_delivered")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ev = dict(template, body=raw.decode("utf-8"), headers=dict(self.headers.items()))
            ev["multiValueHeaders"] = {k: [v] for k, v in self.headers.items()}
            answer = invoke("webhooks", ev)
            payload = answer["body"].encode()
            self.send_response(answer["statusCode"])
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/webhooks/smsgate"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_given_registered_webhooks_when_smsgate_sends_then_its_signed_reports_deliver_the_message(
    provisioned, sandbox, receiver
):
    client = SmsGateClient.from_secret(local_secret("smsgate", sandbox.url))
    registered = register(client, receiver)
    assert sorted(w["event"] for w in registered) == sorted(EVENTS)
    assert len(register(client, receiver)) == len(EVENTS) == len(client.list_webhooks())  # replaced, not added
    msg = seed.message(provider="smsgate")
    body = {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": "smsgate", "lane": "tx"}
    assert invoke("sender", seed.sqs_event([body])) == {"batchItemFailures": []}
    deadline = time.monotonic() + 10
    while messages.get(seed.table(), msg.id).status != Status.DELIVERED and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.DELIVERED
    assert any(a.outcome == "report" and a.raw_status == "sms:delivered" for a in stored.attempts)
    sim = sandbox.sandbox.sims["smsgate"]
    while any(d["outcome"] == "pending" for d in sim.hooks.history()) and time.monotonic() < deadline:
        time.sleep(0.05)
    deliveries = {d["event"]: (d["outcome"], d["last_status"]) for d in sim.hooks.history()}
    assert deliveries == {"sms:sent": ("delivered", 200), "sms:delivered": ("delivered", 200)}
