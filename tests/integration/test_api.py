"""The api and authorizer functions called with events/ files against moto: what a caller
sees for good and bad input, and that bad input writes nothing."""

from __future__ import annotations

import json

import pytest

from tamtam import aws
from tamtam.settings import get_settings
from tests.integration import seed
from tests.integration.lambdas import event, invoke


def send(body: str | None, *, tenant: str = seed.EVENTS_TENANT) -> tuple[int, dict]:
    ev = event("api/send_message")
    ev["body"] = body
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant
    answer = invoke("api", ev)
    return answer["statusCode"], json.loads(answer["body"])


def stored_items() -> int:
    return aws.table(get_settings().table_name).scan(Select="COUNT")["Count"]


def queued_count() -> int:
    sqs = aws.client("sqs")
    total = 0
    for url in get_settings().queue_urls.values():
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        total += int(attrs["Attributes"]["ApproximateNumberOfMessages"])
    return total


def test_given_the_send_event_then_202_with_the_normalised_number_and_segments(provisioned):
    before = queued_count()
    answer = invoke("api", event("api/send_message"))
    assert answer["statusCode"] == 202
    body = json.loads(answer["body"])
    assert body["to"] == "+224622000001"
    assert (body["status"], body["provider"], body["segments"], body["encoding"]) == ("queued", "passeinfo", 1, "GSM-7")
    assert queued_count() == before + 1


def test_given_unicode_text_then_ucs2_segments_are_counted(provisioned):
    status, body = send(json.dumps({"to": "622000001", "text": "Votre commande est prête 🎉" * 3}))
    assert status == 202
    assert (body["encoding"], body["segments"]) == ("UCS-2", 2)


@pytest.mark.parametrize(
    ("raw", "status", "code", "field"),
    [
        ('{"to": "+224622000001", "text": ', 400, "invalid_json", None),
        ("[1, 2]", 400, "invalid_json", None),
        (None, 422, "missing_field", None),
        ('{"text": "hi"}', 422, "missing_field", "to"),
        ('{"to": "+224622000001", "text": "hi", "colour": "red"}', 422, "unknown_field", "colour"),
        ('{"to": "+2246", "text": "hi"}', 422, "invalid_phone", "to"),
        ('{"to": "hello", "text": "hi"}', 422, "invalid_phone", "to"),
        ('{"to": "+224622000001", "text": ""}', 422, "too_short", "text"),
        (json.dumps({"to": "+224622000001", "text": "a" * 1531}), 422, "text_too_long", "text"),
        ('{"to": "+224622000001", "text": "hi", "provider": "twilio"}', 422, "unknown_provider", "provider"),
        ('{"to": "+224622000001", "text": "hi", "channel": "pigeon"}', 422, "invalid_value", "channel"),
        ('{"to": 224622000001, "text": "hi"}', 422, "invalid_type", "to"),
    ],
)
def test_given_bad_input_then_a_4xx_in_the_one_error_shape_and_nothing_written(provisioned, raw, status, code, field):
    before = queued_count()
    got_status, body = send(raw)
    assert got_status == status
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["code"] == code
    if field is not None:
        assert body["error"]["field"] == field
    assert body["error"]["message"]
    assert stored_items() == 0
    assert queued_count() == before


def test_given_whatsapp_to_a_route_without_a_whatsapp_provider_then_422(provisioned):
    status, body = send(json.dumps({"to": "+24106123456", "text": "hi", "channel": "whatsapp"}))
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "channel_unavailable", "channel")


def test_given_a_message_when_read_by_its_tenant_then_history_and_when_read_by_another_then_404(provisioned):
    _, accepted = send(json.dumps({"to": "+224622000001", "text": "hi"}))
    read = event("api/get_message")
    read["path"] = f"/v1/messages/{accepted['id']}"
    answer = invoke("api", read)
    assert answer["statusCode"] == 200
    view = json.loads(answer["body"])
    assert view["id"] == accepted["id"] and view["history"][0]["status"] == "queued"
    read["requestContext"]["authorizer"]["tenant_id"] = "ten_someoneelse"
    other = invoke("api", read)
    unknown = invoke("api", event("api/get_message"))
    assert other["statusCode"] == unknown["statusCode"] == 404
    assert json.loads(other["body"]) == json.loads(unknown["body"])


def test_given_the_queue_refuses_then_503_and_nothing_is_stored(provisioned, monkeypatch):
    urls = dict(get_settings().queue_urls)
    urls["passeinfo-tx"] = urls["passeinfo-tx"] + "-missing"
    monkeypatch.setenv("QUEUE_URLS", json.dumps(urls))
    from tamtam.settings import reset_settings

    reset_settings()
    status, body = send(json.dumps({"to": "+224622000001", "text": "hi"}))
    assert (status, body["error"]["code"]) == (503, "queue_unavailable")
    items = aws.table(get_settings().table_name).scan()["Items"]
    assert [i for i in items if i.get("sk") == "MSG"] == []  # enqueued first: no record, nothing to send


def test_given_openapi_then_the_routes_and_models_are_documented(provisioned):
    answer = invoke("api", event("api/openapi"))
    doc = json.loads(answer["body"])
    assert answer["statusCode"] == 200
    assert {"/v1/messages", "/v1/messages/{message_id}"} <= set(doc["paths"])
    assert "SendMessageIn" in doc["components"]["schemas"]


@pytest.mark.parametrize(("name", "allowed"), [("valid_key", True), ("unknown_key", False), ("missing_key", False)])
def test_given_authorizer_events_then_only_a_known_key_is_allowed(provisioned, name, allowed):
    from local.stack.invoker import FunctionError

    tenant = seed.events_tenant()
    if allowed:
        answer = invoke("authorizer", event(f"authorizer/{name}"))
        assert answer["context"] == {"tenant_id": tenant.tenant_id}
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    else:
        with pytest.raises(FunctionError, match="Unauthorized"):
            invoke("authorizer", event(f"authorizer/{name}"))
