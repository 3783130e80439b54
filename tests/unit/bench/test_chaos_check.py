"""bench.chaos_check: the invariants of `make chaos`, from records and outboxes."""

from __future__ import annotations

from bench.chaos_check import check, lines
from bench.report import MISS

ACCEPTED = {"m1": "+224620000001", "m2": "+224620000002", "m3": "+24106000003", "m4": "+224620000004"}


def _entry(to: str, provider: str = "passeinfo", pmid: str | None = None) -> dict:
    return {"provider": provider, "to": to, "provider_message_id": pmid}


def test_given_every_message_done_once_then_nothing_is_flagged():
    items = {"m1": {"status": "sent"}, "m2": {"status": "delivered"}, "m3": {"status": "unconfirmed", "reason": "timeout"},
             "m4": {"status": "failed", "reason": "rejected"}}
    outbox = [_entry("+224620000001"), _entry("224620000002", "smsgate", "m2"), _entry("24106000003", "ventis")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert (f.lost, f.stuck, f.twice, f.smsgate_twice, f.taken_but_failed, f.sent_not_taken) == ([], [], [], [], [], [])
    assert (f.unconfirmed_taken, f.unconfirmed_not_taken) == (1, 0)
    assert MISS not in {ln.verdict for ln in lines(f)}


def test_given_a_missing_record_and_an_unfinished_one_with_empty_queues_then_both_are_lost():
    items = {"m1": {"status": "sending"}, "m2": {"status": "sent"}, "m3": {"status": "sent"}}
    outbox = [_entry("+224620000002"), _entry("+24106000003")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert sorted(f.lost) == ["m1", "m4"] and f.stuck == ["m1"]
    assert check(ACCEPTED, items, outbox, queues_empty=False).lost == ["m4"]


def test_given_duplicates_then_they_are_flagged_unless_recorded_unconfirmed():
    items = {"m1": {"status": "sent"}, "m2": {"status": "unconfirmed"}, "m3": {"status": "sent"}, "m4": {"status": "sent"}}
    outbox = [_entry("+224620000001"), _entry("+224620000001", "messagepro"),
              _entry("+224620000002"), _entry("+224620000002"),
              _entry("24106000003", "smsgate", "m3"), _entry("24106000003", "smsgate", "m3"),
              _entry("+224620000004")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert sorted(f.twice) == ["m1", "m3"] and f.twice_unconfirmed == ["m2"] and f.smsgate_twice == ["m3"]


def test_given_a_taken_message_recorded_failed_or_a_sent_one_nowhere_then_both_are_flagged():
    items = {"m1": {"status": "failed"}, "m2": {"status": "sent"}, "m3": {"status": "sent"}, "m4": {"status": "sent"}}
    outbox = [_entry("+224620000001"), _entry("+24106000003"), _entry("+224620000004"), _entry("+999")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert f.taken_but_failed == ["m1"] and f.sent_not_taken == ["m2"] and f.stray_entries == 1


def test_given_the_sandbox_log_then_applied_faults_are_counted_by_mode():
    from bench.chaos_faults import applied_faults

    log = ("2026-11-22 15:00:00,000 sandbox fault drop on passeinfo /v1/message/single_message\n"
           "2026-11-22 15:00:00,100 sandbox fault error on ventis /api/v1/sms\n"
           "2026-11-22 15:00:00,200 sandbox fault drop on smsgate /3rdparty/v1/message\n"
           "2026-11-22 15:00:00,300 something else\n")
    assert applied_faults(log) == {"drop": 2, "error": 1}
