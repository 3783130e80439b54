"""Each message waits for its slot right before the provider call.

The sender opens a `Pool` per provider and lane of a batch, and runs each record inside
`turn(pool)`, which hands the record its `Ticket`; the sender passes the ticket to the send
(tamtam.messaging.send.process). When a record is ready to call the provider (claimed, text
rendered), `take_turn(ticket)` gives it the pool's next slot and `sleep_until(slot, ticket)`
sleeps until then (the sender writes its dispatch mark in between); `wait_turn(ticket)` does
both. With no slot before the
pool's deadline (the invocation's end, less a margin for the call) the record does not call. A pool reserves
(tamtam.pacing.slots) for the records that are ready: the first one waits for the batch's
others (at most its lane's `GATHER_SECONDS`; a record that ends without a provider call stops
being waited for), then one write reserves for all of them. So a batch costs one write in the
common case, and a slot never goes to a record still being claimed. A record woken too late for
its slot (by more than the tolerance) takes a fresh one: a call never starts late.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tamtam import clock
from tamtam.observability import logger
from tamtam.pacing.slots import BULK, TX, grid, reserve

# How long the first ready record of a batch waits for the others before reserving: short for
# transactional messages (a code is waited for), longer for bulk, whose records then reserve
# together (one write a batch) even when their claims come back one by one.
GATHER_SECONDS = {TX: 0.1, BULK: 0.5}


class Pool:
    """The slots of one batch's `records` records of one provider and one lane."""

    def __init__(self, table: Any, provider: str, lane: str, records: int, *, deadline: float):
        self.table, self.provider, self.lane, self.deadline = table, provider, lane, deadline
        paced = grid(provider)
        if paced is None:  # explicit: an assert would vanish under python -O
            raise AssertionError(f"{provider} is not paced")
        self.tolerance, self.spacing = paced.tolerance, paced.spacing
        self._slots: deque[float] = deque()
        self._unserved = records  # records without a slot that may still ask for one
        self._waiting = 0  # records asking now
        self._changed = threading.Condition()
        self._filling = threading.Lock()  # one reservation at a time

    def _pop(self) -> float | None:
        too_old = clock.now() - self.tolerance
        while self._slots and self._slots[0] < too_old:
            self._slots.popleft()  # expired unused: never used late
        if not self._slots:
            return None
        self._unserved -= 1
        return self._slots.popleft()

    def take(self) -> float | None:
        """The next slot (epoch seconds); None when none came before the deadline."""
        with self._changed:
            self._waiting += 1
            self._changed.notify_all()
        try:
            while True:
                with self._changed:
                    slot = self._pop()
                    if slot is not None:
                        return slot
                with self._filling:
                    if not self._fill():
                        self.forget()
                        return None
        finally:
            with self._changed:
                self._waiting -= 1

    def _gather(self) -> int:
        """How many records to reserve for, once the batch's ready records are all asking."""
        end = time.monotonic() + GATHER_SECONDS.get(self.lane, GATHER_SECONDS[TX])
        with self._changed:
            while not self._slots and self._waiting < self._unserved and (left := end - time.monotonic()) > 0:
                self._changed.wait(left)
            return max(self._waiting - len(self._slots), 1)

    def _fill(self) -> bool:
        """Reserve for the records waiting; while the horizon is full, wait for it to move on.
        False at the deadline."""
        while True:
            wanted = self._gather()
            with self._changed:
                if self._slots:
                    return True  # another record filled the pool meanwhile
            fresh = reserve(self.table, self.provider, self.lane, wanted)
            if fresh:
                with self._changed:
                    self._slots.extend(fresh)
                return True
            if clock.now() >= self.deadline:
                return False
            time.sleep(max(0.05, min(1.0, wanted * self.spacing, self.deadline - clock.now())))  # the horizon moves on

    def forget(self) -> None:
        """A record will not ask (again): it ended without a provider call, or got none."""
        with self._changed:
            self._unserved -= 1
            self._changed.notify_all()

    def retake(self) -> None:
        """A record that missed its slot asks for another one."""
        with self._changed:
            self._unserved += 1


@dataclass
class Ticket:
    """One record's place in its pool: handed by `turn` to the send, which passes it to
    take_turn and sleep_until (None: the record is not paced)."""

    pool: Pool
    took: bool = False


@contextlib.contextmanager
def turn(pool: Pool | None) -> Iterator[Ticket | None]:
    """Run one record of `pool`'s batch (None: its provider is not paced); the record's ticket."""
    ticket = Ticket(pool) if pool is not None else None
    try:
        yield ticket
    finally:
        if ticket is not None and not ticket.took:
            ticket.pool.forget()


def _slot(ticket: Ticket) -> float | None:
    slot = ticket.pool.take()
    if slot is None or slot > ticket.pool.deadline:  # the horizon stayed full: an overload
        logger.warning("no rate slot before the deadline; not sending in this invocation",
                       extra={"provider": ticket.pool.provider})
        return None
    return slot


def take_turn(ticket: Ticket | None) -> float | None:
    """This record's slot (epoch seconds; now when it is not paced). None when no slot comes
    before the invocation's deadline: the record must not call the provider in this invocation
    (the sender releases its claim and sees it again later), so a pacing wait never outlives
    the invocation."""
    if ticket is None or ticket.took:
        return clock.now()
    ticket.took = True
    return _slot(ticket)


def sleep_until(slot: float, ticket: Ticket | None, *, lead: float = 0.0) -> float | None:
    """Sleep until `lead` seconds before `slot` (taken by take_turn); the slot it kept. A record
    woken too late for it (by more than the tolerance) takes a fresh one: a call never starts
    late. None when none came before the deadline. With a `lead`, the caller does its last
    short step (the sender's dispatch mark) and then `settle(slot)`."""
    while True:
        delay = slot - lead - clock.now()
        if delay > 0:
            time.sleep(delay)
        if ticket is None or clock.now() - slot <= ticket.pool.tolerance:
            return slot
        ticket.pool.retake()
        fresh = _slot(ticket)
        if fresh is None:
            return None
        slot = fresh


def settle(slot: float) -> None:
    """The rest of the wait for `slot`: a plain sleep, no call to anything."""
    delay = slot - clock.now()
    if delay > 0:
        time.sleep(delay)


def wait_turn(ticket: Ticket | None) -> bool:
    """Take this record's slot and sleep until it (at once when it is not paced). False: no
    slot before the deadline, do not call the provider now."""
    slot = take_turn(ticket)
    return slot is not None and sleep_until(slot, ticket) is not None
