"""The pollers' `simultaneous` hook (used by `make chaos`): a batch delivered twice at the same
moment, two invocations that overlap in time, each deleting what it processed."""

from __future__ import annotations

from collections import Counter

from local.stack.invoker import Invoker
from local.stack.pollers import Pollers, SqsSource

OVERLAP = """
import json, time
def lambda_handler(event, context):
    started = time.time()
    time.sleep(0.3)
    record({"bodies": [r["body"] for r in event["Records"]], "from": started, "to": time.time()})
"""


def test_given_a_simultaneous_rate_then_each_batch_runs_twice_at_once_and_is_deleted(make_function, make_queue, sqs,
                                                                                     recorder, read_log):
    fn = make_function("Twins", recorder + OVERLAP)
    queue, _ = make_queue(visibility=30)
    sqs.send_message(QueueUrl=queue, MessageBody="chunk")

    pollers = Pollers(Invoker([fn]), [SqsSource("Twins", queue)], sqs_client=sqs)
    pollers.simultaneous = {"Twins": 1.0}
    pollers.start()
    try:
        pollers.drain(timeout=10)
        assert pollers.twinned == Counter({"Twins": 1}) and pollers.invocations == {"Twins": 2}
    finally:
        pollers.stop()

    calls = read_log(fn)
    assert Counter(b for c in calls for b in c["bodies"]) == Counter({"chunk": 2})
    first, second = calls
    assert first["from"] < second["to"] and second["from"] < first["to"]  # they overlapped
