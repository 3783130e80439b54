"""Inbound messages and opt-outs against moto, through the functions as API Gateway and the
SQS event sources call them: SMSGate `sms:received` (signed) and Message Pro's form webhooks
become inbound records of the tenant that last sent to the number through that provider, a
bus event, and (STOP, ARRÊT, START) opt-out list changes; the api's sends honour the list;
/v1/inbound and /v1/opt-outs are tenant-isolated."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest

from tamtam import aws, clock, tenant_settings
from tamtam.events import INBOUND_DETAIL_TYPE
from tamtam.settings import get_settings
from tamtam.store import inbound, last_sender, opt_outs
from tamtam.store.tenants import tenant_key
from tests.integration import seed
from tests.integration.lambdas import event, invoke
from tests.integration.test_otp import Api, otp  # noqa: F401  (the OTP fixture: key and pepper)

KEY = "sandbox-signing-key"
WEBHOOK_SECRET = "sandbox-webhook-secret"
NUMBER = "+224622000001"
OTHER = "ten_other000000000000000000000"


def sent_through(provider: str, to: str = NUMBER, tenant: str = seed.EVENTS_TENANT) -> str:
    """A message of `tenant` sent to `to` through `provider`, as the sender records it."""
    from tamtam.messaging.outcomes import remember_sender

    message = seed.message(to=to, provider=provider, tenant_id=tenant)
    remember_sender(seed.table(), message)
    return message.id


def smsgate_received(text: str, sender: str = NUMBER, *, message_id: str = "a1b2c3d4e5f60718",
                     received_at: str = "2026-11-22T11:19:58.000+01:00") -> dict[str, Any]:
    body = json.dumps({"id": "evt-r1", "webhookId": "tamtam-sms-received", "event": "sms:received", "deviceId": "dev",
                       "payload": {"messageId": message_id, "message": text, "sender": sender, "recipient": None,
                                   "phoneNumber": sender, "simNumber": 1, "receivedAt": received_at}})
    stamp = str(int(clock.now()))
    ev = event("webhooks/smsgate_delivered")
    ev["body"] = body
    ev["headers"]["X-Timestamp"] = stamp
    ev["headers"]["X-Signature"] = hmac.new(KEY.encode(), body.encode() + stamp.encode(), hashlib.sha256).hexdigest()
    return ev


def messagepro_form(**fields: str) -> dict[str, Any]:
    ev = event("webhooks/messagepro_sms")
    form = dict(urllib.parse.parse_qsl(ev["body"]))
    form.update(fields)
    ev["body"] = urllib.parse.urlencode(form)
    return ev


def hook(ev: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = invoke("webhooks", ev)
    return answer["statusCode"], json.loads(answer["body"])


def api(method: str, path: str, *, tenant: str = seed.EVENTS_TENANT, body: Any = None,
        query: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    ev = event("api/send_message")
    ev.update(httpMethod=method, path=path, queryStringParameters=query,
              body=json.dumps(body) if body is not None else None)
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant
    answer = invoke("api", ev)
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture
def bus_events(provisioned) -> Any:
    """The inbound events put on the bus, read from a queue a rule sends them to."""
    events_client, sqs = aws.client("events"), aws.client("sqs")
    bus = get_settings().event_bus_name
    url = sqs.create_queue(QueueName=f"inbound-events-{clock.now():.0f}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events_client.put_rule(Name="inbound-test", EventBusName=bus,
                           EventPattern=json.dumps({"source": ["tamtam"], "detail-type": [INBOUND_DETAIL_TYPE]}))
    events_client.put_targets(Rule="inbound-test", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        return [json.loads(m["Body"]) for m in got]

    yield read
    events_client.remove_targets(Rule="inbound-test", EventBusName=bus, Ids=["q"])
    events_client.delete_rule(Name="inbound-test", EventBusName=bus)
    sqs.delete_queue(QueueUrl=url)


# --- SMSGate sms:received --------------------------------------------------------------------

def test_given_a_stop_through_smsgate_then_stored_opted_out_published_and_the_next_send_is_422(provisioned, bus_events):
    last = sent_through("smsgate")

    status, body = hook(smsgate_received("STOP"))

    assert (status, body["result"], body["keyword"]) == (200, "stored", "opt_out")
    entry = opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER)
    assert (entry.source, entry.keyword, entry.provider, entry.inbound_id) == (
        "keyword",
        "STOP",
        "smsgate",
        body["inbound_id"],
    )
    [published] = bus_events()
    assert published["detail-type"] == INBOUND_DETAIL_TYPE
    assert published["detail"] | {"text": "STOP"} == published["detail"]
    assert (published["detail"]["tenant_id"], published["detail"]["from"], published["detail"]["in_reply_to"]) == (
        seed.EVENTS_TENANT, NUMBER, last)
    status, listed = api("GET", "/v1/inbound")
    assert status == 200
    [item] = listed["items"]
    assert (item["id"], item["from"], item["text"], item["keyword"], item["provider"], item["channel"]) == (
        body["inbound_id"], NUMBER, "STOP", "opt_out", "smsgate", "sms")
    assert item["received_at"] == "2026-11-22T10:19:58.000Z"  # the device's local time, in UTC
    status, refused = api("POST", "/v1/messages", body={"to": NUMBER, "text": "Sale on now"})
    assert (status, refused["error"]["code"], refused["error"]["field"]) == (422, "recipient_opted_out", "to")


def test_given_the_same_received_sms_twice_then_one_record_and_one_event(provisioned, bus_events):
    sent_through("smsgate")
    first = hook(smsgate_received("Hello back"))
    again = hook(smsgate_received("Hello back"))
    assert (first[1]["result"], again[1]["result"]) == ("stored", "duplicate")
    assert first[1]["inbound_id"] == again[1]["inbound_id"]
    assert len(api("GET", "/v1/inbound")[1]["items"]) == 1
    assert len(bus_events()) == 1


def test_given_a_number_nobody_sent_to_through_that_provider_then_unmatched_and_nothing_stored(provisioned, capsys):
    sent_through("messagepro")  # another provider: its answers come through Message Pro, not SMSGate
    status, body = hook(smsgate_received("STOP"))
    assert (status, body) == (200, {"event": "sms:received", "result": "unmatched"})
    assert opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER) is None
    assert api("GET", "/v1/inbound")[1]["items"] == []
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [(m["Provider"], m["InboundUnmatched"]) for m in metrics if "InboundUnmatched" in m] == [("smsgate", [1.0])]


def test_given_two_tenants_then_the_answer_belongs_to_the_last_sender(provisioned):
    sent_through("smsgate", tenant=OTHER)
    sent_through("smsgate")  # later: the events tenant is the last sender
    status, body = hook(smsgate_received("STOP"))
    assert status == 200 and body["result"] == "stored"
    assert opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER) is not None
    assert opt_outs.get(seed.table(), OTHER, NUMBER) is None
    assert api("GET", "/v1/inbound", tenant=OTHER)[1]["items"] == []
    assert api("GET", "/v1/opt-outs/+224622000001", tenant=OTHER)[0] == 404
    assert api("POST", "/v1/messages", tenant=OTHER, body={"to": NUMBER, "text": "hi"})[0] == 202


def test_given_an_older_send_recorded_late_then_the_newer_sender_stays(provisioned, monkeypatch):
    newer = last_sender.LastSender(provider="smsgate", phone=NUMBER, tenant_id=OTHER, message_id="msg_b",
                                   at="2026-11-22T10:00:01.000Z")
    older = newer.model_copy(
        update={"tenant_id": seed.EVENTS_TENANT, "message_id": "msg_a", "at": "2026-11-22T10:00:00.000Z"}
    )
    assert last_sender.record(seed.table(), newer) is True
    assert last_sender.record(seed.table(), older) is False
    assert last_sender.get(seed.table(), "smsgate", NUMBER).tenant_id == OTHER


def test_given_start_after_stop_then_the_number_is_off_the_list(provisioned):
    sent_through("smsgate")
    hook(smsgate_received("stop", message_id="m1"))
    status, body = hook(smsgate_received("Start", message_id="m2", received_at="2026-11-22T11:25:00.000+01:00"))
    assert (status, body["keyword"]) == (200, "opt_in")
    assert opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER) is None
    assert api("POST", "/v1/messages", body={"to": NUMBER, "text": "Welcome back"})[0] == 202
    texts = [i["text"] for i in api("GET", "/v1/inbound")[1]["items"]]
    assert texts == ["Start", "stop"]  # newest first


def test_given_a_received_sms_with_a_bad_signature_then_401_and_nothing_stored(provisioned):
    sent_through("smsgate")
    ev = smsgate_received("STOP")
    ev["headers"]["X-Signature"] = "0" * 64
    assert hook(ev)[0] == 401
    assert opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER) is None


def test_given_a_received_sms_without_a_sender_then_422(provisioned):
    ev = smsgate_received("STOP")
    payload = json.loads(ev["body"])
    payload["payload"].pop("sender")
    payload["payload"].pop("phoneNumber")
    body = json.dumps(payload)
    ev["body"] = body
    ev["headers"]["X-Signature"] = hmac.new(KEY.encode(), body.encode() + ev["headers"]["X-Timestamp"].encode(),
                                            hashlib.sha256).hexdigest()
    status, answer = hook(ev)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, "invalid_value", "payload.sender")


# --- Message Pro form webhooks ---------------------------------------------------------------

def test_given_the_messagepro_events_file_then_arret_opts_the_number_out(provisioned, bus_events):
    sent_through("messagepro")
    status, body = hook(event("webhooks/messagepro_sms"))
    assert (status, body["event"], body["result"], body["keyword"]) == (200, "sms", "stored", "opt_out")
    entry = opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER)
    assert (entry.keyword, entry.provider) == ("ARRET", "messagepro")
    [item] = api("GET", "/v1/inbound")[1]["items"]
    assert (item["text"], item["provider"], item["provider_message_id"], item["received_at"]) == (
        "Arrêt", "messagepro", "sms:1042", clock.iso(1795346400))
    assert bus_events()[0]["detail"]["provider"] == "messagepro"
    assert hook(event("webhooks/messagepro_sms"))[1]["result"] == "duplicate"


@pytest.mark.parametrize("fields", [{"secret": "not-the-secret"}, {"secret": ""}, {"secret": WEBHOOK_SECRET + "x"}])
def test_given_a_messagepro_webhook_with_a_wrong_secret_then_401_and_nothing_stored(provisioned, fields):
    sent_through("messagepro")
    status, body = hook(messagepro_form(**fields))
    assert (status, body["error"]["code"]) == (401, "invalid_signature")
    assert WEBHOOK_SECRET not in json.dumps(body)
    assert opt_outs.get(seed.table(), seed.EVENTS_TENANT, NUMBER) is None


def test_given_a_messagepro_webhook_without_its_secret_field_then_401(provisioned):
    ev = event("webhooks/messagepro_sms")
    ev["body"] = urllib.parse.urlencode({k: v for k, v in urllib.parse.parse_qsl(ev["body"]) if k != "secret"})
    assert hook(ev)[0] == 401


def test_given_a_whatsapp_chat_then_it_is_an_inbound_whatsapp_message(provisioned):
    sent_through("messagepro")
    status, body = hook(messagepro_form(**{"type": "whatsapp", "data[wid]": "+224620000900", "data[message]": "Merci",
                                           "data[attachment]": "0"}))
    assert (status, body["result"]) == (200, "stored")
    [item] = api("GET", "/v1/inbound")[1]["items"]
    assert (item["channel"], item["to"], item["keyword"], item["provider_message_id"]) == (
        "whatsapp", "+224620000900", None, "whatsapp:1042")


@pytest.mark.parametrize("kind", ["ussd", "notifications"])
def test_given_a_messagepro_webhook_the_gateway_does_not_use_then_it_is_ignored(provisioned, kind):
    assert hook(messagepro_form(type=kind)) == (200, {"event": kind, "result": "ignored"})


def test_given_a_messagepro_webhook_missing_the_sender_then_422(provisioned):
    ev = event("webhooks/messagepro_sms")
    ev["body"] = urllib.parse.urlencode({k: v for k, v in urllib.parse.parse_qsl(ev["body"]) if k != "data[phone]"})
    status, body = hook(ev)
    assert (status, body["error"]["field"]) == (422, "data[phone]")


def test_given_a_body_that_is_no_form_then_400(provisioned):
    ev = event("webhooks/messagepro_sms")
    ev["body"] = "secret"
    assert hook(ev)[1]["error"]["code"] == "invalid_body"


# --- the opt-out list by hand, and the sends -------------------------------------------------

def test_given_put_get_delete_then_the_list_changes_and_national_numbers_are_normalised(provisioned):
    status, put = api("PUT", "/v1/opt-outs/622000001")
    assert (status, put["phone"], put["source"], put["opted_out"]) == (200, NUMBER, "api", True)
    assert api("GET", "/v1/opt-outs/%2B224622000001")[1]["phone"] == NUMBER
    assert api("PUT", "/v1/opt-outs/+224622000001")[1]["created_at"] == put["created_at"]  # kept
    assert (
        api("POST", "/v1/messages", body={"to": "622000001", "text": "hi"})[1]["error"]["code"] == "recipient_opted_out"
    )
    assert api("DELETE", "/v1/opt-outs/+224622000001") == (200, {"phone": NUMBER, "opted_out": False})
    assert api("GET", "/v1/opt-outs/+224622000001")[0] == 404
    assert api("DELETE", "/v1/opt-outs/+224622000001")[1]["error"]["code"] == "not_found"


def test_given_another_tenants_opt_out_then_this_tenant_neither_sees_nor_changes_it(provisioned):
    api("PUT", "/v1/opt-outs/+224622000001", tenant=OTHER)
    assert api("GET", "/v1/opt-outs/+224622000001")[0] == 404
    assert api("DELETE", "/v1/opt-outs/+224622000001")[0] == 404
    assert opt_outs.get(seed.table(), OTHER, NUMBER) is not None


@pytest.mark.parametrize("phone", ["not-a-number", "+999", "12"])
def test_given_a_path_that_is_no_phone_number_then_422_invalid_phone(provisioned, phone):
    status, body = api("GET", f"/v1/opt-outs/{phone}")
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_phone", "phone")


def test_given_a_bulk_with_opted_out_numbers_then_they_are_rejected_and_counted(provisioned):
    api("PUT", "/v1/opt-outs/+224622000002")
    api("PUT", "/v1/opt-outs/+224622000004")
    status, body = api("POST", "/v1/messages/bulk", body={"to": ["+224622000001", "+224622000002", "bad",
                                                                 "+224622000003", "622000004"], "text": "Sale"})
    assert status == 202
    assert body["accepted"] == 2 and body["rejected_count"] == 3
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "recipient_opted_out"), (2, "invalid_phone"), (4, "recipient_opted_out")]


def test_given_a_large_bulk_then_the_whole_list_is_read_and_opted_out_numbers_rejected(provisioned):
    api("PUT", "/v1/opt-outs/+224622000150")
    numbers = [f"+224622000{n:03d}" for n in range(100, 250)]  # over the BatchGetItem size: one Query instead
    status, body = api("POST", "/v1/messages/bulk", body={"to": numbers, "text": "Sale"})
    assert status == 202
    assert (body["accepted"], body["rejected_count"], body["rejected"]) == (
        149, 1, [{"index": 50, "to": "+224622000150", "code": "recipient_opted_out"}])


def test_given_every_bulk_number_opted_out_then_422_no_valid_recipient(provisioned):
    api("PUT", "/v1/opt-outs/+224622000001")
    status, body = api("POST", "/v1/messages/bulk", body={"to": [NUMBER], "text": "Sale"})
    assert (status, body["error"]["code"]) == (422, "no_valid_recipient")


def test_given_a_transactional_send_then_it_reaches_an_opted_out_number_unless_the_tenant_turned_that_off(provisioned):
    from tamtam.tenants import create_tenant

    tenant = create_tenant("strict", seed.table()).tenant_id
    for who in (seed.EVENTS_TENANT, tenant):
        api("PUT", "/v1/opt-outs/+224622000001", tenant=who)
    seed.table().update_item(Key=tenant_key(tenant), UpdateExpression="SET opt_outs_exempt_transactional = :f",
                             ExpressionAttributeValues={":f": False})
    tenant_settings.reset_cache()
    order = {"to": NUMBER, "text": "Your order shipped", "transactional": True}
    assert api("POST", "/v1/messages", body=order)[0] == 202
    status, body = api("POST", "/v1/messages", body=order, tenant=tenant)
    assert (status, body["error"]["code"]) == (422, "recipient_opted_out")
    assert api("POST", "/v1/messages", body={**order, "transactional": False})[0] == 422


def test_given_an_opted_out_number_then_a_one_time_code_still_goes_to_it(otp):  # noqa: F811
    api("PUT", "/v1/opt-outs/+224622000001")
    status, body, _ = Api().send(NUMBER)
    assert status == 202, body


def test_given_a_message_sent_through_smsgate_then_the_sender_records_the_last_sender(provisioned, sandbox):
    msg = seed.message(provider="smsgate")
    answer = invoke("sender", seed.sqs_event([{"message_id": msg.id, "tenant_id": msg.tenant_id,
                                               "provider": "smsgate", "lane": "tx"}]))
    assert answer == {"batchItemFailures": []}
    remembered = last_sender.get(seed.table(), "smsgate", NUMBER)
    assert (remembered.tenant_id, remembered.message_id) == (seed.EVENTS_TENANT, msg.id)


def test_given_a_message_sent_through_a_provider_without_inbound_then_nothing_is_recorded(provisioned, sandbox):
    msg = seed.message(provider="passeinfo")
    invoke("sender", seed.sqs_event([{"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": "passeinfo",
                                      "lane": "tx"}]))
    assert seed.table().get_item(Key=last_sender.key("passeinfo", NUMBER)).get("Item") is None


def test_given_many_inbound_then_pages_follow_the_cursor_and_filter_by_sender_and_time(provisioned):
    sent_through("smsgate")
    sent_through("smsgate", to="+224622000002")
    for n in range(5):
        hook(smsgate_received(f"hi {n}", message_id=f"m{n}", received_at=f"2026-11-22T10:0{n}:00.000Z"))
    hook(smsgate_received("other", sender="+224622000002", message_id="o1", received_at="2026-11-22T10:02:30.000Z"))
    seen, cursor = [], None
    while True:
        status, page = api("GET", "/v1/inbound", query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert status == 200
        seen += [i["text"] for i in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == ["hi 4", "hi 3", "other", "hi 2", "hi 1", "hi 0"]
    mine = api("GET", "/v1/inbound", query={"from": "622000002"})[1]["items"]
    assert [i["text"] for i in mine] == ["other"]
    window = api("GET", "/v1/inbound", query={"since": "2026-11-22T10:01:00Z", "until": "2026-11-22T10:03:00Z"})[1]
    assert [i["text"] for i in window["items"]] == ["other", "hi 2", "hi 1"]
    status, refused = api("GET", "/v1/inbound", query={"cursor": "bm90LWEtY3Vyc29y"})
    assert (status, refused["error"]["code"]) == (422, "invalid_cursor")
    other_cursor = api("GET", "/v1/inbound", query={"limit": "1"})[1]["cursor"]
    assert (
        api("GET", "/v1/inbound", tenant=OTHER, query={"cursor": other_cursor})[1]["error"]["code"] == "invalid_cursor"
    )


def test_given_the_inbound_items_then_their_keys_are_the_tenants_partition(provisioned):
    sent_through("smsgate")
    hook(smsgate_received("hello"))
    [item] = seed.table().query(KeyConditionExpression="pk = :p",
                                ExpressionAttributeValues={":p": inbound.partition(seed.EVENTS_TENANT)})["Items"]
    assert item["sk"].startswith("2026-11-22T10:19:58.000Z#inb_")
