"""The walking skeleton end to end: HTTP in, SQS, sender, provider sandbox, status back."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def test_given_a_tenant_when_it_sends_then_202_and_within_5s_sent_and_in_the_outbox(stack, api, tenant_key):
    key = tenant_key("acme")
    answer = api("POST", "/v1/messages", key, json={"to": "+224622000001", "text": "Hello from tamtam"})
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "queued" and accepted["to"] == "+224622000001"

    def sent():
        view = api("GET", f"/v1/messages/{accepted['id']}", key).json()
        return view if view["status"] == "sent" else None

    view = wait_for(sent, timeout=5)
    assert view["provider"] == "passeinfo" and view["provider_message_id"]
    assert [h["status"] for h in view["history"]] == ["queued", "sending", "sent"]
    outbox = stack.sandbox.outbox(provider="passeinfo", to="+224622000001")
    assert [o["text"] for o in outbox] == ["Hello from tamtam"]


def test_given_two_tenants_then_one_never_sees_the_others_message(api, tenant_key):
    first, second = tenant_key("first"), tenant_key("second")
    accepted = api("POST", "/v1/messages", first, json={"to": "+224622000002", "text": "mine"}).json()
    theirs = api("GET", f"/v1/messages/{accepted['id']}", second)
    unknown = api("GET", "/v1/messages/msg_doesnotexist0000000000000", second)
    assert theirs.status_code == unknown.status_code == 404
    assert (
        theirs.json() == unknown.json() == {"error": {"code": "not_found", "message": "no such message", "field": "id"}}
    )
    assert api("GET", f"/v1/messages/{accepted['id']}", first).status_code == 200


@pytest.mark.parametrize("key", [None, "tt_wrong_key_00000000000000000000000000", "not-even-a-key"])
def test_given_a_missing_or_wrong_key_then_401_in_the_error_shape(api, key):
    answer = api("POST", "/v1/messages", key, json={"to": "+224622000001", "text": "hi"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert set(answer.json()["error"]) == {"code", "message", "field"}


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400, "invalid_json"),
        ({"json": {"to": "+224622000001"}}, 422, "missing_field"),
        ({"json": {"to": "+224622000001", "text": "hi", "extra": 1}}, 422, "unknown_field"),
        ({"json": {"to": "+2246", "text": "hi"}}, 422, "invalid_phone"),
        ({"json": {"to": "+224622000001", "text": ""}}, 422, "too_short"),
        ({"json": {"to": "+224622000001", "text": "x" * 1540}}, 422, "text_too_long"),
        ({"json": {"to": "+224622000001", "text": "hi", "provider": "nope"}}, 422, "unknown_provider"),
    ],
)
def test_given_bad_input_over_http_then_its_4xx_and_the_error_shape(api, tenant_key, kwargs, status, code):
    answer = api("POST", "/v1/messages", tenant_key("bad-input"), **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_given_passeinfo_answering_503_then_the_message_is_retried_and_ends_failed_never_stuck(stack, api, tenant_key):
    key = tenant_key("outage")
    stack.sandbox.fault("passeinfo", "error", status=503)
    try:
        accepted = api(
            "POST",
            "/v1/messages",
            key,
            json={"to": "+224622000003", "text": "during an outage", "provider": "passeinfo"},
        ).json()

        def final():
            view = api("GET", f"/v1/messages/{accepted['id']}", key).json()
            return view if view["status"] in ("failed", "sent") else None

        view = wait_for(final, timeout=90, interval=0.5)
    finally:
        stack.sandbox.clear_faults("passeinfo")
    assert view["status"] == "failed" and view["reason"] == "provider_unavailable"
    assert [a["outcome"] for a in view["attempts"]].count("retry") >= 2
    assert stack.sandbox.outbox(to="+224622000003") == []


def test_given_the_docs_then_they_need_no_key_and_work_offline(api):
    spec = api("GET", "/openapi.json")
    assert spec.status_code == 200 and "/v1/messages" in spec.json()["paths"]
    page = api("GET", "/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text.lower()
    assert "cdn" not in page.text.lower() and "unpkg" not in page.text.lower()
