"""A batch's messages against moto, found by id: the ids follow from the batch (request index, or
the group's one message), so no index lists them and a status change writes no index entry; a
status filter works on the records as read, and a filtered page may come back short, with a
cursor that goes on."""

from __future__ import annotations

from typing import Any

import pytest

from tamtam.errors import InvalidRequest
from tamtam.messaging.accept import SendRequest, build_message
from tamtam.status import Status
from tamtam.store import batches, cursors, messages
from tamtam.store.batches import BatchItem
from tests.integration import seed
from tests.integration.test_lifecycle import walk_to_sent

BATCH = "bat_listing00000000000000001"


def a_batch(requested: int, *, kind: str = "list", batch_id: str = BATCH) -> BatchItem:
    batch = BatchItem(id=batch_id, tenant_id=seed.EVENTS_TENANT, kind=kind, state=batches.OPEN, total=requested,
                      requested=requested, text="hi", created_at="2026-12-07T08:00:00.000Z")
    batches.put_batch(seed.table(), batch)
    return batch


def records_at(batch: BatchItem, indexes: list[int]) -> list[str]:
    """Records for these request indexes only (the others: refused by the API, or repeated)."""
    ids = []
    known = dict(batches.message_ids(batch))
    for i in indexes:
        message_id = known[i]
        item = build_message(SendRequest(to=f"+22462200{i:04d}", text="hi"), seed.EVENTS_TENANT, batch_id=batch.id)
        messages.put_new(seed.table(), item.model_copy(update={"id": message_id}))
        ids.append(message_id)
    return ids


def _all_pages(batch: BatchItem, status: str | None, limit: int) -> tuple[list[str], int]:
    ids, pages, cursor = [], 0, None
    while True:
        page, cursor = batches.list_messages(seed.table(), batch, status=status, limit=limit, cursor=cursor)
        ids += [m.id for m in page]
        pages += 1
        if not cursor:
            return ids, pages


def test_given_messages_moving_then_no_index_entry_is_written_and_the_filter_follows_the_records(provisioned):
    batch = a_batch(6)
    ids = records_at(batch, list(range(6)))
    for message_id in ids[::2]:
        walk_to_sent(message_id)
    item = seed.table().get_item(Key={"pk": f"MSG#{ids[0]}", "sk": "MSG"})["Item"]
    assert not [k for k in item if k.startswith("gsi2")]
    assert _all_pages(batch, "sent", limit=2)[0] == ids[::2]
    assert _all_pages(batch, "queued", limit=2)[0] == ids[1::2]
    assert _all_pages(batch, None, limit=3) == (ids, 2)  # by id


def test_given_indexes_without_a_record_then_pages_fill_across_them(provisioned):
    batch = a_batch(8)
    ids = records_at(batch, [0, 2, 3, 7])  # 1, 4, 5, 6 refused at the API or repeated
    assert _all_pages(batch, None, limit=2) == (ids, 2)
    assert _all_pages(batch, "queued", limit=10) == (ids, 1)


def test_given_a_filter_matching_nothing_in_the_ids_a_page_reads_then_a_short_page_and_a_cursor(
        provisioned, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(batches, "_EXAMINE_MAX", 4)
    batch = a_batch(6)
    ids = records_at(batch, list(range(6)))
    walk_to_sent(ids[-1])
    first, cursor = batches.list_messages(seed.table(), batch, status="sent", limit=10)
    assert first == [] and cursor is not None  # four ids read, none sent: the page stops there
    rest, last = batches.list_messages(seed.table(), batch, status="sent", limit=10, cursor=cursor)
    assert [m.id for m in rest] == [ids[-1]] and last is None


def test_given_an_unfiltered_page_then_it_reads_no_more_records_than_it_returns(
        provisioned, monkeypatch: pytest.MonkeyPatch):
    batch = a_batch(300)
    records_at(batch, list(range(300)))
    asked: list[int] = []
    real = batches.get_many

    def counting(table: Any, keys: list[dict[str, str]], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        asked.append(len(keys))
        return real(table, keys, *args, **kwargs)

    monkeypatch.setattr(batches, "get_many", counting)
    page, cursor = batches.list_messages(seed.table(), batch, limit=2)
    assert len(page) == 2 and cursor is not None and asked == [2]


def test_given_a_message_cancelled_then_a_later_page_lists_it_under_its_new_status(provisioned):
    batch = a_batch(3)
    ids = records_at(batch, [0, 1, 2])
    page, cursor = batches.list_messages(seed.table(), batch, status="queued", limit=1)
    assert [m.id for m in page] == ids[:1]
    messages.transition(seed.table(), ids[1], Status.CANCELLED, expect={Status.QUEUED})
    rest, _ = batches.list_messages(seed.table(), batch, status="queued", limit=10, cursor=cursor)
    assert [m.id for m in rest] == ids[2:]
    assert [m.id for m in batches.list_messages(seed.table(), batch, status="cancelled")[0]] == [ids[1]]


def test_given_a_group_batch_then_its_one_message_is_listed(provisioned):
    batch = a_batch(1, kind="group")
    (group_id,) = records_at(batch, [0])
    page, cursor = batches.list_messages(seed.table(), batch)
    assert [m.id for m in page] == [group_id] and cursor is None


def test_given_a_cursor_of_another_batch_or_past_the_end_then_it_is_refused(provisioned):
    batch = a_batch(4)
    records_at(batch, [0, 1, 2, 3])
    _, cursor = batches.list_messages(seed.table(), batch, limit=1)
    other = a_batch(4, batch_id="bat_listing00000000000000002")
    with pytest.raises(InvalidRequest):
        batches.list_messages(seed.table(), other, cursor=cursor)
    with pytest.raises(InvalidRequest):
        batches.decode_cursor(cursors.encode({"batch_id": batch.id, "next": "5"}) or "", batch)
