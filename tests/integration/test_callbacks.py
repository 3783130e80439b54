"""Status callbacks against moto: the webhook endpoint routes (tenant-isolated, secrets shown
once, URLs refused unless public https), `callback_url` and `reference` on single, bulk and OTP
sends, and the whole path in process: api -> table -> stream -> lifecycle -> callbacks queue ->
callbacks function -> a real receiver on 127.0.0.1 (the local stack's loopback setting on)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tamtam import aws
from tamtam.callbacks import urls
from tamtam.callbacks.settings import reset_callback_settings
from tamtam.settings import get_settings
from tamtam.store import messages
from tests.callback_receiver import Receiver, readme_verify
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, fan_out, send_all
from tests.integration.lambdas import invoke, pump_stream
from tests.integration.test_otp import otp  # noqa: F401  (the OTP fixture: its key and pepper)

OTHER = "ten_other0000000000000000000001"
DNS = {"hooks.example.com": ["93.184.216.34"], "internal.example.com": ["10.20.30.40"],
       "metadata.example.com": ["169.254.169.254"], "mixed.example.com": ["93.184.216.34", "192.168.1.9"],
       "v6internal.example.com": ["fd00::5"]}
PUBLIC = "https://hooks.example.com/tamtam"
SENT_AND_QUEUED = ["message.queued", "message.sent"]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A resolver for the example names (moto's tests have no DNS to the internet)."""
    def resolve(host: str, port: int) -> list[str]:
        if host not in DNS:
            raise OSError("Name or service not known")
        return DNS[host]

    monkeypatch.setattr(urls, "system_resolver", resolve)


@pytest.fixture
def loopback(provisioned, dns, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The local stack's setting (receivers on 127.0.0.1 over http) and one-second backoff."""
    monkeypatch.setenv("CALLBACK_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("CALLBACK_BACKOFF_BASE_SECONDS", "1")
    reset_callback_settings()
    drain("callbacks")
    yield
    reset_callback_settings()


@pytest.fixture
def aws_mode(provisioned, dns, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CALLBACK_ALLOW_LOOPBACK", raising=False)
    reset_callback_settings()
    yield
    reset_callback_settings()


def create(url: str = PUBLIC, types: list[str] | None = None, *, tenant: str = seed.EVENTS_TENANT) -> tuple[int, dict]:
    return api("POST", "/v1/webhook-endpoints", {"url": url, "event_types": types or ["message.sent"]}, tenant=tenant)


def callback_secret(tenant: str = seed.EVENTS_TENANT) -> str:
    status, body = api("POST", "/v1/callback-secret", tenant=tenant)
    assert status == 200, body
    return body["secret"]


def queued_callbacks(wait: float = 0.0, *, hide: int = 30) -> list[dict[str, Any]]:
    """Visible messages of the callbacks queue (not deleted; hidden for `hide` seconds, 0: a peek)."""
    sqs, url = aws.client("sqs"), get_settings().queue_urls["callbacks"]
    deadline, out = time.monotonic() + wait, []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=hide,
                                  MessageSystemAttributeNames=["All"]).get("Messages", [])
        if got and not hide:
            return got
        out += got
        if got:
            continue
        if out or time.monotonic() > deadline:
            return out
        time.sleep(0.2)


def run_callbacks(wait: float = 0.0) -> int:
    """The callbacks function on what the queue holds, 10 records a call, as the event source
    mapping would (processed records deleted, failed ones left); how many records went."""
    sqs, url = aws.client("sqs"), get_settings().queue_urls["callbacks"]
    got = queued_callbacks(wait)
    for start in range(0, len(got), 10):
        batch = got[start : start + 10]
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:callbacks",
                    "awsRegion": "eu-west-1"} for m in batch]
        failed = {f["itemIdentifier"] for f in invoke("callbacks", {"Records": records})["batchItemFailures"]}
        done = [m for m in batch if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                            for i, m in enumerate(done)])
    return len(got)


def send(body: dict[str, Any], *, tenant: str = seed.EVENTS_TENANT) -> tuple[int, dict]:
    return api("POST", "/v1/messages", {"to": "+224622000001", "text": "hi", **body}, tenant=tenant)


def stored_count() -> int:
    return aws.table(get_settings().table_name).scan(Select="COUNT")["Count"]


# --- the routes ------------------------------------------------------------------------------


def test_given_a_new_endpoint_then_its_secret_once_and_listed_without_it(aws_mode):
    status, created = create(types=["message.sent", "message.delivered", "message.sent"])
    assert status == 201, created
    assert created["secret"].startswith("whsec_") and created["id"].startswith("wep_")
    assert (created["url"], created["event_types"], created["state"]) == (PUBLIC, ["message.sent", "message.delivered"],
                                                                          "enabled")
    status, page = api("GET", "/v1/webhook-endpoints")
    assert status == 200 and [e["id"] for e in page["items"]] == [created["id"]]
    status, one = api("GET", f"/v1/webhook-endpoints/{created['id']}")
    assert status == 200 and one == {k: v for k, v in created.items() if k != "secret"}
    assert "secret" not in page["items"][0] and created["secret"] not in json.dumps([page, one])


def test_given_another_tenant_then_its_endpoints_are_404_and_unlisted(aws_mode):
    _, mine = create()
    for method, path in (
        ("GET", f"/v1/webhook-endpoints/{mine['id']}"),
        ("DELETE", f"/v1/webhook-endpoints/{mine['id']}"),
        ("POST", f"/v1/webhook-endpoints/{mine['id']}/roll-secret"),
    ):
        status, body = api(method, path, tenant=OTHER)
        assert (status, body["error"]["code"]) == (404, "not_found"), (method, path)
    assert api("GET", "/v1/webhook-endpoints", tenant=OTHER) == (200, {"items": []})
    assert api("GET", f"/v1/webhook-endpoints/{mine['id']}")[0] == 200  # untouched


def test_given_a_roll_then_a_new_secret_and_a_delete_then_404(aws_mode):
    _, created = create()
    status, rolled = api("POST", f"/v1/webhook-endpoints/{created['id']}/roll-secret")
    assert status == 200 and rolled["id"] == created["id"] and rolled["secret"] != created["secret"]
    status, deleted = api("DELETE", f"/v1/webhook-endpoints/{created['id']}")
    assert (status, deleted) == (200, {"id": created["id"], "deleted": True})
    assert api("GET", f"/v1/webhook-endpoints/{created['id']}")[0] == 404
    assert api("DELETE", f"/v1/webhook-endpoints/{created['id']}")[0] == 404


@pytest.mark.parametrize("url", [
    "https://10.0.0.1/hook", "https://172.16.5.4/hook", "https://192.168.1.1/hook", "https://169.254.169.254/latest",
    "https://[fe80::1]/hook", "https://[fd00::1]/hook", "https://[::1]/hook", "https://127.0.0.1/hook",
    "https://internal.example.com/hook", "https://metadata.example.com/", "https://mixed.example.com/",
    "https://v6internal.example.com/", "https://nowhere.example.com/",
])
def test_given_a_url_to_a_private_or_link_local_address_then_422_and_nothing_stored(aws_mode, url):
    secret_items = stored_count() + 1
    callback_secret()
    status, body = create(url)
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_callback_url", "url")
    status, body = send({"callback_url": url})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_callback_url", "callback_url")
    assert stored_count() == secret_items  # the callback secret only: no endpoint, no message


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://hooks.example.com/tamtam", "http://[::1]/x"])
def test_given_aws_mode_then_plain_http_is_422_even_to_loopback(aws_mode, url):
    status, body = create(url)
    assert (status, body["error"]["code"]) == (422, "invalid_callback_url")


def test_given_the_local_setting_then_http_to_loopback_is_accepted_but_not_to_private_addresses(loopback):
    assert create("http://127.0.0.1:8080/hook")[0] == 201
    assert create("http://10.0.0.1:8080/hook")[0] == 422


def test_given_twenty_endpoints_then_the_twenty_first_is_409(aws_mode):
    for _ in range(20):
        assert create()[0] == 201
    status, body = create()
    assert (status, body["error"]["code"]) == (409, "too_many_endpoints")


def test_given_no_callback_secret_then_a_callback_url_is_422_callback_secret_missing(aws_mode):
    status, body = send({"callback_url": PUBLIC})
    assert (status, body["error"]["code"]) == (422, "callback_secret_missing")


def test_given_callback_url_and_reference_then_every_kind_of_send_stores_them(aws_mode, otp):  # noqa: F811
    callback_secret()
    fields = {"callback_url": PUBLIC, "reference": "order-1042"}
    status, single = send(fields)
    assert status == 202, single
    status, view = api("GET", f"/v1/messages/{single['id']}")
    assert (view["callback_url"], view["reference"]) == (PUBLIC, "order-1042")
    status, bulk = api("POST", "/v1/messages/bulk", {"to": ["+224622000002", "+224622000003"], "text": "hi", **fields})
    assert status == 202, bulk
    fan_out(bulk["batch_id"])
    _, page = api("GET", f"/v1/batches/{bulk['batch_id']}/messages")
    stored = [messages.get(seed.table(), m["id"]) for m in page["items"]]
    assert len(stored) == 2 and {(m.callback_url, m.reference) for m in stored} == {(PUBLIC, "order-1042")}
    status, code = api("POST", "/v1/otp", {"to": "+224622000004", **fields})
    assert status == 202, code
    otp_item = seed.table().get_item(Key={"pk": f"OTP#{code['id']}", "sk": "OTP"})["Item"]
    first = messages.get(seed.table(), otp_item["message_ids"][0])
    assert (first.callback_url, first.reference, first.otp_id) == (PUBLIC, "order-1042", code["id"])


# --- deliveries ------------------------------------------------------------------------------


def test_given_an_endpoint_and_a_callback_url_then_each_gets_signed_status_changes_verified_by_the_readme(loopback):
    verify = readme_verify()
    with Receiver(200) as endpoint_receiver, Receiver(200) as url_receiver:
        _, endpoint = create(endpoint_receiver.url, SENT_AND_QUEUED)
        url_secret = callback_secret()
        status, accepted = send({"callback_url": url_receiver.url, "reference": "order-1042"})
        assert status == 202
        run_callbacks()
        send_all("tx")
        run_callbacks()

    def in_order(got: list) -> list:  # one batch's deliveries run at once: receivers order by sequence
        return sorted((r for r in got if r.event["message_id"] == accepted["id"]), key=lambda r: r.event["sequence"])

    by_endpoint, by_url = in_order(endpoint_receiver.got), in_order(url_receiver.got)
    assert [r.event["type"] for r in by_endpoint] == ["message.queued", "message.sent"]
    assert [r.event["type"] for r in by_url] == ["message.queued", "message.sending", "message.sent"]
    for got, secret in [(r, endpoint["secret"]) for r in by_endpoint] + [(r, url_secret) for r in by_url]:
        assert got.path == "/hooks/tamtam" and got.headers["content-type"] == "application/json"
        assert verify(secret, got.headers["tamtam-signature"], got.body)
        assert not verify("whsec_someone_else", got.headers["tamtam-signature"], got.body)
        assert got.headers["tamtam-event-id"] == got.event["id"] == f"{accepted['id']}:{got.event['sequence']}"
        assert (got.event["reference"], got.event["message_id"]) == ("order-1042", accepted["id"])
    sent = by_endpoint[1].event
    assert (sent["status"], sent["previous_status"], sent["provider"], sent["final"], sent["sequence"]) == (
        "sent", "sending", "passeinfo", False, 2)


def test_given_a_receiver_failing_twice_then_the_same_event_a_third_time_and_nothing_more(loopback):
    with Receiver(500, 500, 200) as receiver:
        create(receiver.url, ["message.queued"])
        send({})
        run_callbacks()
        assert len(receiver.got) == 1
        [retry] = queued_callbacks(wait=3, hide=0)  # back after its delay (about a second)
        assert json.loads(retry["Body"])["attempt"] == 2
        run_callbacks(wait=3)
        assert len(receiver.got) == 2
        run_callbacks(wait=4)  # the third attempt: 200
        assert run_callbacks(wait=4) == 0  # and nothing more
    assert len(receiver.got) == 3
    assert [r.event["id"] for r in receiver.got] == [receiver.got[0].event["id"]] * 3
    assert len({r.headers["tamtam-signature"] for r in receiver.got}) == 3  # each attempt signed anew


def test_given_a_410_then_the_endpoint_is_disabled_and_gets_nothing_more(loopback):
    with Receiver(410) as receiver:
        _, endpoint = create(receiver.url, SENT_AND_QUEUED)
        send({})
        run_callbacks()
        _, view = api("GET", f"/v1/webhook-endpoints/{endpoint['id']}")
        assert (view["state"], view["disabled_reason"]) == ("disabled", "gone")
        send_all("tx")
        assert run_callbacks() == 0  # the lifecycle queues nothing for a disabled endpoint
        assert len(receiver.got) == 1


def test_given_retries_exhausted_then_the_delivery_is_in_the_dlq_with_its_reason(provisioned, loopback, monkeypatch):
    monkeypatch.setenv("CALLBACK_RETRY_WINDOW_SECONDS", "0")
    reset_callback_settings()
    sqs, dlq = aws.client("sqs"), provisioned.queue_urls["callbacks-dlq"]
    with Receiver(503) as receiver:
        create(receiver.url, ["message.queued"])
        send({})
        run_callbacks()
    assert len(receiver.got) == 1 and queued_callbacks() == []
    got = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    sqs.delete_message_batch(QueueUrl=dlq, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                    for i, m in enumerate(got)]) if got else None
    [dead] = [m for m in got if json.loads(m["Body"])["event"]["id"] == receiver.got[0].event["id"]]
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "retries_exhausted"
    assert json.loads(dead["Body"])["attempt"] == 1


def test_given_an_endpoint_for_received_messages_then_an_inbound_sms_is_posted_with_its_text(loopback):
    from tests.integration import test_inbound as inbound

    verify = readme_verify()
    with Receiver(200) as receiver:
        _, endpoint = create(receiver.url, ["message.received"])
        inbound.sent_through("smsgate")
        run_callbacks()  # the send's own status changes: not asked for, nothing posted
        assert inbound.hook(inbound.smsgate_received("Is it still open?"))[0] == 200
        inbound.hook(inbound.smsgate_received("Is it still open?"))  # the provider retries: one event
        pump_stream()
        run_callbacks()
    [got] = receiver.got
    assert verify(endpoint["secret"], got.headers["tamtam-signature"], got.body)
    assert (got.event["type"], got.event["from"], got.event["text"], got.event["provider"]) == (
        "message.received", inbound.NUMBER, "Is it still open?", "smsgate")
    assert got.event["id"] == got.event["inbound_id"] and got.event["in_reply_to"]
