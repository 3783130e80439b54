"""tamtam.bulk.records with a fake table: a record is created once, throttling is retried, a put
the table applied but answered with an error is still this delivery's own, and the orphan rule."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tamtam import clock
from tamtam.bulk import records
from tamtam.store import chunk_records
from tamtam.store.message_item import MessageItem


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutItem")


class FakeClient:
    def __init__(self, faults: dict[str, list[str]] | None = None, applied_then_failed: set[str] | None = None):
        self.items: dict[str, dict[str, Any]] = {}
        self.faults = faults or {}  # pk -> error codes raised before the put applies
        self.applied_then_failed = applied_then_failed or set()  # pk: applied, then answered 500
        self.lock = threading.Lock()
        self.puts = 0

    def put_item(self, *, TableName: str, Item: dict[str, Any], ConditionExpression: str) -> dict:  # noqa: N803
        pk = Item["pk"]
        with self.lock:
            self.puts += 1
            if self.faults.get(pk):
                raise _error(self.faults[pk].pop(0))
            if pk in self.items:
                raise _error("ConditionalCheckFailedException")
            self.items[pk] = dict(Item)
            if pk in self.applied_then_failed:
                self.applied_then_failed.discard(pk)
                raise _error("InternalServerError")
        return {}

    def batch_get_item(self, *, RequestItems: dict[str, Any]) -> dict:  # noqa: N803
        [(name, request)] = RequestItems.items()
        with self.lock:
            found = [self.items[k["pk"]] for k in request["Keys"] if k["pk"] in self.items]
        return {"Responses": {name: found}}


def _table(client: FakeClient) -> Any:
    return SimpleNamespace(name="t", meta=SimpleNamespace(client=client))


def _message(i: int, status: str = "queued") -> MessageItem:
    at = clock.iso()
    return MessageItem(id=f"msg_x_{i:06d}", tenant_id="ten", to="+224622000001", text="hi", provider="passeinfo",
                       route=["passeinfo"], status=status, segments=1, encoding="GSM-7", created_at=at, updated_at=at,
                       batch_id="bat_x", history=[{"status": status, "at": at}])


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(chunk_records.time, "sleep", lambda s: None)


def test_given_two_deliveries_then_each_record_is_created_by_exactly_one():
    client = FakeClient()
    part = [_message(i) for i in range(40)]
    created_a, stored_a = records.write_once(_table(client), part, "a")
    created_b, stored_b = records.write_once(_table(client), part, "b")
    assert len(created_a) == 40 and stored_a == {}
    assert created_b == [] and {s.token for s in stored_b.values()} == {"a"}


def test_given_throttling_then_the_put_is_retried_and_creates_the_record():
    client = FakeClient(faults={"MSG#msg_x_000001": ["ThrottlingException", "ProvisionedThroughputExceededException"]})
    created, _ = records.write_once(_table(client), [_message(0), _message(1)], "a")
    assert [m.id for m in created] == ["msg_x_000000", "msg_x_000001"]


def test_given_a_put_applied_but_answered_with_an_error_then_the_retry_still_counts_it_as_created():
    client = FakeClient(applied_then_failed={"MSG#msg_x_000000"})
    created, stored = records.write_once(_table(client), [_message(0)], "a")
    assert [m.id for m in created] == ["msg_x_000000"] and stored == {}


def test_given_another_error_then_it_is_raised():
    client = FakeClient(faults={"MSG#msg_x_000000": ["ValidationException"]})
    with pytest.raises(ClientError):
        records.write_once(_table(client), [_message(0)], "a")


def test_orphan_only_when_queued_and_older_than_the_window():
    now = clock.now()
    old, young = clock.iso(now - 61), clock.iso(now - 5)
    assert records.orphaned(records.Stored("queued", "p", old, "a"), now, 60)
    assert not records.orphaned(records.Stored("queued", "p", young, "a"), now, 60)
    assert not records.orphaned(records.Stored("sending", "p", old, "a"), now, 60)
    assert not records.orphaned(records.Stored("sent", "p", old, "a"), now, 60)
