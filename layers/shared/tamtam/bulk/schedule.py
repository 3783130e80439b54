"""Scheduled sends (docs/scheduling.md): validating `schedule_at`, and the sweep that releases
due messages.

A scheduled message sits in gsi1 under `STATUS#scheduled`, sorted by its due time
(`<schedule_at>#<id>`). Every minute the scheduler takes the messages due within the next
minute (the look-ahead), puts each on its provider's queue with an SQS delay that makes it
visible at its due time, and only then moves it `scheduled` -> `queued` with a conditional
write. A crash in between leaves it `scheduled`, still in the index: the next sweep enqueues
it again (the sender's claim makes the spare queue message harmless; one that finds the record
still `scheduled` waits a little, then is dropped). A message whose enqueue fails stays
`scheduled` for the next sweep. One cancelled meanwhile is not released: its queue message
finds it `cancelled`, and the sender only ever claims `queued` records.
"""

from __future__ import annotations

import math
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tamtam import clock, failpoints, queues
from tamtam.bulk.sqs_batch import Entry, send_entries
from tamtam.errors import InvalidRequest
from tamtam.observability import logger
from tamtam.queue_bodies import QueueBody
from tamtam.status import Status
from tamtam.store import messages, status_index
from tamtam.store.message_item import MessageItem

MAX_AHEAD_SECONDS = 30 * 86400
MAX_SQS_DELAY = 900
_PAGE = 100
_workers = ThreadPoolExecutor(max_workers=16)


def epoch(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text).timestamp()


def parse_schedule(text: str | None, *, now: float | None = None) -> float | None:
    """`schedule_at` (ISO 8601 with an offset) -> epoch seconds; at most 30 days ahead."""
    if text is None:
        return None

    def invalid(message: str) -> InvalidRequest:
        return InvalidRequest(message, field="schedule_at", code="invalid_schedule")

    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise invalid("schedule_at is not an ISO 8601 time, e.g. 2026-05-01T09:00:00+00:00") from None
    if moment.tzinfo is None:
        raise invalid("schedule_at needs a UTC offset (Z or +hh:mm)")
    at, now = moment.timestamp(), clock.now() if now is None else now
    if at < now:
        raise invalid("schedule_at is in the past")
    if at > now + MAX_AHEAD_SECONDS:
        raise invalid("schedule_at is more than 30 days ahead")
    return at


def lookahead_seconds() -> int:
    """How far ahead a sweep releases messages: the schedule's period (60 s by default)."""
    return int(os.environ.get("SCHEDULER_LOOKAHEAD_SECONDS", "60"))


@dataclass
class Sweep:
    released: int = 0
    raced: int = 0  # cancelled or released by another sweep meanwhile
    requeued: int = 0  # enqueue failed: left `scheduled` for the next sweep
    complete: bool = True  # False: stopped at the deadline with due messages left


def _scheduled(table: Any, message_id: str) -> MessageItem | None:
    message = messages.get(table, message_id)
    return message if message is not None and message.status == Status.SCHEDULED else None


def _release(table: Any, message: MessageItem) -> MessageItem | None:
    failpoints.hit("scheduler.enqueued", message_id=message.id)
    return messages.transition(table, message.id, Status.QUEUED, expect={Status.SCHEDULED})


def _body(message: MessageItem) -> str:
    lane = queues.BULK if message.batch_id else queues.TX
    return QueueBody.for_message(message, lane).to_json()


def _enqueue_then_release(table: Any, sqs: Any, due: list[MessageItem], now: float, sweep: Sweep) -> None:
    by_queue: dict[str, list[tuple[Entry, MessageItem]]] = defaultdict(list)
    for message in due:
        lane = queues.BULK if message.batch_id else queues.TX
        delay = math.ceil(epoch(message.schedule_at) - now) if message.schedule_at else 0
        entry = Entry(id=message.id, body=_body(message), delay=min(max(delay, 0), MAX_SQS_DELAY))
        by_queue[queues.provider_queue(message.provider, lane)].append((entry, message))
    for url, pairs in by_queue.items():
        unsent = {e.id for e in send_entries(sqs, url, [e for e, _ in pairs])}
        enqueued = [m for _, m in pairs if m.id not in unsent]
        for message_id in sorted(unsent):
            sweep.requeued += 1
            logger.warning("scheduled message not enqueued; retried next sweep", extra={"message_id": message_id})
        for moved in _workers.map(lambda m: _release(table, m), enqueued):
            if moved is not None:
                sweep.released += 1
            else:  # cancelled (or released by another sweep) meanwhile: its queue message finds that
                sweep.raced += 1


def release_due(table: Any, sqs: Any, *, deadline: float, now: float | None = None) -> Sweep:
    """Release every message due before now + look-ahead, page by page, until `deadline`
    (a time.monotonic() value)."""
    now = clock.now() if now is None else now
    upper = clock.iso(now + lookahead_seconds()) + "$"  # "$" sorts after "#": every id at that time
    sweep, start = Sweep(), None
    while True:
        ids, start = status_index.scheduled_before(table, upper, start, page=_PAGE)
        due = [m for m in _workers.map(lambda mid: _scheduled(table, mid), ids) if m is not None]
        sweep.raced += len(ids) - len(due)
        if due:
            _enqueue_then_release(table, sqs, due, now, sweep)
        if not start:
            return sweep
        if time.monotonic() > deadline:
            sweep.complete = False
            return sweep
