"""DynamoDB stream event source mappings, emulated: a poller per mapping reads the table's
stream in order (moto records every write), keeps the records its filter matches, and invokes
the function with batches the way Lambda does:

- a batch holds up to `BatchSize` records, gathered for up to `MaximumBatchingWindowInSeconds`;
- records are delivered in order, one batch at a time per shard (ParallelizationFactor 1);
- a failed invocation is retried with the SAME records (no bisecting), with a growing pause, up
  to `MaximumRetryAttempts`, and not once its oldest record is older than
  `MaximumRecordAgeInSeconds`; then the batch's position goes to the on-failure destination (an
  SQS queue) and the poller moves on, as Lambda does;
- `FilterCriteria` patterns of nested keys and lists of exact values or prefixes (the subset the template
  uses) are applied before batching; a record no pattern matches is skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from local.stack.invoker import FunctionError, Invoker
from local.stack.template import StreamEventSource

log = logging.getLogger("local.stack.streams")

_POLL_PAUSE = 0.25  # Lambda polls a shard about four times a second


class UnsupportedPattern(ValueError):
    pass


def _check_pattern(pattern: Any, path: str = "") -> None:
    if isinstance(pattern, dict):
        for key, sub in pattern.items():
            _check_pattern(sub, f"{path}.{key}")
    elif isinstance(pattern, list):
        if not all(isinstance(v, (str, int, float, bool)) or v is None or _is_prefix(v) for v in pattern):
            raise UnsupportedPattern(f"filter {path}: only lists of exact values and prefixes are emulated")
    else:
        raise UnsupportedPattern(f"filter {path}: a pattern leaf must be a list")


def _is_prefix(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"prefix"} and isinstance(value["prefix"], str)


def _leaf_matches(allowed: list[Any], value: Any) -> bool:
    return any(value.startswith(a["prefix"]) if _is_prefix(a) and isinstance(value, str) else value == a
               for a in allowed)


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """An event filter pattern (nested keys; lists of exact values or `{"prefix": ...}`) against
    a record."""
    if not isinstance(record, Mapping):
        return False
    for key, sub in pattern.items():
        value = record.get(key)
        if isinstance(sub, Mapping):
            if not matches(sub, value):
                return False
        elif not _leaf_matches(sub, value):
            return False
    return True


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record in the shape of a Lambda stream event record (the creation time in
    epoch seconds, the stream's ARN added)."""
    dynamodb = dict(record.get("dynamodb") or {})
    created = dynamodb.get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamPoller:
    def __init__(self, invoker: Invoker, function: str, source: StreamEventSource, *, endpoint_url: str,
                 region: str, retry_pause: float = 0.5):
        self.invoker, self.function, self.source = invoker, function, source
        self.patterns = [json.loads(p) for p in source.filter_patterns]
        for pattern in self.patterns:
            _check_pattern(pattern)
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region, config=config)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region, config=config)
        self.retry_pause = retry_pause
        self.invocations = self.failed_invocations = self.gave_up = 0
        self._caught_up = threading.Event()
        self._busy = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{function}", daemon=True)

    def start(self) -> StreamPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def idle(self) -> bool:
        """Caught up with the stream and not invoking."""
        return self._caught_up.is_set() and not self._busy

    def _wanted(self, record: dict[str, Any]) -> bool:
        return not self.patterns or any(matches(p, record) for p in self.patterns)

    def _iterators(self) -> list[str]:
        shards = self.streams.describe_stream(StreamArn=self.source.stream_arn)["StreamDescription"]["Shards"]
        position = "TRIM_HORIZON" if self.source.starting_position == "TRIM_HORIZON" else "LATEST"
        return [self.streams.get_shard_iterator(StreamArn=self.source.stream_arn, ShardId=s["ShardId"],
                                                ShardIteratorType=position)["ShardIterator"] for s in shards]

    def _run(self) -> None:
        try:
            iterators = self._iterators()
        except Exception:
            log.exception("stream %s not readable", self.source.stream_arn)
            return
        batch: list[dict[str, Any]] = []
        opened = 0.0
        while not self._stop.is_set():
            got = 0
            for i, iterator in enumerate(iterators):
                try:
                    answer = self.streams.get_records(ShardIterator=iterator, Limit=self.source.batch_size)
                except Exception:
                    log.exception("get_records failed")
                    continue
                iterators[i] = answer.get("NextShardIterator") or iterator
                records = answer.get("Records") or []
                got += len(records)
                for record in records:
                    record = lambda_record(record, self.source.stream_arn)
                    if self._wanted(record):
                        if not batch:
                            opened = time.monotonic()
                        batch.append(record)
            window = self.source.maximum_batching_window_in_seconds
            if batch and (len(batch) >= self.source.batch_size or time.monotonic() - opened >= window):
                self._deliver(batch[: self.source.batch_size])
                batch = batch[self.source.batch_size :]
                opened = time.monotonic()
                continue
            if got:
                self._caught_up.clear()
            elif batch:
                self._stop.wait(0.05)
            else:
                self._caught_up.set()
                self._stop.wait(_POLL_PAUSE)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        self._busy = True
        try:
            attempt = 0
            while not self._stop.is_set():
                self.invocations += 1
                try:
                    self.invoker.invoke(self.function, {"Records": records})
                    return
                except FunctionError as exc:
                    self.failed_invocations += 1
                    attempt += 1
                    limit = self.source.maximum_retry_attempts
                    if (limit >= 0 and attempt > limit) or self._too_old(records):
                        self._give_up(records, str(exc))
                        return
                    self._stop.wait(min(self.retry_pause * 2 ** min(attempt - 1, 4), 5.0))
        finally:
            self._busy = False

    def _too_old(self, records: list[dict[str, Any]]) -> bool:
        limit = self.source.maximum_record_age_seconds
        if limit < 0:
            return False
        created = [r["dynamodb"].get("ApproximateCreationDateTime") for r in records]
        oldest = min((float(c) for c in created if isinstance(c, (int, float))), default=time.time())
        return time.time() - oldest > limit

    def _give_up(self, records: list[dict[str, Any]], error: str) -> None:
        """What Lambda sends to an on-failure destination: where the batch was, not its records."""
        self.gave_up += 1
        first, last = records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"]
        log.error("stream batch %s..%s given up after its retries: %s", first, last, error)
        if not self.source.on_failure_arn:
            return
        name = self.source.on_failure_arn.rsplit(":", 1)[-1]
        body = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.invoker.arn(self.function)},
            "DDBStreamBatchInfo": {
                "streamArn": self.source.stream_arn,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "batchSize": len(records),
            },
        }
        try:
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
        except Exception:
            log.exception("on-failure destination %s not reachable", self.source.on_failure_arn)


class StreamPollers:
    def __init__(
        self, invoker: Invoker, sources: list[tuple[str, StreamEventSource]], *, endpoint_url: str, region: str
    ):
        self.pollers = [StreamPoller(invoker, function, source, endpoint_url=endpoint_url, region=region)
                        for function, source in sources]

    def start(self) -> StreamPollers:
        for poller in self.pollers:
            poller.start()
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()

    def idle(self) -> bool:
        return all(p.idle() for p in self.pollers)
