"""Gathering the recipients of one sender invocation that can share a provider request.

At a provider that takes lists and still reports each recipient (registry `list_max` > 1:
FLOW SMS `phone_numbers`, SMSGate `phoneNumbers`), the bulk records of one SQS batch that carry
the same text are sent in one request. Each recipient is still claimed, prepared and paced on
its own thread (tamtam.messaging.send); only the request is shared:

1. a ready recipient (claimed, text rendered) joins the invocation's `Gather`; the gather closes
   when every record of the batch has joined or ended without a call, or `GATHER_SECONDS` after
   the first joined;
2. the joined recipients are grouped by (text, sender, channel), at most `list_max` a group and
   a number at most once, in the order they joined; a group of one is sent on its own;
3. each member takes its own pacing slot (its share of the provider's rate limit; one with no
   slot before the deadline drops out, back to its queue); the first member with a slot leads
   the request (tamtam.messaging.send): it waits for the latest member's slot, writes the list
   item and each member's dispatch mark, and makes the call; the others wait for their own
   answer and record it themselves.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tamtam.providers.base import OutboundMessage, ProviderClient
from tamtam.store.message_item import MessageItem

GATHER_SECONDS = 0.5  # as long as a bulk pacing pool waits for its batch (tamtam.pacing.turns)
# What a member's leader left it when no provider answer exists for it.
TAKEN_OVER = "taken_over"  # its dispatch mark failed: another sender holds the claim
NOT_MARKED = "not_marked"  # its dispatch mark could not be written: nothing was called
LEADER_LOST = "leader_lost"  # the leader ended between the marks and the answer


@dataclass(eq=False)
class Member:
    message: MessageItem
    client: ProviderClient
    outbound: OutboundMessage
    slot: float | None = None  # its pacing slot, taken once the group is formed (None: none in time)
    slotted: threading.Event = field(default_factory=threading.Event)
    group: list[Member] | None = None
    answer: Any = None  # SendResult, ProviderError, or one of the words above
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.outbound.text, self.outbound.sender, self.outbound.channel)


class Gather:
    """The list-capable records of one invocation (`records` of them)."""

    def __init__(self, records: int, list_max: int):
        self._pending = records  # records that have neither joined nor ended
        self._list_max = list_max
        self._round: list[Member] = []
        self._changed = threading.Condition()

    def leave(self) -> None:
        """A record ended without joining."""
        with self._changed:
            self._pending -= 1
            self._changed.notify_all()

    def join(self, member: Member) -> list[Member]:
        """Wait for the round to close; the member's group (its first member leads)."""
        end = time.monotonic() + GATHER_SECONDS
        with self._changed:
            self._round.append(member)
            self._changed.notify_all()
            while member.group is None:
                if len(self._round) >= self._pending or time.monotonic() >= end:
                    self._close()
                    break
                self._changed.wait(max(0.0, end - time.monotonic()))
        if member.group is None:  # explicit: an assert would vanish under python -O
            raise AssertionError("the gather closed without a group for this member")
        return member.group

    def _close(self) -> None:
        members, self._round = self._round, []
        self._pending -= len(members)
        groups: dict[tuple[str, str | None, str], list[list[Member]]] = {}
        for member in members:  # a number at most once a request (SMSGate: "phone numbers must be unique")
            chunks = groups.setdefault(member.key, [])
            room = next((c for c in chunks if len(c) < self._list_max
                         and all(m.outbound.to != member.outbound.to for m in c)), None)
            if room is None:
                room = []
                chunks.append(room)
            room.append(member)
        for chunks in groups.values():
            for group in chunks:
                for member in group:
                    member.group = group
        self._changed.notify_all()


_gather: contextvars.ContextVar[tuple[Gather, list[bool]] | None] = contextvars.ContextVar(
    "tamtam_list_gather", default=None)


@contextlib.contextmanager
def taking_part(gather: Gather | None) -> Iterator[None]:
    """Run one record of `gather`'s invocation (None: its provider takes no lists)."""
    state = (gather, [False]) if gather is not None else None
    token = _gather.set(state)
    try:
        yield
    finally:
        _gather.reset(token)
        if state is not None and not state[1][0]:
            state[0].leave()


def current() -> Gather | None:
    """The gather this record may join (None: none, or it joined already)."""
    state = _gather.get()
    if state is None or state[1][0]:
        return None
    return state[0]


def joining() -> Gather:
    """Mark this record as joined (it no longer counts as pending when it ends)."""
    state = _gather.get()
    if state is None:  # explicit: an assert would vanish under python -O
        raise AssertionError("joined outside a gather")
    state[1][0] = True
    return state[0]


def stay_out() -> None:
    """This record will not join (it is sent on its own): the others stop waiting for it."""
    state = _gather.get()
    if state is not None and not state[1][0]:
        state[1][0] = True
        state[0].leave()
