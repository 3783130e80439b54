"""Stream records -> the history entries they added, and what each batch of them moves."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from tamtam.lifecycle.changes import all_changes, changes_of
from tamtam.lifecycle.derive import _first_failures, batch_moves

ROOT = Path(__file__).resolve().parents[3]
RECORDS = json.loads((ROOT / "events" / "lifecycle" / "stream_batch.json").read_text())["Records"]
MESSAGE = "msg_events00000000000000000001_000000"
BATCH = "bat_events00000000000000000001"


def test_given_the_events_file_then_each_history_entry_is_one_change_numbered_by_its_index():
    changes = all_changes(RECORDS)
    assert [(c.event_id, c.old_status, c.new_status, c.created) for c in changes] == [
        (f"{MESSAGE}:0", None, "queued", True), (f"{MESSAGE}:1", "queued", "sending", False),
        (f"{MESSAGE}:2", "sending", "sent", False)]
    assert {c.batch_id for c in changes} == {BATCH}


def test_given_the_same_record_delivered_twice_then_the_same_event_ids():
    assert [c.event_id for c in changes_of(RECORDS[1])] == [c.event_id for c in changes_of(copy.deepcopy(RECORDS[1]))]


def test_given_a_removal_or_another_item_then_no_change():
    removed = {**RECORDS[2], "eventName": "REMOVE"}
    other = copy.deepcopy(RECORDS[0])
    other["dynamodb"]["Keys"]["sk"] = {"S": "BATCH"}
    assert changes_of(removed) == [] and changes_of(other) == []


def test_given_a_batch_of_changes_then_net_moves_per_batch_and_a_token_that_names_the_records():
    (moves, token) = batch_moves(all_changes(RECORDS))[BATCH]
    assert dict(moves) == {"sent": 1}  # +queued, queued->sending, sending->sent
    (_, again) = batch_moves(all_changes(copy.deepcopy(RECORDS)))[BATCH]
    (_, fewer) = batch_moves(all_changes(RECORDS[1:]))[BATCH]
    assert token == again != fewer


def test_given_a_failover_entry_with_the_same_status_then_it_moves_nothing():
    record = copy.deepcopy(RECORDS[1])
    entry = record["dynamodb"]["NewImage"]["history"]["L"][-1]["M"]
    entry["status"] = {"S": "queued"}
    assert batch_moves(changes_of(record)) == {}


def test_given_unconfirmed_then_failed_then_the_failure_counts_once_and_refusals_at_fan_out_not_at_all():
    base = all_changes(RECORDS)
    unconfirmed = base[2].__class__(**{**base[2].__dict__, "new_status": "unconfirmed"})
    failed_later = base[2].__class__(
        **{**base[2].__dict__, "sequence": 3, "old_status": "unconfirmed", "new_status": "failed"}
    )
    refused = base[0].__class__(**{**base[0].__dict__, "new_status": "failed"})
    assert _first_failures([unconfirmed, failed_later, refused]) == [unconfirmed]
