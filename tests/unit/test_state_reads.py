"""A sender's threads share the small state they read from the table (the provider's breaker,
the transactional marker of pacing): when the cached value goes stale, one thread reads it and
the batch's others wait for that read instead of all reading at once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tamtam import health, pacing
from tamtam.pacing import slots


class SlowTable:
    """get_item answers after a pause, counting the reads."""

    def __init__(self, item: dict[str, Any]):
        self.item, self.reads = item, 0
        self._lock = threading.Lock()

    def get_item(self, Key: dict[str, str]) -> dict[str, Any]:  # noqa: N803 (boto3's name)
        with self._lock:
            self.reads += 1
        time.sleep(0.05)
        return {"Item": self.item}


@pytest.fixture(autouse=True)
def _fresh_caches():
    health.reset_cache()
    pacing.reset_cache()
    yield
    health.reset_cache()
    pacing.reset_cache()


def _together(call, threads: int = 10) -> list[Any]:
    start = threading.Barrier(threads)

    def one(_: int) -> Any:
        start.wait()
        return call()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def test_given_ten_threads_asking_for_a_breaker_at_once_then_one_read_and_the_same_answer():
    table = SlowTable({"open_until": int(time.time()) + 60})
    answers = _together(lambda: health.is_open(table, "passeinfo"))
    assert answers == [True] * 10 and table.reads == 1
    health.is_open(table, "passeinfo")
    assert table.reads == 1  # still fresh


def test_given_a_breaker_read_per_provider_then_providers_do_not_share_it():
    table = SlowTable({})
    assert not health.is_open(table, "passeinfo") and not health.is_open(table, "ventis")
    assert table.reads == 2


def test_given_ten_threads_asking_for_the_tx_marker_at_once_then_one_read():
    table = SlowTable({"seen_at": int(time.time())})
    answers = _together(lambda: slots.tx_recent(table, "passeinfo"))
    assert answers == [True] * 10 and table.reads == 1


class CountingTable:
    """update_item records the counts written (the window's totals are what was written)."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, int]] = []

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        values = kwargs["ExpressionAttributeValues"]
        self.writes.append((values[":ok"], values[":fail"]))
        return {"Attributes": {"ok_count": values[":ok"], "fail_count": values[":fail"]}}

    def put_item(self, **kwargs: Any) -> None:
        pass


def test_given_only_successes_then_a_warm_sender_writes_them_once_every_few_seconds(monkeypatch):
    table, now = CountingTable(), [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    for _ in range(5):  # five invocations within a few seconds
        health.record("passeinfo", ok=True)
        health.flush(table)
        now[0] += 1
    assert table.writes == [(1, 0)]
    now[0] += health.OK_FLUSH_SECONDS
    health.flush(table)
    assert table.writes == [(1, 0), (4, 0)]  # nothing counted is lost, only written later


def test_given_a_failure_then_its_counts_are_written_at_once(monkeypatch):
    table, now = CountingTable(), [1000.0]
    monkeypatch.setattr(health.time, "monotonic", lambda: now[0])
    health.record("passeinfo", ok=True)
    health.flush(table)
    health.record("passeinfo", ok=True)
    health.record("passeinfo", ok=False)
    health.flush(table)
    assert table.writes == [(1, 0), (1, 1)]
