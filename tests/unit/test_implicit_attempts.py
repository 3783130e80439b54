"""A message sent at its first try stores no attempt; read back, its `sent` history entry is
the attempt (tamtam.store.message_item.implicit_attempts)."""

from __future__ import annotations

from typing import Any

from tamtam.store.message_item import MessageItem

AT = "2026-12-07T10:00:00.000Z"


def stored(history: list[dict[str, Any]], attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    item = {"pk": "MSG#msg_1", "sk": "MSG", "id": "msg_1", "tenant_id": "ten_1", "to": "+224622000001",
            "text": "hello", "provider": "ventis", "route": ["passeinfo", "ventis"], "status": history[-1]["status"],
            "segments": 1, "encoding": "GSM-7", "created_at": AT, "updated_at": AT, "history": history}
    if attempts is not None:
        item["attempts"] = attempts
    return item


def test_given_a_first_try_sent_then_its_history_entry_reads_as_the_attempt():
    item = stored([{"status": "queued", "at": AT, "provider": "ventis"},
                   {"status": "sending", "at": AT, "provider": "ventis"},
                   {"status": "sent", "at": "2026-12-07T10:00:01.250Z", "provider": "ventis"},
                   {"status": "delivered", "at": "2026-12-07T10:00:09.000Z", "provider": "ventis"}])

    attempts = MessageItem.from_item(item).attempts

    assert [(a.provider, a.at, a.outcome, a.reason) for a in attempts] == [
        ("ventis", "2026-12-07T10:00:01.250Z", "sent", None)]


def test_given_stored_attempts_then_they_are_read_as_they_are():
    failed_first = {"provider": "passeinfo", "at": AT, "outcome": "failed", "reason": "provider_unavailable"}
    sent_then = {"provider": "ventis", "at": AT, "outcome": "sent"}
    item = stored([{"status": "queued", "at": AT}, {"status": "sent", "at": AT, "provider": "ventis"}],
                  [failed_first, sent_then])

    assert [a.outcome for a in MessageItem.from_item(item).attempts] == ["failed", "sent"]


def test_given_a_message_not_sent_then_it_has_no_attempt():
    assert MessageItem.from_item(stored([{"status": "queued", "at": AT}])).attempts == []
    assert MessageItem.from_item(stored([{"status": "queued", "at": AT},
                                         {"status": "cancelled", "at": AT}])).attempts == []
