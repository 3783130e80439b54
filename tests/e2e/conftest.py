"""End-to-end fixtures: the whole local stack (`make run`'s LocalStack) on loopback, driven
over HTTP. One stack for the e2e package; it stops when the package is done."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from local.stack.stack import LocalStack


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    saved = os.environ.get("RETRY_BASE_SECONDS")
    os.environ["RETRY_BASE_SECONDS"] = "1"  # retries in seconds, not minutes
    local = LocalStack(port=0, environment="e2e", start_schedules=False)
    local.start()
    try:
        # The package sends more than the simulators' default credit (1,000 messages): the
        # 1,000-recipient bulk alone would leave PasseInfo empty for the tests after it.
        local.sandbox.configure("passeinfo", balance=1_000_000)
        local.sandbox.configure("messagepro", credits=1_000_000)
        yield local
    finally:
        local.stop()
        if saved is None:
            os.environ.pop("RETRY_BASE_SECONDS", None)
        else:
            os.environ["RETRY_BASE_SECONDS"] = saved


@pytest.fixture(scope="package")
def tenant_key(stack: LocalStack) -> Callable[[str], str]:
    from tamtam.tenants import create_tenant

    def make(name: str) -> str:
        return create_tenant(name, usage_plan_id=stack.usage_plan_id).api_key

    return make


@pytest.fixture
def api(stack: LocalStack) -> Callable[..., requests.Response]:
    def call(method: str, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return requests.request(method, stack.api_url + path, headers=headers, timeout=30, **kwargs)

    return call


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(interval)
