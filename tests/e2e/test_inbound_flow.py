"""Issue 15 end to end: a recipient answers STOP through a provider's real webhook (the sandbox
delivers it as SMSGate's device and as Message Pro's server do), the answer is the sending
tenant's inbound message, and the tenant's next send to that number answers 422
`recipient_opted_out`."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def _sent(api, key, message_id):
    def check():
        view = api("GET", f"/v1/messages/{message_id}", key).json()
        return view if view["status"] in ("sent", "delivered") else None

    return check


def _inbound(api, key, text):
    def check():
        answer = api("GET", "/v1/inbound", key)
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json()["items"] if i["text"] == text] or None

    return check


@pytest.mark.parametrize(("provider", "number", "stop"), [("smsgate", "+224622009901", "STOP"),
                                                          ("messagepro", "+224622009902", "Arrêt")])
def test_given_a_stop_through_the_provider_then_the_next_send_is_refused_and_inbound_lists_it(
        stack, api, tenant_key, provider, number, stop):
    key, bystander = tenant_key(f"inbound-{provider}"), tenant_key(f"inbound-other-{provider}")
    accepted = api("POST", "/v1/messages", key, json={"to": number, "text": "Your order shipped", "provider": provider})
    assert accepted.status_code == 202, accepted.text
    sent = wait_for(_sent(api, key, accepted.json()["id"]), timeout=40, interval=0.3)

    stack.sandbox.inbound(provider, number, stop)

    [item] = wait_for(_inbound(api, key, stop), timeout=30, interval=0.3)
    assert (item["from"], item["provider"], item["keyword"], item["in_reply_to"]) == (
        number,
        provider,
        "opt_out",
        sent["id"],
    )
    refused = api("POST", "/v1/messages", key, json={"to": number, "text": "Sale on now", "provider": provider})
    assert refused.status_code == 422
    assert (refused.json()["error"]["code"], refused.json()["error"]["field"]) == ("recipient_opted_out", "to")
    assert api("GET", f"/v1/opt-outs/{number}", key).json()["keyword"] in ("STOP", "ARRET")
    # another tenant neither sees the answer nor is bound by the opt-out
    assert api("GET", "/v1/inbound", bystander).json()["items"] == []
    assert api("GET", f"/v1/opt-outs/{number}", bystander).status_code == 404


def test_given_start_through_smsgate_then_the_number_can_be_sent_to_again(stack, api, tenant_key):
    key, number = tenant_key("inbound-start"), "+224622009903"
    accepted = api("POST", "/v1/messages", key, json={"to": number, "text": "Hello", "provider": "smsgate"}).json()
    wait_for(_sent(api, key, accepted["id"]), timeout=40, interval=0.3)
    stack.sandbox.inbound("smsgate", number, "stop")
    wait_for(_inbound(api, key, "stop"), timeout=30, interval=0.3)
    stack.sandbox.inbound("smsgate", number, "Start")
    wait_for(_inbound(api, key, "Start"), timeout=30, interval=0.3)
    assert api("POST", "/v1/messages", key, json={"to": number, "text": "Welcome back"}).status_code == 202
