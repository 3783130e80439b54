"""The invoker's CPU accounting (what bench/cpu.py reads): an invocation's CPU time is its
thread's, plus that of the tasks it runs in a ThreadPoolExecutor while `follow_threads()` is
installed; waiting (a sleep, a slow server) counts nothing. And the bench's model of provider
waits built on it: a task's requests in series, an invocation's tasks overlapping."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from local.stack import invoker as invoker_module
from local.stack.invoker import Invoker

BURN = 0.3  # CPU seconds a handler burns

IN_A_WORKER = """
import time
from concurrent.futures import ThreadPoolExecutor

_pool = ThreadPoolExecutor(2)

def burn(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass

def lambda_handler(event, context):
    if event.get("warm"):
        return 0
    work = burn if event["mode"] == "burn" else time.sleep
    _pool.submit(work, event["seconds"]).result()  # the invoking thread waits: no CPU
    return 1
"""

IN_ITS_THREAD = """
import time

def lambda_handler(event, context):
    if event["mode"] == "burn":
        end = time.thread_time() + event["seconds"]
        while time.thread_time() < end:
            pass
    else:
        time.sleep(event["seconds"])
    return 1
"""


@pytest.fixture
def followed() -> Iterator[None]:
    undo = invoker_module.follow_threads()
    yield
    undo()


def _cpu_of(invoker: Invoker, logical_id: str, event: dict[str, object]) -> float:
    invoker.invoke(logical_id, {"warm": True, **event})  # handler imported: its init is not measured
    before = invoker.cpu_seconds().get(logical_id, 0.0)
    invoker.invoke(logical_id, event)
    return invoker.cpu_seconds()[logical_id] - before


def test_given_cpu_burnt_in_a_worker_thread_then_it_is_counted_to_the_invocation(make_function, followed):
    invoker = Invoker([make_function("Burner", IN_A_WORKER)])

    cpu = _cpu_of(invoker, "Burner", {"mode": "burn", "seconds": BURN})

    assert BURN * 0.9 <= cpu <= BURN + 0.15


def test_given_threads_not_followed_then_a_worker_cpu_is_not_counted(make_function):
    # the counter-check: the figure above comes from the worker's accounting, not the caller's
    invoker = Invoker([make_function("Burner", IN_A_WORKER)])

    cpu = _cpu_of(invoker, "Burner", {"mode": "burn", "seconds": BURN})

    assert cpu < BURN / 3


def test_given_a_worker_that_sleeps_then_the_invocation_has_about_no_cpu(make_function, followed):
    invoker = Invoker([make_function("Sleeper", IN_A_WORKER)])

    cpu = _cpu_of(invoker, "Sleeper", {"mode": "sleep", "seconds": BURN})

    assert cpu < 0.05


def test_given_the_invoking_thread_burns_or_sleeps_then_only_the_burn_counts(make_function):
    invoker = Invoker([make_function("Own", IN_ITS_THREAD)])

    burnt = _cpu_of(invoker, "Own", {"mode": "burn", "seconds": BURN})
    slept = _cpu_of(invoker, "Own", {"mode": "sleep", "seconds": BURN})

    assert BURN * 0.9 <= burnt <= BURN + 0.15
    assert slept < 0.05


def test_given_a_failed_invocation_then_its_cpu_is_counted_too(make_function, followed):
    invoker = Invoker([make_function("Fails", """
        import time
        def lambda_handler(event, context):
            end = time.thread_time() + event["seconds"]
            while time.thread_time() < end:
                pass
            raise ValueError("no")
    """)])

    with pytest.raises(invoker_module.FunctionError):
        invoker.invoke("Fails", {"seconds": BURN})

    assert invoker.cpu_seconds()["Fails"] >= BURN * 0.9


# -- the bench's provider wait model (bench/cpu.py) -----------------------------------------------
class _Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def provider_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/send"
    server.shutdown()
    server.server_close()


SENDER = """
import asyncio
from concurrent.futures import ThreadPoolExecutor
import requests

_pool = ThreadPoolExecutor(8)
_session = requests.Session()

def send(url, times):
    for _ in range(times):
        _session.post(url, data=b"x", timeout=5)

def lambda_handler(event, context):
    async def batch():
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(_pool, send, event["url"], n) for n in event["requests"]))
    asyncio.run(batch())
    return 1
"""


def test_given_a_batch_of_tasks_then_the_modelled_wait_is_the_longest_task(make_function, provider_url):
    from bench.cpu import CpuMeter

    invoker = Invoker([make_function("Sender", SENDER, memory_mb=512)])
    meter = CpuMeter(invoker, latency=0.2).install()
    try:
        meter.start()
        invoker.invoke("Sender", {"url": provider_url, "requests": [1, 3, 1, 2]})  # 7 requests, 4 tasks
        invoker.invoke("Sender", {"url": provider_url, "requests": [1]})
        figures = meter.stop()
        invoker.invoke("Sender", {"url": provider_url, "requests": [5]})  # after stop: not counted
    finally:
        meter.uninstall()

    assert figures.provider_requests["Sender"] == 8
    assert figures.wait_seconds["Sender"] == pytest.approx(0.2 * 3 + 0.2 * 1)
    assert figures.cpu_seconds["Sender"] > 0
    cpu_gb_s, wait_gb_s = figures.gb_seconds({"Sender": 512})
    assert wait_gb_s == pytest.approx(0.8 * 0.5)
    assert cpu_gb_s == pytest.approx(figures.cpu_seconds["Sender"] * 0.5)
