"""The records of an SQS-triggered invocation and its partial batch response
(ReportBatchItemFailures, set on every event source mapping in template.yaml): a record whose
handler raises is named in `batchItemFailures` and SQS delivers it again; the others are done
and deleted. An invocation whose every record failed answers them all (never an exception: that
would put back the records already done).

Powertools' batch utilities did this for the functions. Importing them loads every event data
class and asyncio: 60 to 100 ms of each SQS function's cold start, for a loop and a list
(docs/performance.md, cold starts).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from tamtam.observability import logger


@dataclass(frozen=True)
class SqsRecord:
    """One record of the event, as the Lambda event source mapping gives it."""

    raw_event: dict[str, Any]

    @property
    def message_id(self) -> str:
        return str(self.raw_event["messageId"])

    @property
    def body(self) -> str:
        return str(self.raw_event.get("body") or "")

    @property
    def receipt_handle(self) -> str:
        return str(self.raw_event.get("receiptHandle") or "")

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.raw_event.get("attributes") or {})

    @property
    def sent_at(self) -> float | None:
        """When the queue message was first sent (epoch seconds, SQS's SentTimestamp)."""
        try:
            return int(self.attributes["SentTimestamp"]) / 1000
        except (KeyError, TypeError, ValueError):
            return None


def records(event: dict[str, Any]) -> list[SqsRecord]:
    return [SqsRecord(raw) for raw in event.get("Records") or []]


def partial_response(
    event: dict[str, Any], handle: Callable[[SqsRecord], Any], *, executor: Executor | None = None
) -> dict[str, Any]:
    """Each record through `handle`, one after the other, or all at once on `executor`; the
    response names the records whose `handle` raised."""
    batch = records(event)
    if executor is None:
        failed = [record for record in batch if not _ran(handle, record)]
    else:
        futures = [(record, executor.submit(_ran, handle, record)) for record in batch]
        failed = [record for record, future in futures if not future.result()]
    return {"batchItemFailures": [{"itemIdentifier": record.message_id} for record in failed]}


def _ran(handle: Callable[[SqsRecord], Any], record: SqsRecord) -> bool:
    try:
        handle(record)
    except Exception as exc:  # noqa: BLE001 - the record comes back; handlers log what they must
        # The type only: an exception's text can quote a request or a provider's answer.
        logger.debug("record failed", extra={"sqs_message_id": record.message_id, "error": type(exc).__name__})
        return False
    return True
