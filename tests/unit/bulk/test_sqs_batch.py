"""SendMessageBatch: at most 10 entries and 256 KiB a call; refused entries retried; entries
SQS calls invalid are given back at once."""

from __future__ import annotations

import json

import pytest

from tamtam.bulk import sqs_batch
from tamtam.bulk.intake import CHUNK_BYTES, chunk_bodies
from tamtam.bulk.sqs_batch import MAX_BATCH_BYTES, Entry, send_entries


class FakeSqs:
    def __init__(self, fail_ids_once: set[str] = frozenset(), sender_fault: set[str] = frozenset()):
        self.calls: list[list[dict]] = []
        self.fail_once = set(fail_ids_once)
        self.sender_fault = set(sender_fault)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict]) -> dict:  # noqa: N803 (boto3 names)
        self.calls.append(Entries)
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in Entries if e["Id"] in self.fail_once
        ]
        failed += [
            {"Id": e["Id"], "SenderFault": True, "Code": "InvalidMessageContents"}
            for e in Entries
            if e["Id"] in self.sender_fault
        ]
        self.fail_once -= {f["Id"] for f in failed}
        return {"Successful": [], "Failed": failed}


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(sqs_batch.time, "sleep", lambda s: None)


def test_given_25_entries_then_calls_of_10_10_and_5():
    sqs = FakeSqs()
    assert send_entries(sqs, "url", [Entry(f"e{i}", "x") for i in range(25)]) == []
    assert [len(c) for c in sqs.calls] == [10, 10, 5]


def test_given_large_bodies_then_no_call_exceeds_256_kib():
    sqs = FakeSqs()
    send_entries(sqs, "url", [Entry(f"e{i}", "x" * (60 * 1024)) for i in range(10)])
    assert [len(c) for c in sqs.calls] == [4, 4, 2]
    assert all(sum(len(e["MessageBody"]) for e in call) <= MAX_BATCH_BYTES for call in sqs.calls)


def test_given_a_refused_entry_then_only_it_is_sent_again():
    sqs = FakeSqs(fail_ids_once={"e3"})
    assert send_entries(sqs, "url", [Entry(f"e{i}", "x") for i in range(5)]) == []
    assert [[e["Id"] for e in c] for c in sqs.calls] == [["e0", "e1", "e2", "e3", "e4"], ["e3"]]


def test_given_an_entry_sqs_calls_invalid_then_it_is_given_back_without_retries():
    sqs = FakeSqs(sender_fault={"e1"})
    assert [e.id for e in send_entries(sqs, "url", [Entry("e0", "x"), Entry("e1", "x")])] == ["e1"]
    assert len(sqs.calls) == 1


def test_given_recipients_then_chunks_hold_at_most_500_and_stay_small(monkeypatch):
    monkeypatch.delenv("BULK_CHUNK_RECIPIENTS", raising=False)
    plain = [(i, f"+2246220{i:05d}", None) for i in range(1201)]
    bodies = [json.loads(b) for b in chunk_bodies("bat_x", "ten_x", plain)]
    assert [len(b["recipients"]) for b in bodies] == [500, 500, 201]
    assert [b["chunk"] for b in bodies] == [0, 1, 2]
    big_vars = [(i, f"+2246220{i:05d}", {"v": "é" * 400}) for i in range(300)]
    sized = chunk_bodies("bat_x", "ten_x", big_vars)
    assert len(sized) > 1 and all(len(b.encode()) <= CHUNK_BYTES * 2 for b in sized)
    assert sum(len(json.loads(b)["recipients"]) for b in sized) == 300
