"""Scheduled sends and cancellation against moto and the provider sandbox: a scheduled message
waits for its time (tamtam.clock.now made to pass), the scheduler releases it; a cancelled
one never reaches the sandbox; what is sent already cannot be cancelled."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tamtam import aws, clock
from tamtam.settings import get_settings
from tamtam.store import messages
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, drain_all, fan_out, send_all
from tests.integration.lambdas import event, invoke

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def frozen(provisioned, monkeypatch):
    """tamtam.clock.now pinned; `frozen(seconds)` moves it forward."""
    moment = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    drain("fanout")
    drain_all("bulk")
    drain_all("tx")

    def advance(seconds: float) -> None:
        moment["now"] += seconds

    yield advance
    drain("fanout")
    drain_all("bulk")
    drain_all("tx")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat()


def send(body: dict) -> tuple[int, dict]:
    return api("POST", "/v1/messages", body)


def run_scheduler() -> dict:
    return invoke("scheduler", event("scheduler/scheduled"))


def test_given_a_scheduled_message_then_it_waits_and_is_sent_once_its_time_has_come(frozen, sandbox):
    status, accepted = send({"to": "+224622000001", "text": "Rappel RDV", "schedule_at": iso(NOW + 600)})
    assert (status, accepted["status"]) == (202, "scheduled")
    assert drain_all("tx") == []

    assert run_scheduler()["released"] == 0
    frozen(300)
    assert run_scheduler()["released"] == 0
    frozen(301)
    assert run_scheduler()["released"] == 1
    bodies = drain_all("tx")
    assert [b["message_id"] for b in bodies] == [accepted["id"]]
    invoke("sender", seed.sqs_event(bodies))

    stored = messages.get(seed.table(), accepted["id"])
    assert [h.status for h in stored.history] == ["scheduled", "queued", "sending", "sent"]
    assert [o["text"] for o in sandbox.sandbox.outbox_items()] == ["Rappel RDV"]
    assert run_scheduler()["released"] == 0


def test_given_a_message_due_within_the_minute_then_it_is_released_with_the_remaining_delay(frozen):
    _, accepted = send({"to": "+224622000001", "text": "bientôt", "schedule_at": iso(NOW + 90)})
    frozen(45)  # due in 45 s: inside the scheduler's one-minute look-ahead
    assert run_scheduler()["released"] == 1
    url = get_settings().queue_urls["passeinfo-tx"]
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"]) >= 1
    assert messages.get(seed.table(), accepted["id"]).status == "queued"


@pytest.mark.parametrize(
    "schedule_at",
    [iso(NOW - 60), iso(NOW + 31 * 86400), "2026-11-22T09:00:00", "demain matin", "2026-13-01T00:00:00Z"],
)
def test_given_a_bad_schedule_then_422_invalid_schedule_and_nothing_stored(frozen, schedule_at):
    status, body = send({"to": "+224622000001", "text": "hi", "schedule_at": schedule_at})
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_schedule", "schedule_at")
    assert seed.table().scan(Select="COUNT")["Count"] == 0


def test_given_a_cancelled_scheduled_message_then_it_never_reaches_the_sandbox(frozen, sandbox):
    _, accepted = send({"to": "+224622000001", "text": "annulé", "schedule_at": iso(NOW + 120)})

    status, view = api("DELETE", f"/v1/messages/{accepted['id']}")

    assert (status, view["status"], view["history"][-1]["status"]) == (200, "cancelled", "cancelled")
    frozen(600)
    assert run_scheduler()["released"] == 0
    send_all("tx")
    assert sandbox.sandbox.outbox_items() == []
    again, twice = api("DELETE", f"/v1/messages/{accepted['id']}")
    assert (again, twice["status"]) == (200, "cancelled")


def test_given_a_queued_message_cancelled_before_its_sender_runs_then_it_is_never_sent(frozen, sandbox):
    _, accepted = send({"to": "+224622000001", "text": "trop tard"})
    assert api("DELETE", f"/v1/messages/{accepted['id']}")[0] == 200
    bodies = drain_all("tx")
    assert [b["message_id"] for b in bodies] == [accepted["id"]]
    assert invoke("sender", seed.sqs_event(bodies)) == {"batchItemFailures": []}
    assert sandbox.sandbox.outbox_items() == []
    assert messages.get(seed.table(), accepted["id"]).status == "cancelled"


def test_given_a_sent_message_then_delete_is_409_not_cancellable_and_an_unknown_one_404(frozen, sandbox):
    _, accepted = send({"to": "+224622000001", "text": "parti"})
    invoke("sender", seed.sqs_event(drain_all("tx")))
    assert messages.get(seed.table(), accepted["id"]).status == "sent"

    status, body = api("DELETE", f"/v1/messages/{accepted['id']}")

    assert (status, body["error"]["code"]) == (409, "not_cancellable")
    assert api("DELETE", "/v1/messages/msg_unknown")[0] == 404
    assert api("DELETE", f"/v1/messages/{accepted['id']}", tenant="ten_someoneelse")[0] == 404


def test_given_a_scheduled_bulk_then_its_messages_wait_and_are_released_on_the_bulk_queues(frozen, sandbox):
    numbers = [f"+2246220{i:05d}" for i in range(15)]
    status, accepted = api(
        "POST", "/v1/messages/bulk", {"to": numbers, "text": "Soldes", "schedule_at": iso(NOW + 3600)}
    )
    assert status == 202
    batch_id = accepted["batch_id"]
    fan_out(batch_id)
    assert drain_all("bulk") == []
    _, view = api("GET", f"/v1/batches/{batch_id}")
    assert (view["state"], view["counts"]["scheduled"]) == ("scheduled", 15)

    frozen(3601)
    assert run_scheduler()["released"] == 15
    send_all("bulk")

    assert sorted(o["to"] for o in sandbox.sandbox.outbox_items()) == sorted(numbers)
    _, view = api("GET", f"/v1/batches/{batch_id}")
    assert (view["state"], view["counts"]["sent"], view["counts"]["scheduled"]) == ("completed", 15, 0)


def test_given_a_scheduled_bulk_cancelled_before_its_time_then_nothing_is_released(frozen, sandbox):
    _, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(8)], "text": "x",
                                                   "schedule_at": iso(NOW + 3600)})
    fan_out(accepted["batch_id"])
    status, cancelled = api("DELETE", f"/v1/batches/{accepted['batch_id']}")
    assert (status, cancelled["cancelled"]) == (200, 8)
    frozen(3601)
    assert run_scheduler()["released"] == 0
    assert drain_all("bulk") == [] and sandbox.sandbox.outbox_items() == []
    _, view = api("GET", f"/v1/batches/{accepted['batch_id']}")
    assert (view["state"], view["counts"]["cancelled"]) == ("completed", 8)


def test_given_the_scheduler_events_file_with_nothing_due_then_it_releases_nothing(frozen):
    assert run_scheduler() == {"released": 0, "raced": 0, "requeued": 0, "complete": True}


def test_given_the_queue_refusing_then_the_due_message_stays_scheduled_for_the_next_run(frozen, monkeypatch):
    from tamtam.settings import reset_settings

    _, accepted = send({"to": "+224622000001", "text": "plus tard", "schedule_at": iso(NOW + 120)})
    frozen(121)
    urls = dict(get_settings().queue_urls)
    monkeypatch.setenv("QUEUE_URLS", json.dumps({**urls, "passeinfo-tx": urls["passeinfo-tx"] + "-missing"}))
    reset_settings()
    assert run_scheduler()["requeued"] == 1
    stored = messages.get(seed.table(), accepted["id"])
    assert (stored.status, [h.status for h in stored.history]) == ("scheduled", ["scheduled"])  # never touched

    monkeypatch.setenv("QUEUE_URLS", json.dumps(urls))
    reset_settings()
    assert run_scheduler()["released"] == 1
    assert [b["message_id"] for b in drain_all("tx")] == [accepted["id"]]
