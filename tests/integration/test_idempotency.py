"""`Idempotency-Key` on the API's POST routes, against moto: a retry gets the first answer and
sends nothing twice; the key is per tenant; another request with the key is refused; a first
request still running blocks the key (checked from a second process, as a second Lambda
instance would)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from tamtam import aws
from tamtam.settings import get_settings
from tests.integration import seed
from tests.integration.lambdas import event, invoke

ROOT = Path(__file__).resolve().parents[2]
BODY = {"to": "+224622000001", "text": "Your order shipped"}


def send(body: dict | str, key: str | None, *, tenant: str = seed.EVENTS_TENANT) -> tuple[int, dict, dict]:
    ev = event("api/send_message")
    ev["body"] = body if isinstance(body, str) else json.dumps(body)
    if key is not None:
        ev["headers"]["Idempotency-Key"] = key
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant
    answer = invoke("api", ev)
    headers = {
        **(answer.get("headers") or {}),
        **{k: v[-1] for k, v in (answer.get("multiValueHeaders") or {}).items()},
    }
    return answer["statusCode"], json.loads(answer["body"]), headers


def stored_messages() -> list[dict]:
    items = aws.table(get_settings().table_name).scan()["Items"]
    return [i for i in items if i["sk"] == "MSG"]


def test_given_the_same_key_and_body_twice_then_one_message_and_the_same_answer(provisioned):
    first = send(BODY, "order-1001")
    # the same JSON, written differently, is the same request
    again = send('{"text": "Your order shipped",   "to": "+224622000001"}', "order-1001")
    assert first[0] == again[0] == 202
    assert again[1] == first[1]
    assert again[2].get("Idempotency-Replayed") == "true" and "Idempotency-Replayed" not in first[2]
    assert [m["id"] for m in stored_messages()] == [first[1]["id"]]


def test_given_a_key_reused_for_another_body_then_422_and_nothing_sent(provisioned):
    send(BODY, "order-1002")
    status, body, _ = send({**BODY, "text": "Another text"}, "order-1002")
    assert status == 422
    assert body == {
        "error": {"code": "idempotency_key_reused", "message": body["error"]["message"], "field": "Idempotency-Key"}
    }
    assert len(stored_messages()) == 1


def test_given_two_tenants_with_the_same_key_then_each_gets_its_own_message(provisioned):
    mine = send(BODY, "shared-key", tenant="ten_first0000000000000000000")
    theirs = send({**BODY, "text": "Another text"}, "shared-key", tenant="ten_second000000000000000000")
    assert mine[0] == theirs[0] == 202
    assert mine[1]["id"] != theirs[1]["id"]
    assert len(stored_messages()) == 2


def test_given_no_key_then_each_post_is_a_new_message(provisioned):
    assert send(BODY, None)[1]["id"] != send(BODY, None)[1]["id"]
    assert len(stored_messages()) == 2


def test_given_an_invalid_key_then_422_in_the_error_shape(provisioned):
    status, body, _ = send(BODY, "has spaces in it")
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        422,
        "invalid_idempotency_key",
        "Idempotency-Key",
    )
    assert stored_messages() == []


def test_given_a_first_attempt_that_failed_with_503_then_the_same_key_may_be_retried(provisioned, monkeypatch):
    from tamtam.settings import reset_settings

    urls = dict(get_settings().queue_urls)
    monkeypatch.setenv("QUEUE_URLS", json.dumps({**urls, "passeinfo-tx": urls["passeinfo-tx"] + "-missing"}))
    reset_settings()
    assert send(BODY, "order-1003")[0] == 503
    monkeypatch.setenv("QUEUE_URLS", json.dumps(urls))
    reset_settings()
    status, body, _ = send(BODY, "order-1003")
    assert status == 202 and body["status"] == "queued"


def _send_from_another_process(key: str) -> tuple[int, dict]:
    """The same request from a second Python process (a second Lambda instance)."""
    ev = event("api/send_message")
    ev["body"] = json.dumps(BODY)
    ev["headers"]["Idempotency-Key"] = key
    code = (
        "import json, sys\n"
        "from tests.integration.lambdas import invoke\n"
        "answer = invoke('api', json.loads(sys.stdin.read()))\n"
        "print(json.dumps({'status': answer['statusCode'], 'body': json.loads(answer['body'])}))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(ev), capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return answer["status"], answer["body"]


def test_given_a_first_request_still_in_flight_then_409_and_afterwards_its_answer(provisioned, monkeypatch):
    from tamtam import queues

    entered, release = threading.Event(), threading.Event()
    real_send = queues.send

    def slow_send(*args, **kwargs):
        entered.set()
        assert release.wait(30)
        return real_send(*args, **kwargs)

    monkeypatch.setattr(queues, "send", slow_send)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(send(BODY, "order-1004")))
    worker.start()
    try:
        assert entered.wait(30)
        status, body = _send_from_another_process("order-1004")
    finally:
        release.set()
        worker.join(30)
    assert (status, body["error"]["code"], body["error"]["field"]) == (409, "request_in_flight", "Idempotency-Key")
    assert first[0][0] == 202
    replay = send(BODY, "order-1004")
    assert replay[:2] == first[0][:2]
    assert len(stored_messages()) == 1


def test_given_a_get_with_the_header_then_it_takes_no_key(provisioned):
    read = event("api/get_message")
    read["headers"]["Idempotency-Key"] = "ignored-on-get"
    assert invoke("api", read)["statusCode"] == 404  # a plain read: no key taken
    items = aws.table(get_settings().table_name).scan()["Items"]
    assert not [i for i in items if str(i["pk"]).startswith("IDEMPOTENCY#")]
