"""Message search (tamtam.store.search, gsi3) against moto, on records made by the real creation
paths: single sends, a scheduled send, a bulk through the fan-out function, a group send, a
one-time code. Newest first, each filter alone and combined, time bounds, pages walked to the
end (short pages under a status filter and a small read budget), cursors refused, tenants kept
apart, and status changes that never touch the index."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tamtam import aws, clock
from tamtam.bulk.intake import BulkRequest, accept_bulk
from tamtam.errors import InvalidRequest
from tamtam.messaging.accept import SendRequest, accept_message
from tamtam.otp.logic import OtpRequest, send_otp
from tamtam.otp.settings import reset_otp_settings
from tamtam.status import Status
from tamtam.store import batches, cursors, messages, search
from tamtam.store.batches import BatchItem
from tamtam.store.message_item import MessageItem, message_pk
from tamtam.store.search import find_messages
from tests.integration import seed, stream
from tests.integration.bulk_helpers import drain, drain_all, fan_out
from tests.integration.lambdas import invoke, pump_stream

TENANT_A = "ten_searchA000000000000000000a"
TENANT_B = "ten_searchB000000000000000000b"
R1, R2, R3 = "+224622000101", "+224622000102", "+224622000103"
T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def _empty_queues() -> None:
    """Queues are shared by the whole session (tests that send empty them before and after)."""
    drain("fanout")
    drain_all("bulk")
    drain_all("tx")


@pytest.fixture(autouse=True)
def _queues(provisioned):
    _empty_queues()
    yield
    _empty_queues()


@pytest.fixture
def table(provisioned) -> Any:
    return seed.table()


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    """`at(seconds)`: tamtam.clock.now pinned to T0 + seconds (the records' created_at)."""
    moment = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])

    def move(seconds: float) -> str:
        moment["now"] = T0 + seconds
        return clock.iso()

    return move


@pytest.fixture
def otp_key(provisioned, monkeypatch: pytest.MonkeyPatch):
    key_id = provisioned.function_env.get("OTP_KEY_ID") or aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("OTP_KEY_ID", key_id)
    reset_otp_settings()
    yield key_id
    reset_otp_settings()


# --- creating records through the real paths ----------------------------------------------


def single(tenant: str, to: str, *, schedule_at: float | None = None) -> MessageItem:
    req = SendRequest(to=to, text="Hello", schedule_at=schedule_at)
    return accept_message(req, tenant, table=seed.table(), sqs=aws.client("sqs"))


def _batch(batch_id: str) -> BatchItem:
    batch = batches.get_batch(seed.table(), batch_id)
    assert batch is not None
    return batch


def bulk(tenant: str, recipients: list[str]) -> tuple[str, list[MessageItem]]:
    """A list batch accepted, then expanded by the fan-out function; its records."""
    result = accept_bulk(BulkRequest(text="Promo", to=recipients), tenant, table=seed.table(), sqs=aws.client("sqs"))
    assert fan_out(result.batch_id) == []
    listed, _ = batches.list_messages(seed.table(), _batch(result.batch_id), limit=100)
    assert len(listed) == len(recipients)
    return result.batch_id, listed


def group(tenant: str) -> MessageItem:
    result = accept_bulk(BulkRequest(text="Hello group", group_provider="passeinfo", group_id="club"), tenant,
                         table=seed.table(), sqs=aws.client("sqs"))
    (record,), _ = batches.list_messages(seed.table(), _batch(result.batch_id))
    return record


def otp(tenant: str, to: str) -> MessageItem:
    code = send_otp(OtpRequest(to=to), tenant, table=seed.table(), sqs=aws.client("sqs"), kms=aws.client("kms"),
                    pepper=b"p" * 32)
    found = messages.get(seed.table(), code.message_ids[-1])
    assert found is not None
    return found


@dataclass
class History:
    """Tenant A's records (and one of tenant B to the same number), oldest first."""

    first: MessageItem  # R1, t=0, then cancelled
    second: MessageItem  # R2, t=1
    scheduled: MessageItem  # R1, t=2, scheduled
    batch_id: str
    batch: list[MessageItem]  # R1, R2, R3 at t=4 (the fan-out's time)
    code: MessageItem  # an OTP to R3, t=5
    grouped: MessageItem  # a group send, t=6
    other_tenant: MessageItem  # tenant B to R1, t=7

    def tenant_a(self) -> list[MessageItem]:
        return [self.first, self.second, self.scheduled, *self.batch, self.code, self.grouped]


@pytest.fixture
def history(table, at, otp_key) -> History:
    at(0)
    first = single(TENANT_A, R1)
    at(1)
    second = single(TENANT_A, R2)
    at(2)
    scheduled = single(TENANT_A, R1, schedule_at=T0 + 3600)
    at(4)
    batch_id, batch = bulk(TENANT_A, [R1, R2, R3])
    at(5)
    code = otp(TENANT_A, R3)
    at(6)
    grouped = group(TENANT_A)
    at(7)
    other = single(TENANT_B, R1)
    at(8)
    first = messages.transition(table, first.id, Status.CANCELLED, expect={Status.QUEUED}, reason="test")
    assert first is not None
    return History(first, second, scheduled, batch_id, batch, code, grouped, other)


def newest_first(items: list[MessageItem]) -> list[str]:
    return [m.id for m in sorted(items, key=lambda m: (m.created_at, m.id), reverse=True)]


def ids(items: list[MessageItem]) -> list[str]:
    return [m.id for m in items]


def walk(tenant: str, *, limit: int, **filters: Any) -> tuple[list[MessageItem], list[int]]:
    """Every page of a search, cursor after cursor: the items and each page's size."""
    items: list[MessageItem] = []
    sizes: list[int] = []
    cursor = None
    while True:
        page, cursor = find_messages(seed.table(), tenant, limit=limit, cursor=cursor, **filters)
        assert len(page) <= limit
        items += page
        sizes.append(len(page))
        if cursor is None:
            return items, sizes
        assert len(sizes) < 200, "the cursors never ended"


# --- order, filters, time range ---------------------------------------------------------------


def test_given_every_creation_path_then_the_tenant_lists_all_its_records_newest_first(history):
    page, cursor = find_messages(seed.table(), TENANT_A)

    assert cursor is None
    assert ids(page) == newest_first(history.tenant_a())
    assert ids(page)[:2] == [history.grouped.id, history.code.id]
    assert ids(page)[-3:] == [history.scheduled.id, history.second.id, history.first.id]
    for message in history.tenant_a():
        item = seed.table().get_item(Key={"pk": message_pk(message.id), "sk": "MSG"})["Item"]
        assert (item["gsi3pk"], item["gsi3sk"]) == (f"TENANT#{TENANT_A}", f"{message.created_at}#{message.id}")


def test_given_each_filter_alone_then_only_matching_records_come_back(history):
    table = seed.table()
    a = history.tenant_a()

    assert ids(find_messages(table, TENANT_A, status="cancelled")[0]) == [history.first.id]
    assert ids(find_messages(table, TENANT_A, status="scheduled")[0]) == [history.scheduled.id]
    assert ids(find_messages(table, TENANT_A, status="queued")[0]) == newest_first(
        [m for m in a if m.id not in (history.first.id, history.scheduled.id)])
    assert ids(find_messages(table, TENANT_A, to=R1)[0]) == newest_first([m for m in a if m.to == R1])
    assert ids(find_messages(table, TENANT_A, batch_id=history.batch_id)[0]) == newest_first(history.batch)
    assert find_messages(table, TENANT_A, status="delivered") == ([], None)


def test_given_filters_combined_then_every_filter_applies(history):
    table = seed.table()
    batch_r1 = next(m for m in history.batch if m.to == R1)

    assert ids(find_messages(table, TENANT_A, to=R1, status="queued")[0]) == [batch_r1.id]
    assert ids(find_messages(table, TENANT_A, to=R1, batch_id=history.batch_id)[0]) == [batch_r1.id]
    assert ids(find_messages(table, TENANT_A, to=R3, status="queued", since=clock.iso(T0 + 5))[0]) == [history.code.id]
    assert ids(find_messages(table, TENANT_A, to=R1, since=clock.iso(T0 + 1), until=clock.iso(T0 + 5))[0]) == [
        batch_r1.id, history.scheduled.id]
    assert find_messages(table, TENANT_A, to=R2, batch_id=history.batch_id, status="cancelled") == ([], None)


def test_given_a_time_range_then_since_is_inclusive_and_until_exclusive(history):
    table = seed.table()
    second, code = history.second.created_at, history.code.created_at

    within = find_messages(table, TENANT_A, since=second, until=code)[0]
    assert ids(within) == newest_first([history.second, history.scheduled, *history.batch])
    assert ids(find_messages(table, TENANT_A, since=code)[0]) == [history.grouped.id, history.code.id]
    assert ids(find_messages(table, TENANT_A, until=second)[0]) == [history.first.id]
    # the same instants written with another zone, and without milliseconds
    plus_one = "2026-11-18T12:06:41+01:00"  # T0 + 1 s, the second record's created_at
    assert ids(find_messages(table, TENANT_A, since=plus_one, until=code)[0]) == ids(within)
    assert find_messages(table, TENANT_A, since=code, until=second) == ([], None)
    assert find_messages(table, TENANT_A, since=code, until=code) == ([], None)


@pytest.mark.parametrize(("field", "value"), [("since", "yesterday"), ("until", "2026-11-19T08:00:00"),
                                              ("status", "lost")])
def test_given_a_malformed_filter_then_it_is_refused_with_its_field(provisioned, field, value):
    with pytest.raises(InvalidRequest) as refused:
        find_messages(seed.table(), TENANT_A, **{field: value})
    assert refused.value.field == field


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture
def crowd(table, at) -> list[MessageItem]:
    """Tenant A with 24 records: a bulk of 12 recipients and 12 singles, every third cancelled."""
    made: list[MessageItem] = []
    for n in range(6):
        at(n)
        made.append(single(TENANT_A, f"+2246220002{n:02d}"))
    at(10)
    made += bulk(TENANT_A, [f"+2246220003{n:02d}" for n in range(12)])[1]
    for n in range(6):
        at(20 + n)
        made.append(single(TENANT_A, f"+2246220004{n:02d}"))
    for i, message in enumerate(made):
        if i % 3 == 0:
            changed = messages.transition(table, message.id, Status.CANCELLED, expect={Status.QUEUED})
            assert changed is not None
            made[i] = changed
    return made


def test_given_pages_walked_to_the_end_then_every_record_comes_once_in_order(crowd):
    items, sizes = walk(TENANT_A, limit=5)

    assert ids(items) == newest_first(crowd)
    assert sizes[:-1] == [5] * (len(sizes) - 1) and len(sizes) == 5


@pytest.mark.parametrize("limit", [1, 7, 100])
def test_given_a_limit_then_no_page_is_longer(crowd, limit):
    page, cursor = find_messages(seed.table(), TENANT_A, limit=limit)
    assert ids(page) == newest_first(crowd)[:limit]
    assert (cursor is None) == (limit >= len(crowd))


@pytest.mark.parametrize("limit", [0, 101])
def test_given_a_limit_out_of_range_then_it_is_refused(provisioned, limit):
    with pytest.raises(InvalidRequest) as refused:
        find_messages(seed.table(), TENANT_A, limit=limit)
    assert refused.value.field == "limit"


def test_given_a_status_filter_and_a_small_read_budget_then_pages_are_short_yet_nothing_is_lost(crowd, monkeypatch):
    monkeypatch.setattr(search, "READ_BUDGET", 4)
    monkeypatch.setattr(search, "_MIN_READ", 1)
    cancelled = [m for m in crowd if m.status == Status.CANCELLED]

    items, sizes = walk(TENANT_A, limit=3, status="cancelled")

    assert ids(items) == newest_first(cancelled)
    assert any(size < 3 for size in sizes[:-1]), sizes  # short pages, each with a cursor
    assert len(sizes) >= len(crowd) // 4


def test_given_a_filter_that_matches_nothing_then_one_call_reads_no_more_than_its_budget(crowd, monkeypatch):
    monkeypatch.setattr(search, "READ_BUDGET", 10)
    asked: list[int] = []

    class Counting:
        def __init__(self, table: Any):
            self.table, self.name, self.meta = table, table.name, table.meta

        def query(self, **kwargs: Any) -> Any:
            asked.append(kwargs["Limit"])
            return self.table.query(**kwargs)

    page, cursor = find_messages(Counting(seed.table()), TENANT_A, to="+224622999999")

    assert page == [] and cursor is not None  # empty, but not the end
    assert sum(asked) <= 10


# --- cursors ---------------------------------------------------------------------------------


def _forged(cursor: str, **changes: str) -> str:
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return cursors.encode({**data, **changes}) or ""


def _refused(tenant: str, cursor: str, **filters: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        find_messages(seed.table(), tenant, limit=2, cursor=cursor, **filters)
    assert (refused.value.code, refused.value.field) == ("invalid_cursor", "cursor")


def test_given_a_tampered_or_foreign_cursor_then_invalid_cursor(history, at):
    at(9)
    other = single(TENANT_B, R2)
    _, cursor = find_messages(seed.table(), TENANT_A, limit=2, to=R1)
    _, cursor_b = find_messages(seed.table(), TENANT_B, limit=1)
    assert cursor and cursor_b
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))

    _refused(TENANT_A, "not a cursor!")
    _refused(TENANT_A, cursors.encode({"pk": "x"}) or "")
    _refused(TENANT_A, cursor[:-4])
    _refused(TENANT_A, cursor)  # without the filters that made it
    _refused(TENANT_A, cursor, to=R2)
    _refused(TENANT_A, cursor, to=R1, status="queued")
    _refused(TENANT_A, cursor, to=R1, since=clock.iso(T0 + 3))  # outside the range
    _refused(TENANT_A, cursor_b)  # tenant B's cursor
    _refused(TENANT_B, cursor, to=R1)  # tenant A's cursor
    _refused(TENANT_A, _forged(cursor, gsi3pk=f"TENANT#{TENANT_B}"), to=R1)
    _refused(TENANT_A, _forged(cursor, gsi3sk=data["gsi3sk"] + "x"), to=R1)
    _refused(TENANT_A, _forged(cursor, pk=message_pk(other.id)), to=R1)
    batch_cursor = batches.list_messages(seed.table(), _batch(history.batch_id), limit=1)[1]
    assert batch_cursor
    _refused(TENANT_A, batch_cursor)
    assert find_messages(seed.table(), TENANT_A, limit=2, to=R1, cursor=cursor)[0]  # the genuine one still works


# --- tenants ---------------------------------------------------------------------------------


def test_given_two_tenants_sending_to_one_number_then_each_sees_only_its_own(history):
    table = seed.table()
    a_to_r1 = [m for m in history.tenant_a() if m.to == R1]

    assert ids(find_messages(table, TENANT_A, to=R1)[0]) == newest_first(a_to_r1)
    assert ids(find_messages(table, TENANT_B, to=R1)[0]) == [history.other_tenant.id]
    assert ids(find_messages(table, TENANT_B)[0]) == [history.other_tenant.id]
    assert find_messages(table, TENANT_B, batch_id=history.batch_id) == ([], None)
    everything, _ = walk(TENANT_A, limit=2)
    assert {m.tenant_id for m in everything} == {TENANT_A}
    assert history.other_tenant.id not in ids(everything)


def test_given_a_record_written_before_the_index_then_it_is_not_found(table, at):
    at(0)
    legacy = single(TENANT_A, R1)
    table.update_item(Key={"pk": message_pk(legacy.id), "sk": "MSG"}, UpdateExpression="REMOVE gsi3pk, gsi3sk")
    assert find_messages(table, TENANT_A) == ([], None)


# --- status changes leave the index alone ----------------------------------------------------

_INDEXED = ("gsi3pk", "gsi3sk", "to", "batch_id")  # gsi3's keys and projected attributes


def _index_entry(message_id: str, tenant: str) -> dict[str, Any]:
    answer = seed.table().query(IndexName="gsi3", KeyConditionExpression="gsi3pk = :pk",
                                ExpressionAttributeValues={":pk": f"TENANT#{tenant}"})
    (entry,) = [i for i in answer["Items"] if i["pk"] == message_pk(message_id)]
    return entry


def test_given_status_changes_then_no_write_touches_the_index_and_the_record_is_still_found(table, monkeypatch):
    seen: list[dict[str, Any]] = []
    read = stream.read

    def keep() -> list[dict[str, Any]]:  # the change stream, as the lifecycle function gets it
        records = read()
        seen.extend(records)
        return records

    monkeypatch.setattr(stream, "read", keep)
    batch_id, (member, *_) = bulk(TENANT_A, [R1, R2])
    before = _index_entry(member.id, TENANT_A)

    bodies = [b for b in drain_all("bulk") if b["message_id"] == member.id]
    invoke("sender", seed.sqs_event(bodies))  # queued -> sending -> sent, through the provider sandbox
    assert messages.transition(table, member.id, Status.DELIVERED, expect={Status.SENT}, reason="report")
    pump_stream()

    changes = [r["dynamodb"] for r in seen if r["eventName"] == "MODIFY"
               and r["dynamodb"]["Keys"]["pk"]["S"] == message_pk(member.id)]
    assert len(changes) >= 3  # claimed, sent, delivered
    for change in changes:
        old, new = change["OldImage"], change["NewImage"]
        assert {a: old.get(a) for a in _INDEXED} == {a: new.get(a) for a in _INDEXED}
    assert _index_entry(member.id, TENANT_A) == before
    assert set(before) == {"pk", "sk", *_INDEXED}  # keys and the two projected attributes, no status
    assert ids(find_messages(table, TENANT_A, status="delivered", batch_id=batch_id)[0]) == [member.id]
