"""No orphan records (issue 11): the api and the scheduler put a message on its queue before
they write its record `queued`, so a crash in between leaves a spare queue message (waited for
a little, then dropped by the sender), never a `queued` record that nothing will send. Against
moto and the provider sandbox over HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from local.stack.invoker import FunctionError
from tamtam import aws, clock, failpoints
from tamtam.bulk import sqs_batch
from tamtam.messaging import accept
from tamtam.messaging.accept import SendRequest, accept_message
from tamtam.queue_bodies import QueueBody
from tamtam.queues import TX
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain_all
from tests.integration.lambdas import event, invoke

DIED = (failpoints.Killed, FunctionError)  # the invoker reports a killed invocation as Runtime.ExitError
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def killed() -> list[str]:
    """Ids of the messages whose invocation died (a queue may also hold a delayed message of an
    earlier test: each test looks at its own)."""
    return []


@pytest.fixture
def kill_at(killed):
    def install(point: str) -> None:
        def handler(name: str, context: dict[str, Any]) -> None:
            if name == point and not killed:
                killed.append(context["message_id"])
                raise failpoints.Killed(name)

        failpoints.install(handler)

    yield install
    failpoints.uninstall()


def sqs_event(bodies: list[dict], *, age: float) -> dict:
    """The sender's event for `bodies`, sent `age` seconds ago."""
    ev = seed.sqs_event(bodies)
    for record in ev["Records"]:
        record["attributes"]["SentTimestamp"] = str(int((time.time() - age) * 1000))
    return ev


def queued_records() -> list[dict]:
    return [i for i in seed.table().scan()["Items"] if i.get("sk") == "MSG" and i.get("status") == Status.QUEUED]


# -- the api -------------------------------------------------------------------------------------


def _die_on_enqueue(monkeypatch, killed: list[str]) -> None:
    """The api dies while it enqueues: before its enqueue took effect."""
    def died(sqs, url, body, **kwargs):
        killed.append(body.message_id)
        raise failpoints.Killed("enqueue")

    monkeypatch.setattr(accept.queues, "send", died)


@pytest.mark.parametrize("death", ["accept.enqueued", "while_enqueueing"])
def test_given_the_api_killed_around_its_enqueue_then_no_queued_orphan_and_nothing_sent(
    provisioned, sandbox, monkeypatch, kill_at, killed, death
):
    with monkeypatch.context() as patched:
        if death == "while_enqueueing":
            _die_on_enqueue(patched, killed)
        else:
            kill_at(death)
        with pytest.raises(failpoints.Killed):
            accept_message(SendRequest(to="+224622000001", text="perdu"), seed.EVENTS_TENANT,
                           table=seed.table(), sqs=aws.client("sqs"))
    assert queued_records() == []  # no record that no queue message carries
    bodies = [b for b in drain_all("tx") if b["message_id"] in killed]
    assert len(bodies) == (1 if death == "accept.enqueued" else 0)
    if bodies:
        # Young, the queue message waits for its record; past the window, it is dropped.
        assert invoke("sender", sqs_event(bodies, age=1)) == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}
        assert invoke("sender", sqs_event(bodies, age=61)) == {"batchItemFailures": []}
        assert messages.get(seed.table(), bodies[0]["message_id"]) is None
    assert sandbox.sandbox.outbox_items() == []


def test_given_the_record_written_just_after_the_queue_message_arrives_then_it_is_sent(provisioned, sandbox):
    msg = accept.build_message(SendRequest(to="+224622000001", text="juste à temps"), seed.EVENTS_TENANT)
    body = json.loads(QueueBody.for_message(msg, TX).to_json())  # what the api enqueues
    early = invoke("sender", sqs_event([body], age=0))
    assert early == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}  # handed back for a moment
    messages.put_new(seed.table(), msg)
    assert invoke("sender", sqs_event([body], age=3)) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    assert len(sandbox.sandbox.outbox_items()) == 1


def test_given_the_record_not_writable_after_the_enqueue_then_503(provisioned, monkeypatch):
    from tamtam.errors import ServiceUnavailable

    def refused(table, message):
        raise RuntimeError("the table is away")

    monkeypatch.setattr(accept.messages, "put_new", refused)
    with pytest.raises(ServiceUnavailable) as refused_answer:
        accept_message(SendRequest(to="+224622000001", text="x"), seed.EVENTS_TENANT, table=seed.table(),
                       sqs=aws.client("sqs"))
    assert (refused_answer.value.status, refused_answer.value.code) == (503, "table_unavailable")
    drain_all("tx")


# -- the scheduler -------------------------------------------------------------------------------


@pytest.fixture
def frozen(provisioned, monkeypatch):
    moment = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    drain_all("tx")

    def advance(seconds: float) -> None:
        moment["now"] += seconds

    yield advance
    drain_all("tx")


def _die_on_batch_enqueue(monkeypatch) -> None:
    def died(*args, **kwargs):
        raise failpoints.Killed("enqueue")

    monkeypatch.setattr(sqs_batch, "_send_call", died)


def run_scheduler() -> dict:
    return invoke("scheduler", event("scheduler/scheduled"))


@pytest.mark.parametrize("death", ["scheduler.enqueued", "while_enqueueing"])
def test_given_the_scheduler_killed_around_its_enqueue_then_the_next_sweep_delivers_it_once(
    frozen, sandbox, monkeypatch, kill_at, death
):
    status, accepted = api("POST", "/v1/messages", {"to": "+224622000001", "text": "Rappel",
                                                    "schedule_at": datetime.fromtimestamp(NOW + 120, UTC).isoformat()})
    assert status == 202
    frozen(121)
    with monkeypatch.context() as patched:
        if death == "while_enqueueing":
            _die_on_batch_enqueue(patched)
        else:
            kill_at(death)
        with pytest.raises(DIED):
            run_scheduler()
    assert messages.get(seed.table(), accepted["id"]).status == Status.SCHEDULED  # still in the sweep's index
    first = [b for b in drain_all("tx") if b["message_id"] == accepted["id"]]
    if first:  # enqueued before the death: its record is not released yet, so it waits
        assert invoke("sender", sqs_event(first, age=1)) == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}
    frozen(60)
    assert run_scheduler()["released"] == 1
    second = [b for b in drain_all("tx") if b["message_id"] == accepted["id"]]
    assert len(first + second) == (2 if death == "scheduler.enqueued" else 1)
    invoke("sender", sqs_event(first + second, age=5))
    stored = messages.get(seed.table(), accepted["id"])
    assert stored.status == Status.SENT
    assert [o["text"] for o in sandbox.sandbox.outbox_items()] == ["Rappel"]


def test_given_a_due_message_cancelled_between_the_enqueue_and_the_release_then_never_sent(
    frozen, sandbox, monkeypatch
):
    from tamtam.bulk import schedule

    _status, accepted = api("POST", "/v1/messages", {"to": "+224622000001", "text": "annulé",
                                                     "schedule_at": datetime.fromtimestamp(NOW + 120, UTC).isoformat()})
    frozen(121)
    real = schedule.messages.transition

    def cancelled_meanwhile(table, message_id, *args, **kwargs):
        real(table, message_id, Status.CANCELLED, expect={Status.SCHEDULED}, reason="cancelled")
        return real(table, message_id, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(schedule.messages, "transition", cancelled_meanwhile)
        assert run_scheduler()["raced"] == 1
    for queued in [b for b in drain_all("tx") if b["message_id"] == accepted["id"]]:  # enqueued before the cancel
        assert invoke("sender", sqs_event([queued], age=1)) == {"batchItemFailures": []}
    assert messages.get(seed.table(), accepted["id"]).status == Status.CANCELLED
    assert sandbox.sandbox.outbox_items() == []
