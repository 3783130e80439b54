"""Issue 12 on the local stack: bulk through SMSGate (its 36-character id limit), and the final
status of a message through a provider that gives no delivery report."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

_DONE = {"sent", "delivered", "failed", "unconfirmed", "expired"}


def _batch_done(api, key, batch_id):
    def check():
        batch = api("GET", f"/v1/batches/{batch_id}", key).json()
        return batch if batch.get("state") == "completed" else None

    return check


def _messages(api, key, batch_id):
    answer = api("GET", f"/v1/batches/{batch_id}/messages", key)
    assert answer.status_code == 200, answer.text
    return [api("GET", f"/v1/messages/{m['id']}", key).json() for m in answer.json()["items"]]


def _bulk(api, key, numbers, text, **extra):
    answer = api("POST", "/v1/messages/bulk", key, json={"to": numbers, "text": text, **extra})
    assert answer.status_code == 202, answer.text
    return answer.json()["batch_id"]


def test_given_a_bulk_pinned_to_smsgate_then_every_recipient_reaches_the_device(stack, api, tenant_key):
    key = tenant_key("bulk-smsgate")
    numbers = ["+224622990201", "+224622990202", "+224622990203"]
    batch_id = _bulk(api, key, numbers, "bulk through the device", provider="smsgate")
    wait_for(_batch_done(api, key, batch_id), timeout=60, interval=0.5)
    views = _messages(api, key, batch_id)
    assert sorted(v["to"] for v in views) == numbers
    assert {v["status"] for v in views} <= {"sent", "delivered"}, [(v["status"], v["reason"]) for v in views]
    for number in numbers:
        assert [o["text"] for o in stack.sandbox.outbox(provider="smsgate", to=number)] == ["bulk through the device"]
    # One SMSGate request carried them all, under an id that fits its 36 characters.
    assert len({v["provider_message_id"] for v in views}) == 1
    assert all(len(v["provider_message_id"]) <= 36 for v in views)


def test_given_passeinfo_and_message_pro_refusing_then_a_bulk_fails_over_to_smsgate(stack, api, tenant_key):
    key = tenant_key("bulk-failover")
    numbers = ["+224622990211", "+224622990212"]
    for provider in ("passeinfo", "messagepro"):
        stack.sandbox.fault(provider, "reject", reason="auth_failed")
    try:
        batch_id = _bulk(api, key, numbers, "failing over to the device")
        wait_for(_batch_done(api, key, batch_id), timeout=90, interval=0.5)
    finally:
        stack.sandbox.clear_faults()
    views = _messages(api, key, batch_id)
    assert {(v["status"] in ("sent", "delivered"), v["provider"]) for v in views} == {(True, "smsgate")}, \
        [(v["status"], v["provider"], v["reason"]) for v in views]
    for number in numbers:
        assert len(stack.sandbox.outbox(provider="smsgate", to=number)) == 1


@pytest.mark.parametrize(("provider", "number"), [("flowsms", "+33612345678"), ("ventis", "+24106123499")])
def test_given_a_provider_without_delivery_reports_then_sent_is_final_and_never_expires(
    stack, api, tenant_key, provider, number
):
    key = tenant_key(f"no-report-{provider}")
    accepted = api("POST", "/v1/messages", key, json={"to": number, "text": "no report follows", "provider": provider})
    assert accepted.status_code == 202, accepted.text
    message_id = accepted.json()["id"]

    def sent():
        view = api("GET", f"/v1/messages/{message_id}", key).json()
        return view if view["status"] in _DONE else None

    view = wait_for(sent, timeout=40, interval=0.3)
    assert (view["status"], view["final"], view["reason"]) == ("sent", True, "no_delivery_report"), view
    assert view["history"][-1] == {**view["history"][-1], "status": "sent", "reason": "no_delivery_report"}
    stack.schedules.trigger("StatusPollerFunction")
    stack.drain()
    after = api("GET", f"/v1/messages/{message_id}", key).json()
    assert (after["status"], after["final"]) == ("sent", True)
