"""Pacing against moto and the provider sandbox: concurrent sender invocations (threads) share
a provider's messages-per-second limit through DynamoDB; the sandbox's outbox timestamps are
what the provider saw.

Here moto and the sandbox run in processes of their own, as DynamoDB and the provider are other
machines in production: in this process their CPU use (tens of ms per request, under the GIL)
would delay calls and their timestamps by 100 ms and more, which is this process's noise, not
the pacing's."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from local.sandbox.client import SandboxControl
from local.stack.resources import provision
from tamtam import pacing
from tests.integration import seed
from tests.integration.conftest import REGION
from tests.integration.lambdas import invoke, stream_paused

LIMIT = 20
DRAIN_LIMIT = 5  # well within what this harness (moto, the sandbox, the senders on two shared cores) sustains
ROOT = Path(__file__).resolve().parents[2]
_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(args: list[str], port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}{os.pathsep}{ROOT}"}
    server = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, f"{args} did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server in a process of its own, for this module (overrides conftest's)."""
    port = _free_port()
    server = _serve(["-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], port)
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="testing",
                      AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def provisioned_once(moto_url: str):
    return provision(moto_url, REGION, environment="test")


@pytest.fixture(scope="module")
def sandbox_process() -> Iterator[str]:
    port = _free_port()
    server = _serve(["-m", "local.sandbox", "--port", str(port)], port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def sandbox(sandbox_process: str) -> Iterator[SimpleNamespace]:
    """The sandbox of this module's process, its outbox emptied (overrides conftest's)."""
    with SandboxControl(sandbox_process) as control:
        control.clear_outbox()
        control.clear_faults()
        yield SimpleNamespace(url=sandbox_process, sandbox=control)


@pytest.fixture
def paced(provisioned, sandbox, monkeypatch) -> Iterator[SandboxControl]:
    monkeypatch.setenv("PACING_ENABLED", "true")
    limit(monkeypatch, LIMIT)
    yield sandbox.sandbox
    pacing.reset_cache()


def limit(monkeypatch, per_second: int, **settings: str) -> None:
    monkeypatch.setenv("PROVIDER_RATE_LIMITS", json.dumps({"passeinfo": per_second}))
    for name, value in settings.items():
        monkeypatch.setenv(f"PACING_{name.upper()}", value)
    pacing.reset_cache()


def bodies(count: int, lane: str, tag: str) -> list[dict]:
    made = [seed.message(to=f"+2246220{i:05d}", text=f"{tag}-{i}", provider="passeinfo") for i in range(count)]
    return [{"message_id": m.id, "tenant_id": m.tenant_id, "provider": "passeinfo", "lane": lane} for m in made]


def run_senders(all_bodies: list[dict], threads: int) -> list[dict]:
    """Invoke the sender with batches of 10 from `threads` threads at once; the failures."""
    batches: queue.Queue = queue.Queue()
    for start in range(0, len(all_bodies), 10):
        batches.put(all_bodies[start : start + 10])
    failures: list[dict] = []

    def worker() -> None:
        while True:
            try:
                batch = batches.get_nowait()
            except queue.Empty:
                return
            failures.extend(invoke("sender", seed.sqs_event(batch))["batchItemFailures"])

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    with stream_paused():
        for t in pool:
            t.start()
        for t in pool:
            t.join(120)
    return failures


def sent_at(sandbox, tag: str) -> list[float]:
    return sorted(o["at"] for o in sandbox.outbox(provider="passeinfo") if o["text"].startswith(f"{tag}-"))


def busiest_second(times: list[float]) -> int:
    """The most calls in any one-second window [t, t + 1)."""
    times, most, first = sorted(times), 0, 0
    for last, t in enumerate(times):
        while times[first] <= t - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_given_a_limit_of_20_when_200_messages_go_through_concurrent_senders_then_never_more_than_20_a_second(
    paced, monkeypatch
):
    # The sandbox timestamps a call up to ~150 ms after it starts when moto, the sandbox and four
    # sender invocations share two cores: the pacer keeps 15% of the limit to absorb it here.
    limit(monkeypatch, LIMIT, safety="0.15")
    failures = run_senders(bodies(200, "tx", "tx"), threads=4)
    times = sent_at(paced, "tx")
    assert failures == [] and len(times) == 200
    assert busiest_second(times) <= LIMIT


def test_given_no_transactional_traffic_then_a_bulk_drains_at_nearly_the_limit(paced, monkeypatch):
    limit(monkeypatch, DRAIN_LIMIT)
    assert run_senders(bodies(20, "bulk", "warm"), threads=2) == []  # cold starts are not the drain's pace
    failures = run_senders(bodies(60, "bulk", "bulk"), threads=4)
    times = sent_at(paced, "bulk")
    assert failures == [] and len(times) == 60
    assert (len(times) - 1) / (times[-1] - times[0]) >= 0.9 * DRAIN_LIMIT


def test_given_a_bulk_draining_when_transactional_messages_come_then_they_get_slots_at_once(paced, monkeypatch):
    limit(monkeypatch, DRAIN_LIMIT)
    assert run_senders(bodies(20, "bulk", "warm"), threads=2) == []
    bulk, urgent = bodies(60, "bulk", "bulk"), bodies(6, "tx", "otp")
    started: dict[str, float] = {}

    def transactional() -> None:
        time.sleep(2.0)  # the bulk has the whole limit by now
        for index, body in enumerate(urgent):
            started[f"otp-{index}"] = time.time()
            assert invoke("sender", seed.sqs_event([body])) == {"batchItemFailures": []}
            time.sleep(0.5)

    tx_thread = threading.Thread(target=transactional)
    tx_thread.start()
    failures = run_senders(bulk, threads=4)
    tx_thread.join(60)
    outbox = {o["text"]: o["at"] for o in paced.outbox(provider="passeinfo") if not o["text"].startswith("warm-")}
    assert failures == [] and len(outbox) == 66
    waits = [outbox[text] - at for text, at in started.items()]
    assert max(waits) <= 2.5, waits  # the bulk reserves at most 1.5 s ahead
    assert max(outbox[text] for text in started) < max(sent_at(paced, "bulk"))  # while the bulk was still draining
    assert (len(outbox) - 1) / (max(outbox.values()) - min(outbox.values())) <= DRAIN_LIMIT  # one limit for both
