"""Status callbacks end to end on the local stack: a receiver on 127.0.0.1 (the stack allows
loopback receivers, AWS does not) that this test starts and stops, signatures checked with the
README's own code, retries with a one-second backoff base, and URLs to private or link-local
addresses refused."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tamtam.callbacks.settings import reset_callback_settings
from tests.callback_receiver import Receiver, readme_verify
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def fast_retries(stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries a second apart, doubling (the schedule is a setting; AWS keeps 30 s)."""
    monkeypatch.setenv("CALLBACK_BACKOFF_BASE_SECONDS", "1")
    reset_callback_settings()
    yield
    monkeypatch.undo()
    reset_callback_settings()


@pytest.fixture
def endpoint(stack, api, tenant_key) -> Iterator[Callable[..., dict]]:
    """Creates webhook endpoints for a tenant; at the end deletes them and waits until the
    deliveries still queued for them have been dropped, so no later test finds them in flight."""
    made: list[tuple[str, str]] = []

    def create(key: str, url: str, types: list[str]) -> dict:
        answer = api("POST", "/v1/webhook-endpoints", key, json={"url": url, "event_types": types})
        assert answer.status_code == 201, answer.text
        made.append((key, answer.json()["id"]))
        return answer.json()

    yield create
    for key, endpoint_id in made:
        api("DELETE", f"/v1/webhook-endpoints/{endpoint_id}", key)
    stack.drain(timeout=90)  # a retry waits out its backoff, finds the endpoint deleted, is dropped


def test_given_a_loopback_receiver_then_signed_sent_and_delivered_of_an_smsgate_message(stack, api, tenant_key,
                                                                                          endpoint):
    key = tenant_key("callbacks-smsgate")
    stack.sandbox.configure("smsgate", sent_after=0, delivered_after=0.2)
    verify = readme_verify()
    with Receiver(200) as receiver:
        created = endpoint(key, receiver.url, ["message.sent", "message.delivered"])
        accepted = api("POST", "/v1/messages", key, json={"to": "+224622000301", "text": "call me back",
                                                          "provider": "smsgate", "reference": "order-77"}).json()
        got = wait_for(lambda: len(receiver.events(accepted["id"])) >= 2 and receiver.got, timeout=40, interval=0.2)
    once = {r.event["id"]: r for r in got if r.event["message_id"] == accepted["id"]}  # at least once: dedupe on id
    mine = sorted(once.values(), key=lambda r: r.event["sequence"])
    assert [(r.event["type"], r.event["status"]) for r in mine] == [("message.sent", "sent"),
                                                                    ("message.delivered", "delivered")]
    for received in mine:
        assert verify(created["secret"], received.headers["tamtam-signature"], received.body)
        assert not verify(created["secret"], received.headers["tamtam-signature"], received.body + b" ")
        event = received.event
        assert event["id"] == f"{accepted['id']}:{event['sequence']}" == received.headers["tamtam-event-id"]
        assert (event["provider"], event["reference"], event["batch_id"]) == ("smsgate", "order-77", None)
    assert mine[1].event["final"] is True and mine[0].event["sequence"] < mine[1].event["sequence"]


def test_given_a_receiver_answering_500_twice_then_the_same_event_a_third_time_and_nothing_more(
        stack, api, tenant_key, fast_retries, endpoint):
    key = tenant_key("callbacks-retries")
    with Receiver(500, 500, 200) as receiver:
        endpoint(key, receiver.url, ["message.sent"])
        accepted = api("POST", "/v1/messages", key, json={"to": "+224622000302", "text": "retry me"}).json()
        wait_for(lambda: len(receiver.got) >= 3, timeout=40, interval=0.2)
        time.sleep(8)  # a fourth attempt would have come after 4 s (1, 2, 4 s: the base is 1 s)
    assert len(receiver.got) == 3
    assert {r.event["id"] for r in receiver.got} == {f"{accepted['id']}:2"}
    gaps = [later.at - earlier.at for earlier, later in zip(receiver.got, receiver.got[1:], strict=False)]
    assert gaps[0] >= 0.7 and gaps[1] >= 1.4  # backoff: about 1 s, then about 2 s


@pytest.mark.parametrize("url", ["https://10.0.0.1/hook", "https://172.16.0.1/hook", "https://192.168.1.20/hook",
                                 "https://169.254.169.254/latest/meta-data/", "http://169.254.169.254/",
                                 "https://[fe80::1]/hook", "https://[fd00::1]/hook", "http://10.1.2.3:8080/hook"])
def test_given_a_callback_url_to_a_private_or_link_local_address_then_422(api, tenant_key, url):
    key = tenant_key("callbacks-refused")
    assert api("POST", "/v1/callback-secret", key).status_code == 200
    created = api("POST", "/v1/webhook-endpoints", key, json={"url": url, "event_types": ["message.sent"]})
    sent = api("POST", "/v1/messages", key, json={"to": "+224622000303", "text": "x", "callback_url": url})
    assert (created.status_code, created.json()["error"]["code"]) == (422, "invalid_callback_url")
    assert (sent.status_code, sent.json()["error"]["code"]) == (422, "invalid_callback_url")
    assert api("GET", "/v1/webhook-endpoints", key).json() == {"items": []}


def test_given_a_receiver_that_hangs_then_sending_is_not_slowed(stack, api, tenant_key, fast_retries, endpoint):
    key = tenant_key("callbacks-slow")
    with Receiver(200, delay=15) as receiver:  # answers after the 10 s timeout
        endpoint(key, receiver.url, ["message.queued", "message.sending", "message.sent"])
        started = time.monotonic()
        ids = [api("POST", "/v1/messages", key, json={"to": f"+22462200031{i}", "text": "fast"}).json()["id"]
               for i in range(3)]

        def all_sent() -> bool:
            return all(api("GET", f"/v1/messages/{i}", key).json()["status"] == "sent" for i in ids)

        wait_for(all_sent, timeout=8, interval=0.2)
        took = time.monotonic() - started
        wait_for(lambda: receiver.got, timeout=10)  # the receiver was being called meanwhile
    assert took < 8
