"""The gather of list-capable records of one sender invocation (tamtam.messaging.lists)."""

from __future__ import annotations

import threading
import time

from tamtam.messaging import lists
from tamtam.providers.base import OutboundMessage


def _member(i: int, text: str = "t") -> lists.Member:
    return lists.Member(message=None, client=None, outbound=OutboundMessage(f"m{i}", f"+2246220000{i:02d}", text),  # type: ignore[arg-type]
                        slot=0.0)


def _join_all(gather: lists.Gather, members: list[lists.Member]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}

    def one(member: lists.Member) -> None:
        groups[member.outbound.message_id] = [m.outbound.message_id for m in gather.join(member)]

    threads = [threading.Thread(target=one, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    return groups


def test_given_every_record_joins_then_one_group_per_text_at_most_list_max_each():
    members = [_member(i, "a") for i in range(5)] + [_member(i, "b") for i in range(5, 7)]
    groups = _join_all(lists.Gather(7, list_max=3), members)
    sizes = sorted(len(set(g)) for g in {tuple(sorted(g)) for g in groups.values()})
    assert sizes == [2, 2, 3]  # "a": 3 + 2, "b": 2
    assert all(len({members[int(i[1:])].outbound.text for i in g}) == 1 for g in groups.values())


def test_given_records_that_leave_then_the_others_do_not_wait_for_the_window():
    gather = lists.Gather(4, list_max=10)
    gather.leave()
    gather.leave()
    started = time.monotonic()
    groups = _join_all(gather, [_member(0), _member(1)])
    assert time.monotonic() - started < lists.GATHER_SECONDS
    assert groups == {"m0": ["m0", "m1"], "m1": ["m0", "m1"]} or groups == {"m0": ["m1", "m0"], "m1": ["m1", "m0"]}


def test_given_a_straggler_then_the_round_closes_after_the_window_without_it():
    gather = lists.Gather(3, list_max=10)
    started = time.monotonic()
    groups = _join_all(gather, [_member(0), _member(1)])
    assert lists.GATHER_SECONDS <= time.monotonic() - started < lists.GATHER_SECONDS + 1
    assert sorted(groups["m0"]) == ["m0", "m1"]
    straggler = _member(2)
    assert gather.join(straggler) == [straggler]  # a round of its own, at once (nobody else pending)


def test_given_the_same_number_twice_then_never_in_one_request():
    twins = [_member(1), _member(1), _member(2)]
    twins[1].outbound = OutboundMessage("m9", twins[0].outbound.to, "t")
    groups = _join_all(lists.Gather(3, list_max=10), twins)
    assert sorted(groups["m1"]) == ["m1", "m2"] and groups["m9"] == ["m9"]
