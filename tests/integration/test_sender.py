"""The sender against moto and the provider sandbox over HTTP: exactly-once sends, retries,
failures with reasons, ambiguous answers."""

from __future__ import annotations

import json

import pytest

from tamtam.messaging.reports import apply_report
from tamtam.observability import FAILURE_METRIC
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.lambdas import event, invoke


def body(msg, lane="tx"):
    return {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": msg.provider, "lane": lane}


def failures_counted(capsys) -> list[tuple[str, str]]:
    """(Provider, Reason) of each MessagesFailed EMF document written since the last read."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    documents = [json.loads(line) for line in lines]
    return [(d["Provider"], d["Reason"]) for d in documents if "_aws" in d and FAILURE_METRIC in d]


def test_given_the_events_file_when_the_sender_runs_then_the_message_is_sent_through_passeinfo(provisioned, sandbox):
    seed.message(message_id=seed.EVENTS_MESSAGE)
    result = invoke("sender", event("sender/passeinfo_tx"))
    assert result == {"batchItemFailures": []}
    stored = messages.get(seed.table(), seed.EVENTS_MESSAGE)
    assert stored.status == Status.SENT
    assert stored.provider_message_id
    assert [h.status for h in stored.history] == ["queued", "sending", "sent"]
    outbox = sandbox.sandbox.outbox_items(provider="passeinfo")
    assert [(o["to"], o["text"]) for o in outbox] == [("+224622000001", "Hello")]


def test_given_a_record_delivered_twice_when_the_sender_runs_then_the_provider_is_called_once(provisioned, sandbox):
    msg = seed.message(provider="smsgate")
    twice = seed.sqs_event([body(msg), body(msg)])
    failures = invoke("sender", twice)["batchItemFailures"]
    assert len(failures) <= 1  # the copy that met the claim in flight comes back later
    again = invoke("sender", seed.sqs_event([body(msg)]))
    assert again == {"batchItemFailures": []}
    assert len(sandbox.sandbox.outbox_items(provider="smsgate")) == 1
    assert messages.get(seed.table(), msg.id).status == Status.SENT


def test_given_a_batch_of_ten_when_the_sender_runs_then_all_are_sent_once(provisioned, sandbox):
    batch = [seed.message(to=f"+22462200{i:04d}", text=f"n{i}", provider="passeinfo") for i in range(10)]
    assert invoke("sender", seed.sqs_event([body(m) for m in batch])) == {"batchItemFailures": []}
    assert {m.id: messages.get(seed.table(), m.id).status for m in batch} == {m.id: "sent" for m in batch}
    assert sorted(o["text"] for o in sandbox.sandbox.outbox_items()) == sorted(f"n{i}" for i in range(10))


def test_given_a_provider_answering_503_then_the_record_is_retried_and_the_claim_released(provisioned, sandbox):
    from local.sandbox.core import Fault

    msg = seed.message(provider="passeinfo")
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="error", status=503))
    result = invoke("sender", seed.sqs_event([body(msg)]))
    assert result == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.QUEUED
    assert stored.attempts[-1].outcome == "retry" and stored.attempts[-1].reason == "provider_unavailable"
    assert sandbox.sandbox.outbox_items() == []


def test_given_a_pinned_provider_that_keeps_failing_then_the_message_ends_failed_with_the_reason(provisioned, sandbox):
    from local.sandbox.core import Fault

    msg = seed.message(provider="passeinfo")
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="error", status=503))
    for _ in range(4):
        invoke("sender", seed.sqs_event([body(msg)]))
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.FAILED
    assert stored.reason == "provider_unavailable"
    assert [a.outcome for a in stored.attempts] == ["retry", "retry", "retry", "failed"]


def test_given_an_invalid_number_answer_then_the_message_fails_without_failover(provisioned, sandbox):
    from local.sandbox.core import Fault

    msg = seed.message()  # route passeinfo -> messagepro -> smsgate
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="reject", reason="invalid_number"))
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.reason, stored.provider) == ("failed", "invalid_number", "passeinfo")


def test_given_a_lost_answer_at_passeinfo_then_the_message_is_unconfirmed_and_never_resent(provisioned, sandbox):
    from local.sandbox.core import Fault

    msg = seed.message(provider="passeinfo", message_id="msg_timeout000000000000000001")
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="drop"))
    invoke("sender", seed.sqs_event([body(msg)]))
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.UNCONFIRMED
    sandbox.sandbox.clear_faults()
    invoke("sender", seed.sqs_event([body(msg)]))
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 1


def test_given_a_lost_answer_at_smsgate_then_the_retry_is_refused_as_duplicate_and_counts_as_sent(provisioned, sandbox):
    from local.sandbox.core import Fault

    msg = seed.message(provider="smsgate")
    sandbox.sandbox.set_fault("smsgate", Fault(mode="drop", times=1, match="/messages"))
    first = invoke("sender", seed.sqs_event([body(msg)]))
    assert first == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}
    assert messages.get(seed.table(), msg.id).status == Status.QUEUED
    invoke("sender", seed.sqs_event([body(msg)]))
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.SENT
    assert [a.outcome for a in stored.attempts] == ["ambiguous", "duplicate"]
    assert len(sandbox.sandbox.outbox_items(provider="smsgate")) == 1


@pytest.mark.parametrize(("status", "expected", "reason"),
                         [("queued", "failed", "retries_exhausted"), ("sending", "failed", "retries_exhausted"),
                          ("dispatched", "unconfirmed", "sender_interrupted")])
def test_given_a_dead_letter_when_the_finalizer_runs_then_the_message_is_final(
    provisioned, capsys, status, expected, reason
):
    """A `sending` record without a dispatch mark was certainly not sent: `failed`; with one,
    the provider may have it: `unconfirmed`."""
    msg = seed.message(message_id=seed.EVENTS_MESSAGE)
    if status in ("sending", "dispatched"):
        claimed = messages.transition(seed.table(), msg.id, Status.SENDING, expect={Status.QUEUED},
                                      fields={"claim_at": 1.5})
        if status == "dispatched":
            assert messages.mark_dispatched(seed.table(), msg.id, claim_at=claimed.claim_at)
    capsys.readouterr()
    invoke("finalizer", event("finalizer/dead_letter"))
    assert messages.get(seed.table(), msg.id).status == expected
    assert failures_counted(capsys) == [(msg.provider, reason)]


# -- the failure metric (MessagesFailed by Provider and Reason: the dashboard's graph) ----------


def test_given_a_message_failing_at_its_provider_then_one_failure_is_counted_with_provider_and_reason(
    provisioned, sandbox, capsys
):
    from local.sandbox.core import Fault

    msg = seed.message()
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="reject", reason="invalid_number"))
    capsys.readouterr()
    invoke("sender", seed.sqs_event([body(msg)]))
    assert messages.get(seed.table(), msg.id).status == Status.FAILED
    assert failures_counted(capsys) == [("passeinfo", "invalid_number")]


def test_given_a_failover_then_a_send_then_no_failure_is_counted(provisioned, sandbox, capsys):
    from local.sandbox.core import Fault

    msg = seed.message()  # route passeinfo -> messagepro -> smsgate
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="reject", reason="insufficient_credit"))
    capsys.readouterr()
    invoke("sender", seed.sqs_event([body(msg)]))
    moved = messages.get(seed.table(), msg.id)
    assert (moved.status, moved.provider) == (Status.QUEUED, "messagepro")
    invoke("sender", seed.sqs_event([body(moved)]))
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    assert failures_counted(capsys) == []


def test_given_an_unconfirmed_message_later_reported_failed_then_it_is_counted_once(provisioned, sandbox, capsys):
    from local.sandbox.core import Fault

    msg = seed.message(provider="passeinfo")
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="drop"))
    capsys.readouterr()
    invoke("sender", seed.sqs_event([body(msg)]))
    unconfirmed = messages.get(seed.table(), msg.id)
    assert unconfirmed.status == Status.UNCONFIRMED
    apply_report(seed.table(), msg.id, Status.FAILED, provider="passeinfo", raw_status="failed", reason="rejected")
    assert messages.get(seed.table(), msg.id).status == Status.FAILED
    assert failures_counted(capsys) == [("passeinfo", unconfirmed.reason)]


def test_given_a_provider_failing_repeatedly_then_its_breaker_opens_and_messages_fail_over(
    provisioned, sandbox, monkeypatch
):
    from local.sandbox.core import Fault
    from tamtam import health

    sandbox.sandbox.set_fault("passeinfo", Fault(mode="error", status=503))
    failing = [seed.message() for _ in range(5)]
    invoke("sender", seed.sqs_event([body(m) for m in failing]))
    assert health.is_open(seed.table(), "passeinfo")
    fresh = seed.message()
    invoke("sender", seed.sqs_event([body(fresh)]))
    stored = messages.get(seed.table(), fresh.id)
    assert stored.provider == "messagepro" and stored.status == Status.QUEUED
    assert stored.attempts[-1].provider == "passeinfo" and stored.attempts[-1].outcome == "failed"
    assert sandbox.sandbox.outbox_items() == []
