"""The sender never says more than it knows (issue 11, point 1), against moto and the provider
sandbox over HTTP: a failure before the provider call leaves the message certainly-not-sent
(back to `queued`, or failed over), never `unconfirmed`; a stale claim without a dispatch mark
is taken over and sent once; a status write after the call survives a throttled table; a
provider that refuses duplicate ids never ends `failed` after answers it may have taken."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.sandbox.core import Fault
from local.stack.invoker import FunctionError
from tamtam import aws, clock, failpoints, pacing
from tamtam.messaging.accept import SendRequest, build_message
from tamtam.messaging.clients import ClientCache
from tamtam.messaging.send import QueueBody, process
from tamtam.secrets import provider_secret
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.bulk_helpers import drain
from tests.integration.lambdas import invoke

STALE = 121  # seconds: past the default claim_stale_seconds (120)
DIED = (failpoints.Killed, FunctionError)  # the invoker reports a killed invocation as Runtime.ExitError


def body(msg) -> dict:
    return {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": msg.provider, "lane": "tx"}


def send(msg) -> dict:
    return invoke("sender", seed.sqs_event([body(msg)]))


@pytest.fixture
def later(monkeypatch):
    """`later(seconds)`: tamtam.clock.now moved forward (a redelivery after the stale window)."""
    real = clock.now

    def move(seconds: float) -> None:
        monkeypatch.setattr(clock, "now", lambda: real() + seconds)

    return move


@pytest.fixture
def kill_at():
    """`kill_at(point)`: the next invocation reaching `point` dies there (failpoints.Killed)."""
    def install(point: str) -> None:
        left = [1]

        def handler(name: str, context: dict[str, Any]) -> None:
            if name == point and left[0] > 0:
                left[0] -= 1
                raise failpoints.Killed(name)

        failpoints.install(handler)

    yield install
    failpoints.uninstall()


def _throttled(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


# -- preparation fails after the claim: certainly not sent --------------------------------------


def _secret_throttled(monkeypatch) -> None:
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    def throttled(*args, **kwargs):
        raise GetParameterError(str(_throttled("GetSecretValue")))

    parameters.clear_caches()
    monkeypatch.setattr(parameters, "get_secret", throttled)


def _breaker_unreadable(monkeypatch) -> None:
    from tamtam import health

    def unreadable(table, provider):
        raise _throttled("GetItem")

    monkeypatch.setattr(health, "is_open", unreadable)


@pytest.mark.parametrize(
    "fault", [_secret_throttled, _breaker_unreadable], ids=["secret_throttled", "breaker_unreadable"]
)
def test_given_a_preparation_failing_after_the_claim_then_the_message_is_queued_again_never_unconfirmed(
    provisioned, sandbox, monkeypatch, later, fault
):
    msg = seed.message()  # passeinfo -> messagepro -> smsgate
    with monkeypatch.context() as patched:
        fault(patched)
        assert send(msg) == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}
        stored = messages.get(seed.table(), msg.id)
        assert (stored.status, stored.provider, stored.claim_at, stored.tries) == (Status.QUEUED, "passeinfo", None, 1)
        assert stored.attempts[-1].outcome == "retry"
    later(STALE)  # whatever comes later, it is never called unconfirmed
    assert send(msg) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 1


@pytest.mark.parametrize("secret", [{"base_url": "http://127.0.0.1:9/passeinfo", "client_id": "c"}, "not json {"],
                         ids=["fields_missing", "not_json"])
def test_given_a_malformed_provider_secret_then_the_message_fails_over(provisioned, sandbox, secret):
    from aws_lambda_powertools.utilities import parameters

    msg = seed.message()  # passeinfo -> messagepro -> smsgate
    value = secret if isinstance(secret, str) else json.dumps(secret)
    aws.client("secretsmanager").put_secret_value(SecretId=provisioned.secret_ids["passeinfo"], SecretString=value)
    parameters.clear_caches()
    assert send(msg) == {"batchItemFailures": []}
    moved = messages.get(seed.table(), msg.id)
    assert (moved.status, moved.provider) == (Status.QUEUED, "messagepro")
    assert (moved.attempts[-1].provider, moved.attempts[-1].outcome, moved.attempts[-1].reason) == (
        "passeinfo", "failed", "auth_failed")
    assert msg.id in [b["message_id"] for b in drain("messagepro-tx")]  # enqueued before the move
    assert send(moved) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    assert len(sandbox.sandbox.outbox_items(provider="messagepro")) == 1


def test_given_no_pacing_slot_before_the_deadline_then_nothing_is_sent_and_the_message_is_queued(
    provisioned, sandbox, monkeypatch
):
    monkeypatch.setenv("PACING_ENABLED", "true")
    monkeypatch.setenv("PROVIDER_RATE_LIMITS", json.dumps({"passeinfo": 20}))
    pacing.reset_cache()
    try:
        table = seed.table()
        msg = seed.message(provider="passeinfo")
        while pacing.reserve(table, "passeinfo", "tx", 100):  # another sender holds the whole horizon
            pass
        pool = pacing.Pool(table, "passeinfo", "tx", 1, deadline=clock.now() + 0.5)
        with pacing.turn(pool) as ticket:
            outcome = process(QueueBody(**body(msg)), table=table, sqs=aws.client("sqs"),
                              clients=ClientCache(provider_secret), ticket=ticket)
    finally:
        pacing.reset_cache()
    assert outcome.retry_after is not None and outcome.retry_after <= 10
    stored = messages.get(table, msg.id)
    assert (stored.status, stored.tries, stored.claim_at, stored.dispatched_at) == (Status.QUEUED, 0, None, None)
    assert sandbox.sandbox.outbox_items() == []


# -- killed invocations and stale claims ---------------------------------------------------------


def _die_while_preparing(monkeypatch) -> None:
    def died(self, provider, **kwargs):
        raise failpoints.Killed("preparing")

    monkeypatch.setattr(ClientCache, "get", died)


@pytest.mark.parametrize("death", ["sender.claimed", "preparing"])
def test_given_a_sender_killed_after_its_claim_when_redelivered_after_the_stale_window_then_sent_once(
    provisioned, sandbox, monkeypatch, kill_at, later, death
):
    msg = seed.message(provider="passeinfo")  # a provider that does not refuse duplicates
    with monkeypatch.context() as patched:
        if death == "preparing":
            _die_while_preparing(patched)
        else:
            kill_at(death)
        with pytest.raises(DIED):
            send(msg)
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.model_dump().get("dispatched_at")) == (Status.SENDING, None)  # never dispatched
    later(STALE)
    assert send(msg) == {"batchItemFailures": []}
    stored = messages.get(seed.table(), msg.id)
    assert stored.status == Status.SENT
    assert "unconfirmed" not in [h.status for h in stored.history]
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 1
    assert send(msg) == {"batchItemFailures": []}  # a later copy finds it sent
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 1


def test_given_a_stale_dispatched_claim_at_a_provider_without_dedup_then_unconfirmed_and_never_called_again(
    provisioned, sandbox, later
):
    msg = seed.message(provider="passeinfo")
    claimed = messages.transition(seed.table(), msg.id, Status.SENDING, expect={Status.QUEUED},
                                  fields={"claim_at": clock.now()}, increment_tries=True)
    assert messages.mark_dispatched(seed.table(), msg.id, claim_at=claimed.claim_at)
    later(STALE)
    assert send(msg) == {"batchItemFailures": []}
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.reason, stored.dispatched_at) == (Status.UNCONFIRMED, "sender_interrupted", None)
    assert sandbox.sandbox.outbox_items() == []


def test_given_a_claim_taken_over_before_the_dispatch_mark_then_the_first_sender_never_calls(provisioned, sandbox):
    msg = seed.message(provider="passeinfo")
    claimed = messages.transition(seed.table(), msg.id, Status.SENDING, expect={Status.QUEUED},
                                  fields={"claim_at": clock.now() - STALE}, increment_tries=True)
    taken = messages.take_over(seed.table(), msg.id, provider="passeinfo", old_claim_at=claimed.claim_at,
                               dispatched=False)
    assert taken is not None and taken.claim_at != claimed.claim_at and taken.tries == 2
    assert not messages.mark_dispatched(seed.table(), msg.id, claim_at=claimed.claim_at)
    assert messages.take_over(seed.table(), msg.id, provider="passeinfo", old_claim_at=claimed.claim_at,
                              dispatched=False) is None


def test_given_two_deliveries_racing_for_a_stale_claim_then_the_loser_keeps_its_queue_message(
    provisioned, sandbox, monkeypatch, later
):
    """SQS can hand one message to two invocations at once. The one that loses the takeover of a
    stale claim must not drop its copy: the winner may die before its dispatch mark, and then
    that copy is the only way back to the message."""
    msg = seed.message(provider="passeinfo")
    messages.transition(seed.table(), msg.id, Status.SENDING, expect={Status.QUEUED},
                        fields={"claim_at": clock.now() - STALE}, increment_tries=True)  # its sender died
    real = messages.take_over

    def the_other_copy_first(table, message_id, **kwargs):
        assert real(table, message_id, **kwargs) is not None  # the twin takes it over (and then dies)
        return real(table, message_id, **kwargs)  # this copy's takeover: the claim moved, None

    monkeypatch.setattr(messages, "take_over", the_other_copy_first)
    answer = send(msg)
    monkeypatch.setattr(messages, "take_over", real)
    assert answer["batchItemFailures"] != []  # kept on the queue, to look again after the stale window
    assert messages.get(seed.table(), msg.id).status == Status.SENDING and sandbox.sandbox.outbox_items() == []
    later(STALE)
    assert send(msg) == {"batchItemFailures": []}  # the twin never came back: this copy sends it
    assert messages.get(seed.table(), msg.id).status == Status.SENT
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 1


# -- after the call ------------------------------------------------------------------------------


class _ThrottledTable:
    """The table, whose first `times` writes of status `status` are throttled."""

    def __init__(self, table: Any, status: str, times: int):
        self._table, self._status, self.left = table, status, times

    def update_item(self, **kwargs: Any) -> Any:
        if kwargs.get("ExpressionAttributeValues", {}).get(":new") == self._status and self.left > 0:
            self.left -= 1
            raise _throttled("UpdateItem")
        return self._table.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def test_given_the_sent_write_throttled_twice_then_it_is_retried_and_the_message_is_sent(provisioned, sandbox):
    msg = seed.message(provider="passeinfo")
    table = _ThrottledTable(seed.table(), "sent", times=2)
    outcome = process(QueueBody(**body(msg)), table=table, sqs=aws.client("sqs"), clients=ClientCache(provider_secret))
    assert (outcome.result, table.left) == ("sent", 0)
    stored = messages.get(seed.table(), msg.id)
    assert (stored.status, stored.claim_at, stored.dispatched_at) == (Status.SENT, None, None)
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 1


def test_given_smsgate_answering_ambiguously_until_the_tries_run_out_then_unconfirmed_never_failed_nor_failed_over(
    provisioned, sandbox
):
    item = build_message(SendRequest(to="+224622000001", text="Hello"), seed.EVENTS_TENANT)
    item = item.model_copy(update={"provider": "smsgate", "route": ["smsgate", "passeinfo"]})  # a tenant's route
    messages.put_new(seed.table(), item)
    sandbox.sandbox.set_fault("smsgate", Fault(mode="drop", match="/3rdparty/v1/messages"))
    for _ in range(get_settings().send_max_tries):
        send(item)
    stored = messages.get(seed.table(), item.id)
    assert (stored.status, stored.reason, stored.provider) == (Status.UNCONFIRMED, "timeout", "smsgate")
    assert "failed" not in [h.status for h in stored.history]
    assert sandbox.sandbox.outbox_items(provider="passeinfo") == []
    assert len(sandbox.sandbox.outbox_items(provider="smsgate")) == 1
