"""tamtam.messaging.texts: a bulk record without a text of its own is sent with its batch's."""

from __future__ import annotations

from typing import Any

import pytest

from tamtam.messaging import texts
from tamtam.store.message_item import MessageItem


class BatchTable:
    def __init__(self, batches: dict[str, dict[str, Any]]):
        self.batches, self.reads = batches, 0

    def get_item(self, *, Key: dict[str, str], **_: Any) -> dict[str, Any]:  # noqa: N803
        self.reads += 1
        batch_id = Key["pk"].split("#", 1)[1]
        item = self.batches.get(batch_id)
        return {"Item": item} if item else {}


def record(text: str = "", batch_id: str | None = "bat_1") -> MessageItem:
    return MessageItem(id="msg_1", tenant_id="ten_1", to="+224622000001", text=text, provider="passeinfo",
                       route=["passeinfo"], status="sending", segments=1, encoding="GSM-7",
                       created_at="2026-12-07T00:00:00.000Z", updated_at="2026-12-07T00:00:00.000Z",
                       batch_id=batch_id)


def batch_item(batch_id: str, text: str) -> dict[str, Any]:
    return {"pk": f"BATCH#{batch_id}", "sk": "BATCH", "id": batch_id, "tenant_id": "ten_1", "text": text,
            "kind": "list", "state": "open", "total": 2, "requested": 2, "created_at": "2026-12-07T00:00:00.000Z"}


def test_given_records_without_text_then_the_batch_text_is_read_once_per_batch():
    table = BatchTable({"bat_t1": batch_item("bat_t1", "Soldes: -20%"), "bat_t2": batch_item("bat_t2", "Bonjour")})

    got = [texts.text_for(record(batch_id=b), table=table) for b in ("bat_t1", "bat_t1", "bat_t2", "bat_t1")]

    assert got == ["Soldes: -20%", "Soldes: -20%", "Bonjour", "Soldes: -20%"]
    assert table.reads == 2


def test_given_a_record_with_its_own_text_then_the_batch_is_not_read():
    table = BatchTable({})

    assert texts.text_for(record("Bonjour Awa", batch_id="bat_t3"), table=table) == "Bonjour Awa"
    assert texts.text_for(record("Single", batch_id=None), table=table) == "Single"
    assert table.reads == 0


def test_given_the_batch_is_gone_then_nothing_can_be_sent():
    with pytest.raises(LookupError):
        texts.text_for(record(batch_id="bat_gone"), table=BatchTable({}))
