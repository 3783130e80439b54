"""Bulk recipients of one text share a provider request where the provider takes lists and
still answers or reports each recipient (SMSGate `phoneNumbers`, FLOW SMS `phone_numbers`):
each is still claimed, recorded and reported on its own, and nothing is sent twice when a queue
delivers again or an answer is lost."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from local.sandbox.core import Fault
from tamtam.messaging import lists
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, fan_out, send_all
from tests.integration.lambdas import event, invoke
from tests.integration.test_webhooks import signed

NUMBERS = [f"+22462200{i:04d}" for i in range(10)]


@pytest.fixture(autouse=True)
def patient_gather(monkeypatch: pytest.MonkeyPatch) -> None:
    """A round closes as soon as every record of the batch has joined; the window only bounds
    the wait for stragglers. Here claims go through one in-process moto, slower under load than
    DynamoDB: a longer window keeps the grouping independent of this machine's load."""
    monkeypatch.setattr(lists, "GATHER_SECONDS", 5.0)


def _bulk(body: dict) -> str:
    status, accepted = api("POST", "/v1/messages/bulk", {"provider": "smsgate", **body})
    assert status == 202, accepted
    return accepted["batch_id"]


def _records(batch_id: str) -> list:
    _, page = api("GET", f"/v1/batches/{batch_id}/messages", query={"limit": "100"})
    return [messages.get(seed.table(), m["id"]) for m in page["items"]]


def _requests(sandbox) -> Counter:
    """SMSGate requests that reached the sandbox: message id -> recipients."""
    return Counter(o["provider_message_id"] for o in sandbox.sandbox.outbox_items(provider="smsgate"))


def test_given_a_bulk_of_one_text_then_one_smsgate_request_carries_every_recipient(provisioned, sandbox):
    batch_id = _bulk({"to": NUMBERS, "text": "one request"})
    fan_out(batch_id)
    assert send_all() == 10
    requests = _requests(sandbox)
    assert list(requests.values()) == [10], requests
    list_id = next(iter(requests))
    records = _records(batch_id)
    assert {(r.status, r.list_id, r.provider_message_id) for r in records} == {(Status.SENT, list_id, list_id)}
    assert sorted(r.to for r in records) == NUMBERS
    assert all(len(r.history) and r.history[-1].status == Status.SENT for r in records)


def test_given_recipients_with_their_own_text_then_one_request_per_text(provisioned, sandbox):
    recipients = [{"to": n, "vars": {"name": "Awa" if i % 2 else "Ibrahima"}} for i, n in enumerate(NUMBERS[:6])]
    batch_id = _bulk({"recipients": recipients, "text": "Bonjour {{name}}"})
    fan_out(batch_id)
    send_all()
    texts = Counter((o["provider_message_id"], o["text"]) for o in sandbox.sandbox.outbox_items(provider="smsgate"))
    assert sorted(texts.values()) == [3, 3] and len({t for _, t in texts}) == 2


def test_given_the_same_records_delivered_again_then_nothing_is_sent_twice(provisioned, sandbox):
    batch_id = _bulk({"to": NUMBERS[:5], "text": "once"})
    fan_out(batch_id)
    bodies = drain("smsgate-bulk")
    assert len(bodies) == 5
    for _ in range(3):  # SQS delivers the same batch again
        invoke("sender", seed.sqs_event(bodies))
    assert sum(_requests(sandbox).values()) == 5
    assert {r.status for r in _records(batch_id)} == {Status.SENT}


def test_given_the_list_answer_lost_then_each_is_asked_again_under_the_list_id_and_sent_once(provisioned, sandbox):
    batch_id = _bulk({"to": NUMBERS[:4], "text": "answer lost"})
    fan_out(batch_id)
    bodies = drain("smsgate-bulk")
    sandbox.sandbox.set_fault("smsgate", Fault(mode="drop", times=1, match="/messages"))  # taken, then no answer
    invoke("sender", seed.sqs_event(bodies))
    assert sum(_requests(sandbox).values()) == 4
    records = _records(batch_id)
    assert {r.status for r in records} == {Status.QUEUED}  # certainly taken or not: asked again
    invoke("sender", seed.sqs_event(bodies))
    records = _records(batch_id)
    assert {r.status for r in records} == {Status.SENT}
    assert [a.outcome for a in records[0].attempts][-1] == "duplicate"  # SMSGate answered 409: it held them
    assert sum(_requests(sandbox).values()) == 4  # never a second request that went out


def test_given_a_list_request_that_never_arrived_then_each_recipient_is_sent_exactly_once(provisioned, sandbox):
    """Each recipient's resend names the list's id; the first one SMSGate takes holds that id,
    so the others' 409 must not be read as "the list went out": they go under their own ids."""
    batch_id = _bulk({"to": NUMBERS[:4], "text": "never arrived"})
    fan_out(batch_id)
    bodies = drain("smsgate-bulk")
    sandbox.sandbox.set_fault("smsgate", Fault(mode="timeout", delay=1.0, times=1, match="/messages"))
    invoke("sender", seed.sqs_event(bodies))
    assert _requests(sandbox) == Counter()  # nothing was taken
    assert {r.status for r in _records(batch_id)} == {Status.QUEUED}
    invoke("sender", seed.sqs_event(bodies))
    records = _records(batch_id)
    assert {r.status for r in records} == {Status.SENT}
    outbox = sandbox.sandbox.outbox_items(provider="smsgate")
    assert sorted(o["to"] for o in outbox) == sorted(NUMBERS[:4])  # each exactly once
    assert all(len(r.provider_message_id) <= 36 for r in records)


def test_given_a_number_the_device_refuses_then_the_others_go_on_their_own(provisioned, sandbox):
    batch_id = _bulk({"to": NUMBERS[:3], "text": "one bad number"})
    fan_out(batch_id)
    sandbox.sandbox.set_fault("smsgate", Fault(mode="reject", reason="invalid_number", times=1))
    send_all()
    requests = _requests(sandbox)
    assert sorted(requests.values()) == [1, 1, 1]  # the list refused as a whole: each alone
    assert {r.status for r in _records(batch_id)} == {Status.SENT}


def test_given_a_list_request_then_each_recipient_is_reported_on_its_own(provisioned, sandbox):
    sandbox.sandbox.sims["smsgate"].configure({"sent_after": 0.0, "delivered_after": 0.0})
    batch_id = _bulk({"to": NUMBERS[:3], "text": "report each"})
    fan_out(batch_id)
    send_all()
    summary = invoke("status_poller", event("status_poller/scheduled"))
    assert summary["delivered"] == 3, summary
    assert {r.status for r in _records(batch_id)} == {Status.DELIVERED}


def test_given_a_webhook_naming_the_list_and_a_number_then_that_recipient_moves(provisioned, sandbox):
    batch_id = _bulk({"to": NUMBERS[:3], "text": "webhook each"})
    fan_out(batch_id)
    send_all()
    records = _records(batch_id)
    target, other = records[1], records[2]
    payload = {"messageId": target.list_id, "phoneNumber": target.to, "deliveredAt": "2026-12-07T10:00:00+00:00"}
    answer = invoke("webhooks", signed("sms:delivered", payload))
    assert (answer["statusCode"], json.loads(answer["body"])["message_id"]) == (200, target.id), answer
    payload = {"messageId": other.list_id, "recipient": other.to, "failedAt": "2026-12-07T10:00:00+00:00",
               "reason": "RESULT_ERROR_GENERIC_FAILURE"}
    assert invoke("webhooks", signed("sms:failed", payload))["statusCode"] == 200
    status = {r.id: r.status for r in _records(batch_id)}
    assert status == {records[0].id: Status.SENT, target.id: Status.DELIVERED, other.id: Status.FAILED}


FLOW_NUMBERS = [f"+3361234{i:04d}" for i in range(10)]


def test_given_a_bulk_through_flow_then_one_request_and_each_recipient_final_with_its_own_id(provisioned, sandbox):
    status, accepted = api(
        "POST", "/v1/messages/bulk", {"to": FLOW_NUMBERS, "text": "flow list", "provider": "flowsms"}
    )
    assert status == 202, accepted
    fan_out(accepted["batch_id"])
    assert send_all() == 10
    outbox = sandbox.sandbox.outbox_items(provider="flowsms")
    assert len({o["request"] for o in outbox}) == 1 and len(outbox) == 10
    records = _records(accepted["batch_id"])
    by_number = {o["to"]: o["provider_message_id"] for o in outbox}
    assert {(r.status, r.reason) for r in records} == {(Status.SENT, "no_delivery_report")}
    assert all(r.provider_message_id == by_number[r.to] for r in records)  # each its own item


def test_given_flow_refusing_one_number_of_a_list_then_the_others_go_on_their_own(provisioned, sandbox):
    _status, accepted = api("POST", "/v1/messages/bulk", {"to": FLOW_NUMBERS[:3], "text": "flow bad number",
                                                          "provider": "flowsms"})
    fan_out(accepted["batch_id"])
    sandbox.sandbox.set_fault("flowsms", Fault(mode="reject", reason="invalid_number", times=1, match="send-sms"))
    send_all()
    outbox = sandbox.sandbox.outbox_items(provider="flowsms")
    assert len(outbox) == 3 and len({o["request"] for o in outbox}) == 3
    assert {r.status for r in _records(accepted["batch_id"])} == {Status.SENT}
