"""The status poller against moto and the provider sandbox: messages sent through the sender
become delivered/failed once their provider says so, old ones expire, work per run is bounded."""

from __future__ import annotations

import time

import pytest

from tamtam import clock
from tamtam.messaging.accept import SendRequest, build_message
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.lambdas import event, invoke


def body(msg) -> dict:
    return {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": msg.provider, "lane": "tx"}


def send(provider: str = "passeinfo", to: str = "+224622000001"):
    msg = seed.message(to=to, provider=provider)
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    return msg


def poll(**inputs) -> dict[str, int]:
    return invoke("status_poller", {**event("status_poller/scheduled"), **inputs})


def later(sandbox, seconds: float) -> None:
    """Make the provider sandbox's time pass."""
    sandbox.sandbox.clock = lambda: time.time() + seconds


def test_given_a_passeinfo_message_when_passeinfo_reports_it_delivered_then_the_poller_delivers_it(
    provisioned, sandbox
):
    sandbox.sandbox.sims["passeinfo"].configure({"delivered_after": 600.0})
    msg = send()
    first = poll()
    assert (first["considered"], first["unchanged"]) == (1, 1)
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    later(sandbox, 601)
    second = poll()
    assert second["delivered"] == 1
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.DELIVERED
    assert (stored.attempts[-1].outcome, stored.attempts[-1].raw_status) == ("report", "delivered")
    assert poll()["considered"] == 0  # no longer in `sent`


def test_given_passeinfo_reports_a_failure_then_the_message_fails_with_the_raw_text(provisioned, sandbox):
    sandbox.sandbox.sims["passeinfo"].configure(
        {"delivered_after": 0.0, "final_status": "failed", "failure_message": "Handset unreachable"}
    )
    msg = send()
    assert poll()["failed"] == 1
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.reason) == ("failed", "rejected")
    assert (stored.attempts[-1].raw_status, stored.attempts[-1].raw_text) == ("failed", "Handset unreachable")


def test_given_messages_at_three_polled_providers_then_one_run_asks_them_all(provisioned, sandbox):
    sent = [send("passeinfo"), send("messagepro"), send("smsgate")]
    later(sandbox, 30)  # Message Pro: queued -> sent -> delivered, one status_delay apart
    summary = poll(concurrency=3)
    assert summary["delivered"] == 3
    assert {messages.get(seed.table(), m.id).status for m in sent} == {"delivered"}


def test_given_a_message_sent_before_the_window_then_it_expires_without_asking(provisioned, sandbox, monkeypatch):
    real_now = clock.now
    old = seed.message(provider="passeinfo")
    monkeypatch.setattr(clock, "now", lambda: real_now() - 73 * 3600)
    messages.transition(seed.table(), old.id, Status.SENDING, expect={Status.QUEUED})
    messages.transition(
        seed.table(), old.id, Status.SENT, expect={Status.SENDING}, fields={"provider_message_id": "gone"}
    )
    monkeypatch.setattr(clock, "now", real_now)
    sandbox.sandbox.sims["passeinfo"].configure({"delivered_after": 600.0})
    fresh = send()
    summary = poll()
    assert (summary["expired"], summary["considered"]) == (1, 1)
    stored = messages.get(seed.table(), old.id)
    assert (stored.status, stored.reason) == ("expired", "no_final_report")
    assert messages.get(seed.table(), fresh.id).status == Status.SENT


def test_given_a_shorter_window_in_the_schedule_input_then_it_applies(provisioned, sandbox):
    sandbox.sandbox.sims["passeinfo"].configure({"delivered_after": 600.0})
    msg = send()
    time.sleep(0.01)
    assert poll(window_hours=0.000001)["expired"] == 1
    assert messages.get(seed.table(), msg.id).status == Status.EXPIRED


def test_given_more_sent_messages_than_one_run_takes_then_the_next_run_continues_where_it_stopped(provisioned, sandbox):
    sandbox.sandbox.sims["passeinfo"].configure({"delivered_after": 600.0})
    sent = [send(to=f"+22462200000{i}") for i in range(3)]
    first = poll(max_messages=2)  # the two oldest, still pending at PasseInfo
    assert (first["considered"], first["unchanged"]) == (2, 2)
    later(sandbox, 601)
    second = poll(max_messages=2)  # resumes after them: only the newest is asked about
    assert (second["considered"], second["delivered"]) == (1, 1)
    status = {m.id: messages.get(seed.table(), m.id).status for m in sent}
    assert status == {sent[0].id: "sent", sent[1].id: "sent", sent[2].id: "delivered"}
    third = poll(max_messages=2)  # reached the newest last time: starts over from the oldest
    assert (third["considered"], third["delivered"]) == (2, 2)
    assert poll(max_messages=2)["considered"] == 0


def test_given_a_provider_that_answers_no_status_queries_then_its_messages_wait(provisioned, sandbox):
    msg = seed.message(to="+33612345678", provider="flowsms")
    messages.transition(seed.table(), msg.id, Status.SENDING, expect={Status.QUEUED})
    messages.transition(
        seed.table(), msg.id, Status.SENT, expect={Status.SENDING}, fields={"provider_message_id": "f1"}
    )
    summary = poll()
    assert (summary["considered"], summary["not_asked"]) == (1, 1)
    assert messages.get(seed.table(), msg.id).status == Status.SENT


def test_given_a_provider_error_then_the_message_stays_sent_and_the_run_goes_on(provisioned, sandbox):
    from local.sandbox.core import Fault

    sandbox.sandbox.sims["passeinfo"].configure({"delivered_after": 0.0})
    failing, fine = send("passeinfo"), send("smsgate")
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="error", status=503))
    summary = poll()
    assert (summary["error"], summary["delivered"]) == (1, 1)
    assert messages.get(seed.table(), failing.id).status == Status.SENT
    assert messages.get(seed.table(), fine.id).status == Status.DELIVERED


@pytest.mark.parametrize("bad", [{"window_hours": 0}, {"max_messages": 0}, {"concurrency": 500}])
def test_given_an_invalid_schedule_input_then_the_run_fails_and_changes_nothing(provisioned, sandbox, bad):
    from local.stack.invoker import FunctionError

    sandbox.sandbox.sims["passeinfo"].configure({"delivered_after": 0.0})
    msg = send()
    with pytest.raises(FunctionError):
        poll(**bad)
    assert messages.get(seed.table(), msg.id).status == Status.SENT


@pytest.mark.parametrize(("provider", "to"), [("flowsms", "+33612345678"), ("ventis", "+24106123456")])
def test_given_a_message_through_a_provider_without_reports_then_sent_is_final_and_never_expires(
    provisioned, sandbox, provider, to
):
    msg = seed.message(to=to, provider=provider)
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.reason) == (Status.SENT, "no_delivery_report")
    assert stored.history[-1].reason == "no_delivery_report"
    time.sleep(0.01)
    summary = poll(window_hours=0.000001)  # every message `sent` before now is past the window
    assert (summary["expired"], summary["considered"]) == (0, 0)
    assert messages.get(seed.table(), msg.id).status == Status.SENT


def test_given_an_old_zender_answering_no_message_id_then_sent_is_final(provisioned, sandbox):
    sandbox.sandbox.sims["messagepro"].configure({"return_message_id": False})
    msg = seed.message(provider="messagepro")
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.reason, stored.provider_message_id) == (Status.SENT, "no_delivery_report", None)
    time.sleep(0.01)
    assert poll(window_hours=0.000001)["expired"] == 0



def test_given_a_message_pro_whatsapp_chat_then_sent_is_final_once_zender_says_sent(provisioned, sandbox):
    """Zender reports no delivery for WhatsApp (pending, queued, sent, failed): once a chat is
    `sent` nothing more will come, so it ends `sent` for good instead of expiring."""
    msg = build_message(SendRequest(to="+224622000001", text="Hello", provider="messagepro", channel="whatsapp"),
                        seed.EVENTS_TENANT)
    messages.put_new(seed.table(), msg)
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    later(sandbox, 60)
    assert poll()["final_sent"] == 1
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.reason, stored.attempts[-1].raw_status) == (Status.SENT, "no_delivery_report", "sent")
    time.sleep(0.01)
    assert poll(window_hours=0.000001)["expired"] == 0
