"""SQS event source mappings, emulated: pollers that receive from each queue, invoke the function
with the SQS event exactly as Lambda builds it, and delete what succeeded.

Per event source one poll thread long-polls the queue (WaitTimeSeconds 1, so that stop is quick)
and hands batches to up to `maximum_concurrency` worker threads (default 2). With
ReportBatchItemFailures the records named in `batchItemFailures` stay in the queue and the rest
are deleted; an error (or an invalid failure report) deletes nothing. What stays comes back after
its visibility timeout and moves to the DLQ after maxReceiveCount: moto does both.

`duplicate_rate` re-delivers that fraction of records a second time, in the same batch or in
the next one, as SQS's at-least-once delivery may do. `simultaneous` (function logical id ->
rate, empty by default) delivers that fraction of a function's batches twice at the same moment:
a second invocation with the same records starts together with the first (a barrier), and each
deletes what it processed; `twinned` counts them per function.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from local.stack.invoker import FunctionError, Invoker

log = logging.getLogger("local.stack.pollers")

DEFAULT_CONCURRENCY = 2
_COUNT_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


@dataclass(frozen=True)
class SqsSource:
    function: str  # logical id
    queue_url: str
    batch_size: int = 10
    batching_window: float = 0.0  # MaximumBatchingWindowInSeconds
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    enabled: bool = True

    @property
    def concurrency(self) -> int:
        return max(1, self.maximum_concurrency or DEFAULT_CONCURRENCY)


def lambda_message_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the shape of an SQS event record."""
    out = {}
    for name, attr in attrs.items():
        entry: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": attr["DataType"],
        }
        if "StringValue" in attr:
            entry["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            value = attr["BinaryValue"]
            entry["binaryValue"] = base64.b64encode(value).decode() if isinstance(value, bytes) else value
        out[name] = entry
    return out


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One received message -> one record of Lambda's SQS event."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: str(v) for k, v in message.get("Attributes", {}).items()},
        "messageAttributes": lambda_message_attributes(message.get("MessageAttributes", {})),
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update({
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    })
    return record


def failed_ids(result: Any, records: list[dict[str, Any]]) -> set[str] | None:
    """Message ids to keep from a ReportBatchItemFailures response; None: the whole batch failed
    (Lambda's rules: an empty/null response or list is a success, a bad identifier a failure)."""
    if result is None or result == {} or result == []:
        return set()
    if not isinstance(result, dict):
        return None
    failures = result.get("batchItemFailures")
    if failures is None or failures == []:
        return set()
    if not isinstance(failures, list):
        return None
    known = {r["messageId"] for r in records}
    ids: set[str] = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(ident, str) or ident not in known:
            return None
        ids.add(ident)
    return ids


class _Poller:
    """One event source mapping."""

    def __init__(self, owner: Pollers, source: SqsSource):
        self.owner = owner
        self.source = source
        self.queue_arn = owner.sqs.get_queue_attributes(
            QueueUrl=source.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.slots = threading.Semaphore(source.concurrency)
        self.pending: list[dict[str, Any]] = []  # duplicates for the next batch
        self.pool = ThreadPoolExecutor(source.concurrency, thread_name_prefix=f"sqs-{source.function}")
        self.thread = threading.Thread(target=self.run, name=f"poll-{source.function}", daemon=True)

    def run(self) -> None:
        stop = self.owner.stopping
        while not stop.is_set():
            if not self.slots.acquire(timeout=0.2):
                continue
            try:
                records = self.next_batch()
            except Exception:  # moto gone during stop, or a transient error: retry
                self.slots.release()
                if not stop.is_set():
                    log.exception("receive failed queue=%s", self.source.queue_url)
                    stop.wait(0.5)
                continue
            if not records:
                self.slots.release()
                continue
            self.pool.submit(self.process, records)

    def next_batch(self) -> list[dict[str, Any]]:
        messages = self.receive()
        with self.owner.lock:
            fresh = [sqs_record(m, self.queue_arn) for m in messages]
            records = self.pending + fresh
            self.pending.clear()
            records += self.owner.duplicates(fresh, self.pending)
            if records:
                self.owner.in_flight += 1
                self.owner.batches += 1
        return records

    def receive(self) -> list[dict[str, Any]]:
        src, stop = self.source, self.owner.stopping
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while not stop.is_set() and len(messages) < src.batch_size:
            wait, remaining = self.owner.wait_seconds, 0.0
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(wait, int(remaining))
            if self.pending and not messages:
                wait = 0  # duplicates are waiting: do not hold them back a whole second
            got = self.owner.sqs.receive_message(
                QueueUrl=src.queue_url,
                MaxNumberOfMessages=min(src.batch_size - len(messages), 10),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages += got
            if not messages:
                break
            if deadline is None:
                if src.batching_window <= 0:
                    break
                deadline = time.monotonic() + src.batching_window
            elif not got and wait == 0:
                stop.wait(min(0.05, remaining))
        return messages

    def process(self, records: list[dict[str, Any]]) -> None:
        src = self.source
        twin: threading.Thread | None = None
        try:
            if self.owner.twin(src.function):
                together = threading.Barrier(2)
                twin = threading.Thread(target=self.invoke, args=([dict(r) for r in records], together),
                                        name=f"twin-{src.function}", daemon=True)
                twin.start()
                self.invoke(records, together)
            else:
                self.invoke(records)
        finally:
            if twin is not None:
                twin.join()
            with self.owner.lock:
                self.owner.in_flight -= 1
            self.slots.release()

    def invoke(self, records: list[dict[str, Any]], together: threading.Barrier | None = None) -> None:
        """One invocation with `records`, then the deletes of what it processed."""
        src = self.source
        try:
            with self.owner.lock:
                self.owner.counts[src.function] += 1
            if together is not None:
                together.wait(timeout=5)
            try:
                result = self.owner.invoker.invoke(src.function, {"Records": records})
            except FunctionError as err:
                log.info("batch failed function=%s size=%d error=%s", src.function, len(records), err.error_type)
                return
            keep = failed_ids(result, records) if src.report_batch_item_failures else set()
            if keep is None:
                log.warning("invalid batchItemFailures from %s: the whole batch fails", src.function)
                return
            self.delete([r for r in records if r["messageId"] not in keep])
        except Exception:
            log.exception("poller error function=%s", src.function)

    def delete(self, records: list[dict[str, Any]]) -> None:
        handles = list(dict.fromkeys(r["receiptHandle"] for r in records))
        for i in range(0, len(handles), 10):
            chunk = handles[i:i + 10]
            resp = self.owner.sqs.delete_message_batch(
                QueueUrl=self.source.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(chunk)],
            )
            for failure in resp.get("Failed", []):
                log.debug("delete failed queue=%s: %s", self.source.queue_url, failure)

    def stop(self) -> None:
        self.thread.join()
        self.pool.shutdown(wait=True)


class Pollers:
    """All SQS event source mappings of the stack."""

    def __init__(
        self,
        invoker: Invoker,
        sources: Iterable[SqsSource],
        *,
        endpoint_url: str | None = None,
        region: str = "eu-west-1",
        sqs_client: Any = None,
        duplicate_rate: float = 0.0,
        seed: int | None = None,
        wait_seconds: int = 1,
    ):
        self.invoker = invoker
        self.sources = [s for s in sources if s.enabled]
        self.duplicate_rate = duplicate_rate
        self.wait_seconds = max(0, min(int(wait_seconds), 1))
        self.rng = random.Random(seed)
        pool = sum(1 + s.concurrency for s in self.sources) + 4
        self.sqs = sqs_client or boto3.client(
            "sqs", endpoint_url=endpoint_url, region_name=region,
            config=Config(max_pool_connections=pool, retries={"mode": "standard"}),
        )
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.batches = 0
        self.duplicated = 0
        self.simultaneous: dict[str, float] = {}  # function logical id -> share of batches delivered twice at once
        self.twinned: Counter[str] = Counter()
        self._pollers: list[_Poller] = []

    def start(self) -> Pollers:
        self.stopping.clear()
        self._pollers = [_Poller(self, s) for s in self.sources]
        for p in self._pollers:
            p.thread.start()
        log.info("SQS pollers started for %d event sources", len(self._pollers))
        return self

    def stop(self) -> None:
        self.stopping.set()
        for p in self._pollers:
            p.stop()
        self._pollers = []

    @property
    def invocations(self) -> dict[str, int]:
        """Invocations per function logical id made by the pollers."""
        with self.lock:
            return dict(self.counts)

    def duplicates(self, records: list[dict[str, Any]], pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Copies of a `duplicate_rate` fraction of records: returned for this batch, or put in
        `pending` for the next one. Called under `lock`."""
        same: list[dict[str, Any]] = []
        if self.duplicate_rate <= 0:
            return same
        for record in records:
            if self.rng.random() < self.duplicate_rate:
                self.duplicated += 1
                (same if self.rng.random() < 0.5 else pending).append(dict(record))
        return same

    def twin(self, function: str) -> bool:
        """Whether this batch of `function` is delivered twice at the same moment (counted)."""
        rate = self.simultaneous.get(function, 0.0)
        if rate <= 0:
            return False
        with self.lock:
            if self.rng.random() >= rate:
                return False
            self.twinned[function] += 1
            return True

    def _queue_counts(self) -> dict[str, int]:
        counts = {}
        for url in dict.fromkeys(s.queue_url for s in self.sources):
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=_COUNT_ATTRIBUTES)
            counts[url] = sum(int(attrs["Attributes"].get(a, 0)) for a in _COUNT_ATTRIBUTES)
        return counts

    def _busy(self) -> bool:
        return self.in_flight > 0 or any(p.pending for p in self._pollers)

    def idle(self) -> bool:
        """True when every source queue is empty (visible, in flight and delayed) and no
        invocation is running or waiting."""
        with self.lock:
            if self._busy():
                return False
            generation = self.batches
        if any(self._queue_counts().values()):
            return False
        with self.lock:
            return not self._busy() and self.batches == generation

    def drain(self, timeout: float = 30.0, interval: float = 0.05) -> None:
        """Wait until `idle()`; raise TimeoutError naming what is still busy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return
            time.sleep(interval)
        busy = {url: n for url, n in self._queue_counts().items() if n}
        raise TimeoutError(f"pollers not idle after {timeout}s: in_flight={self.in_flight} queues={busy}")
