"""Schedules: the scheduled event, Input, rate timers with speedup, retries, trigger()."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from local.stack.invoker import FunctionError, Invoker
from local.stack.schedules import Cron, Schedules, ScheduleSpec, rate_seconds

RECORD_EVENT = "def lambda_handler(event, context):\n    record(event)\n    return 'done'\n"


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_given_a_schedule_when_triggered_then_the_function_gets_a_scheduled_event(make_function, recorder, read_log):
    fn = make_function("Poller", recorder + RECORD_EVENT)
    schedules = Schedules(Invoker([fn]), [ScheduleSpec("Poller", "StatusPoll", "rate(5 minutes)")])

    assert schedules.trigger("Poller") == "done"

    (event,) = read_log(fn)
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["version"] == "0" and event["detail"] == {} and event["id"]
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/StatusPoll"]
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert schedules.fired["StatusPoll"] == 1


def test_given_an_input_or_schedule_v2_then_the_event_is_the_input_or_names_the_schedule(
    make_function, recorder, read_log
):
    fn = make_function("Multi", recorder + RECORD_EVENT)
    schedules = Schedules(Invoker([fn]), [
        ScheduleSpec("Multi", "WithInput", "rate(1 hour)", input='{"job": "balances"}'),
        ScheduleSpec("Multi", "V2", "rate(1 hour)", kind="ScheduleV2"),
    ])

    schedules.trigger("Multi")  # the function's first schedule
    schedules.trigger("Multi", name="V2")

    first, second = read_log(fn)
    assert first == {"job": "balances"}
    assert second["resources"] == ["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/V2"]
    with pytest.raises(KeyError):
        schedules.trigger("Nobody")


def test_given_a_speedup_then_a_rate_schedule_fires_repeatedly_and_stops_cleanly(make_function, recorder, read_log):
    fn = make_function("Ticker", recorder + RECORD_EVENT)
    schedules = Schedules(Invoker([fn]), [ScheduleSpec("Ticker", "Tick", "rate(1 minute)"),
                                          ScheduleSpec("Ticker", "Off", "rate(1 minute)", enabled=False)],
                          speedup=600).start()  # every 0.1 s
    try:
        wait_for(lambda: len(read_log(fn)) >= 3)
    finally:
        started = time.monotonic()
        schedules.stop()
    assert time.monotonic() - started < 1
    assert schedules.fired["Off"] == 0
    fired = schedules.fired["Tick"]
    time.sleep(0.3)
    assert schedules.fired["Tick"] == fired  # stopped means stopped


def test_given_a_failing_scheduled_run_then_it_is_retried_twice_with_the_same_event(make_function, recorder, read_log):
    fn = make_function(
        "Failing", recorder + "def lambda_handler(event, context):\n    record(event)\n    raise RuntimeError('x')\n"
    )
    schedules = Schedules(Invoker([fn]), [ScheduleSpec("Failing", "Fail", "rate(10 minutes)")], speedup=6000).start()
    try:
        wait_for(lambda: len(read_log(fn)) >= 3)
    finally:
        schedules.stop()
    first_three = read_log(fn)[:3]
    assert len({e["id"] for e in first_three}) == 1
    with pytest.raises(FunctionError):  # trigger() reports the error, no retry
        schedules.trigger("Failing")


def test_rate_and_cron_expressions():
    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("rate(7 days)") == 7 * 86400 and rate_seconds("cron(0 * * * ? *)") is None
    with pytest.raises(ValueError):
        rate_seconds("rate(5 minute)")

    at = datetime(2026, 3, 10, 10, 7, 30, tzinfo=UTC)  # a Tuesday
    assert Cron("cron(0/15 * * * ? *)").next_after(at) == datetime(2026, 3, 10, 10, 15, tzinfo=UTC)
    assert Cron("cron(0 6 * * ? *)").next_after(at) == datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    assert Cron("cron(30 8 ? * MON-FRI *)").next_after(datetime(2026, 3, 13, 9, 0, tzinfo=UTC)) == \
        datetime(2026, 3, 16, 8, 30, tzinfo=UTC)  # Friday after 08:30 -> Monday
    assert Cron("cron(0 0 1 JAN ? *)").next_after(at) == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        Cron("cron(0 0 L * ? *)")
