"""A delivery's life with fakes for the table, the queue and the receiver: 2xx ends it, 410
turns the endpoint off, anything else comes back with an exponential delay (SQS's 15-minute
ceiling passed by hops) until an attempt fails 24 hours or more after the first, then the DLQ."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tamtam.callbacks import delivery
from tamtam.callbacks.delivery import Outcome, deliver
from tamtam.callbacks.http import Answer
from tamtam.callbacks.settings import reset_callback_settings
from tamtam.queue_bodies import DeliveryBody
from tamtam.settings import reset_settings
from tamtam.store.webhook_endpoints import endpoint_key

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/tamtam-test-callbacks"
DLQ_URL = QUEUE_URL + "-dlq"
TENANT, ENDPOINT = "ten_a", "wep_a"
T0 = 1_800_000_000.0
DAY = 86_400


class FakeTable:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def get_item(self, Key: dict[str, str], ConsistentRead: bool = True) -> dict[str, Any]:  # noqa: N803
        item = self.items.get((Key["pk"], Key["sk"]))
        return {"Item": dict(item)} if item else {}

    def update_item(self, Key: dict[str, str], ExpressionAttributeValues: dict[str, Any], **_: Any) -> dict:  # noqa: N803
        item = self.items[(Key["pk"], Key["sk"])]
        item.update(state=ExpressionAttributeValues[":off"], disabled_reason=ExpressionAttributeValues[":r"])
        return {}


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0, **kw: Any) -> dict:  # noqa: N803
        self.sent.append({"url": QueueUrl, "body": json.loads(MessageBody), "delay": DelaySeconds, **kw})
        return {"MessageId": str(len(self.sent))}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict:  # noqa: N803
        arn = "arn:aws:sqs:eu-west-1:123456789012:tamtam-test-callbacks-dlq"
        return {"Attributes": {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 5})}}

    def get_queue_url(self, QueueName: str, QueueOwnerAWSAccountId: str) -> dict:  # noqa: N803
        return {"QueueUrl": DLQ_URL}


class Receiver:
    """Answers the statuses given, in turn (the last one for ever); records what it got."""

    def __init__(self, *statuses: int | None) -> None:
        self.statuses, self.got = list(statuses), []

    def __call__(self, target: Any, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
        self.got.append((target.url, body, headers, timeout))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return Answer(status=status, error=None if status else "ReadTimeoutError")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.setenv("QUEUE_URLS", json.dumps({"callbacks": QUEUE_URL}))
    for name in ("CALLBACK_BACKOFF_BASE_SECONDS", "CALLBACK_BACKOFF_MAX_SECONDS", "CALLBACK_RETRY_WINDOW_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    reset_callback_settings()
    delivery._dead_letter_urls.clear()
    table = FakeTable()
    table.items[tuple(endpoint_key(TENANT, ENDPOINT).values())] = {
        "id": ENDPOINT, "tenant_id": TENANT, "url": "https://93.184.216.34/hook", "event_types": ["message.sent"],
        "secret": "whsec_s", "state": "enabled", "created_at": "t", "updated_at": "t"}
    yield table, FakeSqs()
    reset_settings()
    reset_callback_settings()


def body(**update: Any) -> DeliveryBody:
    event = {"id": "msg_1:2", "type": "message.sent", "message_id": "msg_1", "sequence": 2}
    return DeliveryBody(tenant_id=TENANT, endpoint_id=ENDPOINT, event=event).model_copy(update=update)


def test_given_a_2xx_then_delivered_once_signed_and_nothing_queued(env):
    table, sqs = env
    receiver = Receiver(204)
    result = deliver(body(), table=table, sqs=sqs, post=receiver, now=T0)
    assert result.outcome == Outcome.DELIVERED and sqs.sent == []
    [(url, raw, headers, timeout)] = receiver.got
    assert url == "https://93.184.216.34/hook" and timeout == 10.0
    assert json.loads(raw)["id"] == "msg_1:2" and headers["Tamtam-Event-Id"] == "msg_1:2"
    assert headers["Tamtam-Signature"].startswith(f"t={int(T0)},v1=")


def test_given_a_receiver_that_keeps_failing_then_backoff_for_at_least_24_hours_then_the_dlq(env):
    table, sqs = env
    receiver = Receiver(500)
    current, now, attempts, waits = body(), T0, [], []
    while True:
        result = deliver(current, table=table, sqs=sqs, post=receiver, now=now)
        if result.outcome == Outcome.DEFERRED:  # a hop: not yet due, no POST
            assert len(receiver.got) == len(attempts)
        else:
            attempts.append(now)
        if result.outcome == Outcome.DEAD:
            break
        sent = sqs.sent[-1]
        assert sent["url"] == QUEUE_URL and 0 <= sent["delay"] <= 900
        current = DeliveryBody.model_validate(sent["body"])
        if result.outcome == Outcome.RETRY:
            waits.append(current.not_before - now)
        now += sent["delay"]  # SQS hands it back when its delay is over
    dead = sqs.sent[-1]
    assert dead["url"] == DLQ_URL and dead["MessageAttributes"]["reason"]["StringValue"] == "retries_exhausted"
    assert attempts[-1] - attempts[0] >= DAY and attempts[-2] - attempts[0] < DAY  # the first try at or after 24 h
    assert len(receiver.got) == len(attempts)
    # exponential: 30 s, 60 s, 120 s ... each drawn in [75 %, 100 %] of its ceiling, never over an hour
    for n, wait in enumerate(waits, start=1):
        ceiling = min(30 * 2 ** (n - 1), 3600)
        assert 0.75 * ceiling <= wait <= ceiling
    assert 25 <= len(attempts) <= 45
    assert DeliveryBody.model_validate(dead["body"]).attempt == len(attempts)


def test_given_a_410_then_the_endpoint_is_off_and_later_deliveries_are_dropped(env):
    table, sqs = env
    assert deliver(body(), table=table, sqs=sqs, post=Receiver(410), now=T0).outcome == Outcome.GONE
    assert sqs.sent == []
    stored = table.items[tuple(endpoint_key(TENANT, ENDPOINT).values())]
    assert (stored["state"], stored["disabled_reason"]) == ("disabled", "gone")
    receiver = Receiver(200)
    result = deliver(body(event={"id": "msg_1:3", "type": "message.sent"}), table=table, sqs=sqs, post=receiver, now=T0)
    assert (result.outcome, result.reason, receiver.got) == (Outcome.DROPPED, "endpoint_disabled", [])


@pytest.mark.parametrize("answer", [301, 302, 307, 400, 404, 429, 500, 503, None])
def test_given_anything_but_2xx_or_410_then_another_attempt_is_queued(env, answer):
    table, sqs = env
    result = deliver(body(), table=table, sqs=sqs, post=Receiver(answer), now=T0)
    assert result.outcome == Outcome.RETRY
    [sent] = sqs.sent
    again = DeliveryBody.model_validate(sent["body"])
    assert (again.attempt, again.since, again.event) == (2, T0, body().event)
    assert 22 <= sent["delay"] <= 30


def test_given_an_address_no_longer_public_then_no_post_and_a_retry(env):
    table, sqs = env
    table.items[tuple(endpoint_key(TENANT, ENDPOINT).values())]["url"] = "https://10.0.0.8/hook"
    receiver = Receiver(200)
    result = deliver(body(), table=table, sqs=sqs, post=receiver, now=T0)
    assert (result.outcome, result.reason, receiver.got) == (Outcome.RETRY, "address_refused", [])


def test_given_a_deleted_endpoint_then_dropped_without_a_post(env):
    table, sqs = env
    table.items.clear()
    receiver = Receiver(200)
    result = deliver(body(), table=table, sqs=sqs, post=receiver, now=T0)
    assert (result.outcome, result.reason, receiver.got, sqs.sent) == (Outcome.DROPPED, "endpoint_deleted", [], [])
