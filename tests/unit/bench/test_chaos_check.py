"""bench.chaos_check: the invariants of `make chaos`, from records and outboxes."""

from __future__ import annotations

from bench.chaos_check import check, lines
from bench.report import MISS

ACCEPTED = {"m1": "+224620000001", "m2": "+224620000002", "m3": "+24106000003", "m4": "+224620000004"}


def _entry(to: str, provider: str = "passeinfo", pmid: str | None = None) -> dict:
    return {"provider": provider, "to": to, "provider_message_id": pmid}


def test_given_every_message_done_once_then_nothing_is_flagged():
    items = {
        "m1": {"status": "sent"},
        "m2": {"status": "delivered"},
        "m3": {"status": "unconfirmed", "reason": "timeout"},
        "m4": {"status": "failed", "reason": "rejected"},
    }
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
    items = {
        "m1": {"status": "sent"},
        "m2": {"status": "unconfirmed"},
        "m3": {"status": "sent"},
        "m4": {"status": "sent"},
    }
    outbox = [_entry("+224620000001"), _entry("+224620000001", "messagepro"),
              _entry("+224620000002"), _entry("+224620000002"),
              _entry("24106000003", "smsgate", "m3"), _entry("24106000003", "smsgate", "m3"),
              _entry("+224620000004")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert (
        sorted(f.twice) == ["m1", "m3"] and f.twice_unconfirmed == ["m2"] and f.smsgate_twice == ["m3 to 24106000003"]
    )


def test_given_an_smsgate_list_request_then_its_shared_id_is_not_a_duplicate():
    items = {"m1": {"status": "sent"}, "m2": {"status": "sent"}, "m3": {"status": "sent"}, "m4": {"status": "sent"}}
    outbox = [_entry(n, "smsgate", "list1") for n in ("+224620000001", "+224620000002", "24106000003", "+224620000004")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert (f.smsgate_twice, f.twice) == ([], [])
    f = check(ACCEPTED, items, [*outbox, _entry("24106000003", "smsgate", "list1")], queues_empty=True)
    assert (f.smsgate_twice, f.twice) == (["list1 to 24106000003"], ["m3"])


def test_given_a_taken_message_recorded_failed_or_a_sent_one_nowhere_then_both_are_flagged():
    items = {"m1": {"status": "failed"}, "m2": {"status": "sent"}, "m3": {"status": "sent"}, "m4": {"status": "sent"}}
    outbox = [_entry("+224620000001"), _entry("+24106000003"), _entry("+224620000004"), _entry("+999")]
    f = check(ACCEPTED, items, outbox, queues_empty=True)
    assert f.taken_but_failed == ["m1"] and f.sent_not_taken == ["m2"] and f.stray_entries == 1


def test_given_the_sandbox_log_then_applied_faults_are_counted_by_mode():
    from bench.chaos_provider import applied_faults

    log = ("2026-11-22 15:00:00,000 sandbox fault drop on passeinfo /v1/message/single_message\n"
           "2026-11-22 15:00:00,100 sandbox fault error on ventis /api/v1/sms\n"
           "2026-11-22 15:00:00,200 sandbox fault drop on smsgate /3rdparty/v1/message\n"
           "2026-11-22 15:00:00,300 something else\n")
    assert applied_faults(log) == {"drop": 2, "error": 1}


def test_given_unconfirmed_messages_then_those_no_provider_request_named_are_flagged():
    items = {"m1": {"status": "unconfirmed"}, "m2": {"status": "unconfirmed"}, "m3": {"status": "sent"},
             "m4": {"status": "sent"}}
    outbox = [_entry("+24106000003"), _entry("+224620000004")]
    received = {"224620000001": 1}.get  # m1 was received (held until the client timed out), m2 never

    f = check(ACCEPTED, items, outbox, queues_empty=True, received=lambda n: received(n.lstrip("+"), 0))

    assert f.unconfirmed_never_received == ["m2"]
    assert [ln.verdict for ln in lines(f) if ln.what.startswith("unconfirmed, the sandbox")] == [MISS]


def test_given_batches_then_unfinished_and_miscounted_ones_are_flagged():
    from bench.chaos_check import Findings, check_batches

    batches = {"b1": {"finished_at": "t", "total": 2, "count_sent": 2},
               "b2": {"state": "open", "total": 2, "count_sent": 1, "count_queued": 1},
               "b3": {"finished_at": "t", "total": 1, "count_sent": 1, "count_queued": -1, "count_failed": 1}}
    records = [{"batch_id": "b1", "status": "sent"}, {"batch_id": "b1", "status": "sent"},
               {"batch_id": "b2", "status": "sent"}, {"batch_id": "b2", "status": "sent"},
               {"batch_id": "b3", "status": "sent"}, {"batch_id": None, "status": "sent"}]
    f = Findings()

    check_batches(f, batches, records)

    assert [b.split()[0] for b in f.batches_incomplete] == ["b2"]
    assert f.batches_miscounted == ["b2 (queued 1≠0, sent 1≠2)", "b3 (failed 1≠0, queued -1≠0)"]


def test_given_histories_then_entries_without_their_event_id_are_flagged():
    from bench.chaos_check import Findings, check_events

    histories = {"m1": [{"status": "queued"}, {"status": "sending"}, {"status": "sent"}], "m2": [{"status": "queued"}]}
    seen = {"m1:0": 1, "m1:2": 2, "m2:0": 1}
    f = Findings()

    check_events(f, histories, seen, {("m1", "queued"): 1, ("m1", "sent"): 2, ("m2", "queued"): 1}, 4, 0)

    assert f.events_missing == ["m1:1"] and f.transitions == 4 and f.events_by_status_missing == 1


def test_given_a_refused_send_that_reached_a_provider_then_it_is_flagged():
    from bench.chaos_check import Findings, check_refused

    f = Findings()
    check_refused(f, ["+224620000009", "+224620000008"], [_entry("224620000009")])
    assert f.refused == 2 and f.refused_but_sent == ["224620000009"]


def test_given_a_sender_that_died_in_flight_then_its_unconfirmed_message_is_counted_apart_not_flagged():
    items = {"m1": {"status": "unconfirmed"}, "m2": {"status": "unconfirmed"}, "m3": {"status": "sent"},
             "m4": {"status": "sent"}}
    outbox = [_entry("+24106000003"), _entry("+224620000004")]
    stopped = {"224620000002"}  # m2's request was stopped: its invocation died after the dispatch mark

    f = check(ACCEPTED, items, outbox, queues_empty=True, received=lambda n: 0,
              stopped=lambda n: int(n.lstrip("+") in stopped))

    assert (f.unconfirmed_never_received, f.never_received_stopped) == (["m1"], 1)
