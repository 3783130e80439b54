"""The invoker runs handler files like the Lambda Python runtime: loaded once, JSON in and out,
a realistic context, errors and timeouts reported as FunctionError."""

from __future__ import annotations

import threading
import uuid

import pytest

from local.stack.invoker import FunctionError, Invoker


def test_given_a_handler_when_invoked_then_it_gets_the_event_and_a_realistic_context(make_function):
    cfg = make_function("Echo", """
        def lambda_handler(event, context):
            event["mutated"] = True
            return {
                "event": event,
                "function_name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "arn": context.invoked_function_arn,
                "request_id": context.aws_request_id,
                "remaining": context.get_remaining_time_in_millis(),
                "log_group": context.log_group_name,
            }
    """, function_name="tamtam-local-echo", timeout=3, memory_mb=256)
    invoker = Invoker([cfg], region="eu-west-1")
    event = {"hello": "world"}

    result = invoker.invoke("Echo", event)

    assert event == {"hello": "world"}  # the handler got a copy, as over the wire
    assert result["event"] == {"hello": "world", "mutated": True}
    assert result["function_name"] == "tamtam-local-echo"
    assert result["memory"] == "256"
    assert result["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:tamtam-local-echo"
    assert uuid.UUID(result["request_id"])
    assert 2000 < result["remaining"] <= 3000
    assert result["log_group"] == "/aws/lambda/tamtam-local-echo"
    assert invoker.counts() == {"Echo": 1}


def test_given_private_modules_when_invoked_then_they_import_beside_the_handler(make_function):
    helper = f"inv_helper_{uuid.uuid4().hex[:8]}"
    cfg = make_function("WithHelper", f"""
        from {helper} import shout

        def lambda_handler(event, context):
            return shout(event["text"])
    """)
    (cfg.code_dir / f"{helper}.py").write_text("def shout(text):\n    return text.upper() + '!'\n")

    assert Invoker([cfg]).invoke("WithHelper", {"text": "hi"}) == "HI!"


def test_given_a_raising_handler_when_invoked_then_a_function_error_carries_type_and_message(make_function):
    cfg = make_function("Raiser", """
        def lambda_handler(event, context):
            raise ValueError("bad input")
    """)
    invoker = Invoker([cfg])

    with pytest.raises(FunctionError) as info:
        invoker.invoke("Raiser", {})

    assert (info.value.error_type, info.value.error_message) == ("ValueError", "bad input")
    assert invoker.errors() == {"Raiser": 1}
    assert invoker.in_flight == 0


def test_given_a_slow_handler_when_it_outlives_its_timeout_then_the_invocation_times_out(make_function):
    cfg = make_function("Slow", """
        import time

        def lambda_handler(event, context):
            time.sleep(0.3)
            return context.get_remaining_time_in_millis()
    """, timeout=0.1)

    with pytest.raises(FunctionError) as info:
        Invoker([cfg]).invoke("Slow", {})

    assert info.value.error_type == "Sandbox.Timedout"
    assert "Task timed out after 0.10 seconds" in info.value.error_message


def test_given_results_when_not_json_then_marshal_error_but_decimals_become_numbers(make_function):
    cfg = make_function("Results", """
        from decimal import Decimal

        def lambda_handler(event, context):
            return {"n": Decimal("1.5")} if event["ok"] else {"s": {1, 2}}
    """)
    invoker = Invoker([cfg])

    assert invoker.invoke("Results", {"ok": True}) == {"n": 1.5}
    with pytest.raises(FunctionError) as info:
        invoker.invoke("Results", {"ok": False})
    assert info.value.error_type == "Runtime.MarshalError"


def test_given_a_broken_module_when_invoked_then_import_error_and_a_retry_on_next_invoke(make_function):
    cfg = make_function("Broken", "raise RuntimeError('init failed')\n")

    for _ in range(2):  # not cached: Lambda retries the init on the next invocation
        with pytest.raises(FunctionError) as info:
            Invoker([cfg]).invoke("Broken", {})
        assert info.value.error_type == "Runtime.ImportModuleError"


def test_given_concurrent_invocations_then_the_module_is_loaded_once_and_all_are_counted(
    make_function, recorder, read_log
):
    cfg = make_function("Concurrent", recorder + """
record("init")

def lambda_handler(event, context):
    import time
    time.sleep(0.02)
    return event["i"]
""")
    invoker = Invoker([cfg])
    results: list[int] = []
    threads = [threading.Thread(target=lambda i=i: results.append(invoker.invoke("Concurrent", {"i": i})))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == list(range(8))
    assert read_log(cfg) == ["init"]
    assert invoker.counts() == {"Concurrent": 8}


def test_given_two_functions_with_handler_py_then_each_runs_its_own(make_function):
    one = make_function("One", "def lambda_handler(event, context):\n    return 1\n")
    two = make_function("Two", "def lambda_handler(event, context):\n    return 2\n")
    invoker = Invoker([one, two])

    assert (invoker.invoke("One", {}), invoker.invoke("Two", {})) == (1, 2)
