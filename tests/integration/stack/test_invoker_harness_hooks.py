"""The invoker's hooks for fault-injecting harnesses (`make chaos`): a killed invocation fails
as a whole even when `Killed` is raised in a worker thread the code would not pass on, a short
remaining time is given on request and enforced, and `current()` follows the invocation into
its executor threads."""

from __future__ import annotations

import pytest

from local.stack import invoker as invoker_module
from local.stack.invoker import FunctionError, Invoker

WORKER_KILLED = """
import asyncio
from concurrent.futures import ThreadPoolExecutor
from tamtam import failpoints

_pool = ThreadPoolExecutor(4)

def work(n):
    failpoints.hit("sender.claimed", message_id=str(n))
    return n

def lambda_handler(event, context):
    async def all_of():
        loop = asyncio.get_running_loop()
        out = []
        for n in range(3):
            try:
                out.append(await loop.run_in_executor(_pool, work, n))
            except Exception:  # what a batch processor does with a failed record
                out.append(None)
        return out
    return asyncio.run(all_of())
"""


@pytest.fixture
def kill_second():
    from tamtam import failpoints

    seen = []

    def handler(point, context):
        invocation = invoker_module.current()
        seen.append((point, context.get("message_id"), invocation is not None))
        if context.get("message_id") == "1":
            invocation.kill(f"killed at {point}")
            raise failpoints.Killed(point)

    failpoints.install(handler)
    undo = invoker_module.follow_threads()
    yield seen
    undo()
    failpoints.uninstall()


def test_given_killed_in_a_worker_thread_then_the_whole_invocation_fails_with_exit_error(make_function, kill_second):
    cfg = make_function("Sender", WORKER_KILLED)
    invoker = Invoker([cfg])

    with pytest.raises(FunctionError) as err:
        invoker.invoke("Sender", {"Records": []})

    assert err.value.error_type == "Runtime.ExitError" and "sender.claimed" in err.value.error_message
    assert [(p, m) for p, m, _ in kill_second][:2] == [("sender.claimed", "0"), ("sender.claimed", "1")]
    assert all(inside for _, _, inside in kill_second)  # the worker threads knew their invocation


def test_given_a_short_remaining_time_then_the_context_shows_it_and_an_overrun_times_out(make_function):
    cfg = make_function("Slow", """
        import time
        def lambda_handler(event, context):
            remaining = context.get_remaining_time_in_millis()
            time.sleep(event["sleep"])
            return remaining
    """, timeout=30)
    invoker = Invoker([cfg])
    invoker.remaining_time = lambda logical_id, event: 0.3

    assert invoker.invoke("Slow", {"sleep": 0}) <= 300
    with pytest.raises(FunctionError) as err:
        invoker.invoke("Slow", {"sleep": 0.5})
    assert err.value.error_type == "Sandbox.Timedout"


def test_given_no_invocation_then_current_is_none():
    assert invoker_module.current() is None
