"""tamtam.sqs_records: the partial batch response of every SQS-triggered function."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tamtam.failpoints import Killed
from tamtam.sqs_records import SqsRecord, partial_response


def event(*bodies: str) -> dict:
    return {"Records": [{"messageId": f"m{i}", "body": body, "receiptHandle": f"rh{i}",
                         "attributes": {"SentTimestamp": "1796683017067", "ApproximateReceiveCount": "1"}}
                        for i, body in enumerate(bodies)]}


def test_given_records_that_fail_then_only_they_are_named_and_the_others_are_done():
    seen = []

    def handle(record: SqsRecord) -> None:
        seen.append(record.body)
        if record.body.startswith("bad"):
            raise ValueError("refused")

    assert partial_response(event("ok", "bad 1", "ok", "bad 2"), handle) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}
    assert seen == ["ok", "bad 1", "ok", "bad 2"]


def test_given_every_record_failing_then_all_are_named_and_nothing_is_raised():
    def handle(record: SqsRecord) -> None:
        raise RuntimeError("down")

    assert partial_response(event("a", "b"), handle)["batchItemFailures"] == [
        {"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]
    assert partial_response({}, handle) == {"batchItemFailures": []}


def test_given_an_executor_then_the_records_run_at_once():
    started = threading.Barrier(3, timeout=5)

    def handle(record: SqsRecord) -> None:
        started.wait()  # all three are running before any ends
        if record.body == "bad":
            raise ValueError

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert partial_response(event("a", "bad", "c"), handle, executor=pool) == {
            "batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_given_a_dying_process_then_the_kill_is_not_taken_for_a_failed_record():
    def handle(record: SqsRecord) -> None:
        raise Killed("sender.claimed")

    with pytest.raises(Killed):
        partial_response(event("a"), handle)


def test_given_a_record_then_its_fields_read_as_the_event_gives_them():
    record = SqsRecord(event("hello")["Records"][0])

    assert (record.message_id, record.body, record.receipt_handle) == ("m0", "hello", "rh0")
    assert record.sent_at == 1796683017.067
    assert SqsRecord({"messageId": "x"}).sent_at is None
    assert SqsRecord({"messageId": "x"}).body == ""
