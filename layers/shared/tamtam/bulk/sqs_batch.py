"""SendMessageBatch: up to 10 entries and 256 KiB a call, failed entries retried with backoff."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tamtam.observability import logger

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
_TRIES = 5


@dataclass(frozen=True)
class Entry:
    id: str  # unique within a call: letters, digits, `-` and `_`, at most 80
    body: str
    delay: int = 0  # seconds (0..900)


def _calls(entries: list[Entry]) -> Iterator[list[Entry]]:
    call: list[Entry] = []
    size = 0
    for entry in entries:
        length = len(entry.body.encode())
        if call and (len(call) == MAX_ENTRIES or size + length > MAX_BATCH_BYTES):
            yield call
            call, size = [], 0
        call.append(entry)
        size += length
    if call:
        yield call


def _send_call(sqs: Any, url: str, call: list[Entry]) -> list[Entry]:
    """One call with its retries; the entries still refused at the end."""
    pending = call
    for attempt in range(_TRIES):
        try:
            answer = sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": e.id, "MessageBody": e.body, "DelaySeconds": e.delay} for e in pending],
            )
        except (ClientError, BotoCoreError):
            logger.warning("SendMessageBatch failed", extra={"queue_url": url, "attempt": attempt}, exc_info=True)
        else:
            failed = {f["Id"]: f for f in answer.get("Failed", [])}
            if any(f.get("SenderFault") for f in failed.values()):
                logger.error("entries refused by SQS", extra={"failed": list(failed.values())[:3]})
                return [e for e in pending if e.id in failed]
            pending = [e for e in pending if e.id in failed]
            if not pending:
                return []
        time.sleep(min(0.1 * 2**attempt, 2.0) * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
    return pending


def send_entries(sqs: Any, url: str, entries: list[Entry]) -> list[Entry]:
    """Send every entry; returns those that could not be sent (empty when all went)."""
    unsent: list[Entry] = []
    for call in _calls(entries):
        unsent += _send_call(sqs, url, call)
    return unsent
