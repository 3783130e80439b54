"""SQS pollers against a real moto server: Lambda's SQS event, partial batch failures,
visibility timeouts, redrive to the DLQ, whole-batch failures, duplicates, drain."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from local.stack.invoker import Invoker
from local.stack.pollers import Pollers, SqsSource, failed_ids

# Fails a record whose body starts with "fail-once" on its first delivery, "poison" always.
PARTIAL = """
def lambda_handler(event, context):
    record(event)
    failures = []
    for r in event["Records"]:
        first = r["attributes"]["ApproximateReceiveCount"] == "1"
        if r["body"] == "poison" or (r["body"].startswith("fail-once") and first):
            failures.append({"itemIdentifier": r["messageId"]})
    return {"batchItemFailures": failures}
"""


@contextmanager
def running(invoker: Invoker, sources: list[SqsSource], sqs, **kwargs) -> Iterator[Pollers]:
    pollers = Pollers(invoker, sources, sqs_client=sqs, **kwargs).start()
    try:
        yield pollers
    finally:
        pollers.stop()


def bodies(calls: list[dict]) -> Counter[str]:
    return Counter(r["body"] for call in calls for r in call["Records"])


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_given_a_partial_failure_then_only_the_failed_record_comes_back(
    make_function, make_queue, sqs, recorder, read_log
):
    fn = make_function("Partial", recorder + PARTIAL)
    queue, _ = make_queue(visibility=1)
    sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": "a", "MessageBody": "a", "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "x"}}},
        {"Id": "b", "MessageBody": "b"},
        {"Id": "f", "MessageBody": "fail-once"},
    ])
    source = SqsSource("Partial", queue, batch_size=10, batching_window=0.5, report_batch_item_failures=True)

    with running(Invoker([fn]), [source], sqs) as pollers:
        pollers.drain(timeout=15)
        invocations = pollers.invocations

    calls = read_log(fn)
    assert bodies(calls) == Counter({"a": 1, "b": 1, "fail-once": 2})
    assert invocations == {"Partial": len(calls)}
    retried = [r for c in calls for r in c["Records"] if r["body"] == "fail-once"]
    assert [r["attributes"]["ApproximateReceiveCount"] for r in retried] == ["1", "2"]

    record = next(r for c in calls for r in c["Records"] if r["body"] == "a")
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    assert record["awsRegion"] == "eu-west-1"
    assert record["md5OfBody"] == hashlib.md5(b"a").hexdigest()  # noqa: S324 - SQS's own checksum
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"] == {"kind": {"stringValue": "x", "stringListValues": [], "binaryListValues": [],
                                                    "dataType": "String"}}
    assert record["md5OfMessageAttributes"]
    assert record["receiptHandle"] and record["messageId"]


def test_given_a_record_that_always_fails_then_it_moves_to_the_dlq_after_max_receive_count(
        make_function, make_queue, sqs, recorder, read_log):
    fn = make_function("Poison", recorder + PARTIAL)
    queue, dlq = make_queue(visibility=1, max_receive=2)
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    sqs.send_message(QueueUrl=queue, MessageBody="fine")

    with running(Invoker([fn]), [SqsSource("Poison", queue, report_batch_item_failures=True)], sqs) as pollers:
        pollers.drain(timeout=15)

    moved = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]
    assert bodies(read_log(fn)) == Counter({"poison": 2, "fine": 1})


def test_given_a_raising_function_then_the_whole_batch_comes_back(make_function, make_queue, sqs, recorder, read_log):
    fn = make_function("Flaky", recorder + """
def lambda_handler(event, context):
    record(event)
    if any(r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]):
        raise RuntimeError("first delivery fails")
""")
    queue, _ = make_queue(visibility=1)
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    source = SqsSource("Flaky", queue, batching_window=0.5, report_batch_item_failures=True)

    with running(Invoker([fn]), [source], sqs) as pollers:
        pollers.drain(timeout=15)

    assert bodies(read_log(fn)) == Counter({"m0": 2, "m1": 2, "m2": 2})


def test_given_an_unknown_item_identifier_then_the_whole_batch_fails():
    records = [{"messageId": "1"}, {"messageId": "2"}]
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "1"}]}, records) == {"1"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "nope"}]}, records) is None
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, records) is None
    assert failed_ids({"batchItemFailures": [{"id": "1"}]}, records) is None
    assert failed_ids(None, records) == set() and failed_ids({"batchItemFailures": []}, records) == set()


def test_given_no_report_batch_item_failures_then_a_returned_report_is_ignored(
    make_function, make_queue, sqs, recorder, read_log
):
    fn = make_function("NoReport", recorder + PARTIAL)
    queue, _ = make_queue(visibility=1)
    sqs.send_message(QueueUrl=queue, MessageBody="fail-once")

    with running(Invoker([fn]), [SqsSource("NoReport", queue)], sqs) as pollers:
        pollers.drain(timeout=10)

    assert bodies(read_log(fn)) == Counter({"fail-once": 1})  # success deletes the whole batch


def test_given_maximum_concurrency_then_no_more_batches_run_at_once(make_function, make_queue, sqs, recorder, read_log):
    fn = make_function("Busy", recorder + """
import threading, time
_lock = threading.Lock()
_running = [0]

def lambda_handler(event, context):
    with _lock:
        _running[0] += 1
        now = _running[0]
    time.sleep(0.3)
    with _lock:
        _running[0] -= 1
    record(now)
""")
    queue, _ = make_queue(visibility=30)
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(6)])

    with running(Invoker([fn]), [SqsSource("Busy", queue, batch_size=1, maximum_concurrency=2)], sqs) as pollers:
        pollers.drain(timeout=15)
        assert pollers.invocations == {"Busy": 6}

    assert max(read_log(fn)) == 2


def test_given_a_duplicate_rate_then_records_are_delivered_twice(make_function, make_queue, sqs, recorder, read_log):
    fn = make_function("Dupes", recorder + "def lambda_handler(event, context):\n    record(event)\n")
    queue, _ = make_queue(visibility=30)
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(5)])

    with running(Invoker([fn]), [SqsSource("Dupes", queue)], sqs, duplicate_rate=1.0, seed=7) as pollers:
        pollers.drain(timeout=10)
        assert pollers.duplicated == 5

    assert bodies(read_log(fn)) == Counter({f"m{i}": 2 for i in range(5)})


def test_given_work_in_flight_then_not_idle_and_drain_times_out(make_function, make_queue, sqs):
    fn = make_function("Sleepy", "import time\ndef lambda_handler(event, context):\n    time.sleep(1.5)\n")
    queue, _ = make_queue(visibility=30)

    with running(Invoker([fn]), [SqsSource("Sleepy", queue)], sqs) as pollers:
        assert pollers.idle()
        sqs.send_message(QueueUrl=queue, MessageBody="x")
        assert not pollers.idle()
        wait_for(lambda: pollers.invocations.get("Sleepy") == 1)
        with pytest.raises(TimeoutError, match="in_flight=1"):
            pollers.drain(timeout=0.3)
        pollers.drain(timeout=5)


def test_given_pollers_when_stopped_then_their_threads_end_quickly(make_function, make_queue, sqs):
    import threading

    fn = make_function("Idle", "def lambda_handler(event, context):\n    return None\n")
    queue, _ = make_queue()
    before = set(threading.enumerate())
    pollers = Pollers(Invoker([fn]), [SqsSource("Idle", queue, maximum_concurrency=3)], sqs_client=sqs).start()
    time.sleep(0.2)
    started = time.monotonic()
    pollers.stop()

    assert time.monotonic() - started < 2.5
    ours = [t for t in set(threading.enumerate()) - before if t.name.startswith(("poll-", "sqs-"))]
    assert not ours  # (moto's own request threads finish their long poll on their own)
