"""Issue 3 end to end: failover between providers, delivery reports by webhook and by poller,
provider balances."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def _final(api, key, message_id, statuses=("sent", "delivered", "failed", "unconfirmed")):
    def check():
        answer = api("GET", f"/v1/messages/{message_id}", key)
        assert answer.status_code == 200, answer.text
        view = answer.json()
        return view if view["status"] in statuses else None

    return check


def test_given_passeinfo_out_of_credit_then_a_guinean_message_goes_through_message_pro(stack, api, tenant_key):
    key = tenant_key("failover")
    stack.sandbox.fault("passeinfo", "reject", reason="insufficient_credit")
    try:
        accepted = api(
            "POST", "/v1/messages", key, json={"to": "+224622000101", "text": "via the second provider"}
        ).json()
        view = wait_for(_final(api, key, accepted["id"]), timeout=30)
    finally:
        stack.sandbox.clear_faults("passeinfo")
    assert (view["status"], view["provider"]) in {("sent", "messagepro"), ("delivered", "messagepro")}
    assert [(a["provider"], a["outcome"]) for a in view["attempts"]][:2] == [
        ("passeinfo", "failed"),
        ("messagepro", "sent"),
    ]
    assert view["attempts"][0]["reason"] == "insufficient_credit"
    assert [o["text"] for o in stack.sandbox.outbox(provider="messagepro", to="+224622000101")] == [
        "via the second provider"
    ]


def test_given_every_provider_of_the_route_down_then_failed_with_the_last_reason_never_stuck(stack, api, tenant_key):
    key = tenant_key("all-down")
    for provider in ("ventis", "smsgate"):
        stack.sandbox.fault(provider, "reject", reason="auth_failed")
    try:
        accepted = api("POST", "/v1/messages", key, json={"to": "+24106123456", "text": "nobody takes it"}).json()
        view = wait_for(_final(api, key, accepted["id"]), timeout=40)
    finally:
        stack.sandbox.clear_faults()
    assert view["status"] == "failed" and view["reason"] == "auth_failed"
    assert [a["provider"] for a in view["attempts"] if a["outcome"] == "failed"] == ["ventis", "smsgate"]


def test_given_smsgate_reports_delivery_by_signed_webhook_then_the_message_becomes_delivered(stack, api, tenant_key):
    key = tenant_key("webhook")
    stack.sandbox.configure("smsgate", sent_after=0, delivered_after=0.2)
    accepted = api(
        "POST", "/v1/messages", key, json={"to": "+224622000102", "text": "report me", "provider": "smsgate"}
    ).json()
    view = wait_for(_final(api, key, accepted["id"], ("delivered",)), timeout=40, interval=0.3)
    assert [h["status"] for h in view["history"]][-1] == "delivered"


def test_given_a_forged_webhook_then_401_and_nothing_changes(stack, api, tenant_key):
    key = tenant_key("forged")
    stack.sandbox.configure("smsgate", sent_after=0, delivered_after=0.2)
    answer = api("POST", "/v1/messages", key, json={"to": "+224622000103", "text": "x", "provider": "smsgate"})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    # wait for the real (signed) delivery report first, so nothing else can move it meanwhile
    wait_for(_final(api, key, accepted["id"], ("delivered",)), timeout=40, interval=0.3)
    before = api("GET", f"/v1/messages/{accepted['id']}", key)
    assert before.status_code == 200, before.text
    body = (
        '{"id":"x","webhookId":"w","event":"sms:failed","deviceId":"d","payload":{"messageId":"'
        + accepted["id"]
        + '","failedAt":"2026-11-22T10:00:00+00:00","reason":"forged"}}'
    )
    answer = api("POST", "/v1/webhooks/smsgate", data=body,
                 headers={"Content-Type": "application/json", "X-Signature": "0" * 64, "X-Timestamp": "1795346400"})
    assert answer.status_code == 401 and answer.json()["error"]["code"]
    after = api("GET", f"/v1/messages/{accepted['id']}", key)
    assert after.json()["status"] == before.json()["status"], after.text


def test_given_a_passeinfo_message_sent_then_the_poller_makes_it_delivered(stack, api, tenant_key):
    key = tenant_key("poller")
    stack.sandbox.configure("passeinfo", sent_after=0, delivered_after=0)
    accepted = api(
        "POST", "/v1/messages", key, json={"to": "+224622000104", "text": "poll me", "provider": "passeinfo"}
    ).json()
    wait_for(_final(api, key, accepted["id"], ("sent", "delivered")), timeout=30)

    def delivered():
        stack.schedules.trigger("StatusPollerFunction")
        return _final(api, key, accepted["id"], ("delivered",))()

    view = wait_for(delivered, timeout=40, interval=1)
    assert view["status"] == "delivered"
    assert any(a["outcome"] == "report" for a in view["attempts"])


def test_given_the_balance_checker_ran_then_the_providers_route_shows_balances(stack, api, tenant_key):
    key = tenant_key("balances")
    stack.schedules.trigger("BalanceCheckerFunction")
    providers = {p["name"]: p for p in api("GET", "/v1/providers", key).json()["providers"]}
    assert set(providers) == {"passeinfo", "messagepro", "flowsms", "ventis", "smsgate"}
    assert providers["passeinfo"]["balance"] is not None and providers["messagepro"]["balance"] is not None
