"""Tenant keys on the local stack, over HTTP: an operator (SigV4 with the stack's credentials)
creates keys through the AWS_IAM routes; two keys of a tenant both work; a revoked key answers
401 once the authorizer's cached answer has expired, which template.yaml bounds at 60 s (the
gateway's cache clock is moved instead of waiting); a rotated key's old value works during its
grace period, then answers 401; a tenant key never opens the operator routes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack.sigv4 import sign
from local.stack.stack import DUMMY_ENV, LocalStack
from local.stack.template import load_template
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
REAUTHORIZE_EVERY = load_template(ROOT / "template.yaml")["Resources"]["Api"]["Properties"]["Auth"][
    "Authorizers"]["TenantAuthorizer"]["Identity"]["ReauthorizeEvery"]


@pytest.fixture
def operator(stack: LocalStack) -> Callable[..., requests.Response]:
    """A call to an operator route, signed as an AWS SDK would sign it."""

    def call(method: str, path: str, body: Any = None) -> requests.Response:
        url = stack.api_url + path
        data = json.dumps(body).encode() if body is not None else b""
        headers = sign(method, url, body=data, headers={"Content-Type": "application/json"} if data else {},
                       region=stack.region, access_key=DUMMY_ENV["AWS_ACCESS_KEY_ID"],
                       secret_key=DUMMY_ENV["AWS_SECRET_ACCESS_KEY"])
        return requests.request(method, url, data=data, headers=headers, timeout=30)

    return call


@pytest.fixture
def later(stack: LocalStack) -> Iterator[Callable[[float], None]]:
    """Moves the local gateway's authorizer-cache clock forward (put back after the test)."""
    assert stack.apigw is not None
    real = stack.apigw.clock
    offset = {"s": 0.0}
    stack.apigw.clock = lambda: real() + offset["s"]

    def advance(seconds: float) -> None:
        offset["s"] += seconds

    yield advance
    stack.apigw.clock = real


@pytest.fixture
def tenant(stack: LocalStack) -> Any:
    from tamtam.tenants import create_tenant

    return create_tenant("keys-e2e", usage_plan_id=stack.usage_plan_id)


def messages(api: Callable[..., requests.Response], key: str) -> int:
    return api("GET", "/v1/messages?limit=1", key).status_code


def test_the_authorizer_cache_of_the_template_and_of_the_local_gateway_is_at_most_60_s(stack):
    assert stack.apigw is not None and stack.apigw.authorizer is not None
    assert 0 < REAUTHORIZE_EVERY <= 60
    assert stack.apigw.authorizer.ttl == REAUTHORIZE_EVERY


def test_given_two_keys_when_one_is_revoked_then_it_answers_401_within_the_cache_period_and_the_other_works(
        api, operator, later, tenant):
    keys = f"/admin/tenants/{tenant.tenant_id}/keys"
    created = operator("POST", keys, {"name": "billing"})
    assert created.status_code == 201, created.text
    billing = created.json()
    assert [messages(api, k) for k in (tenant.api_key, billing["api_key"])] == [200, 200]
    listing = operator("GET", keys).json()["keys"]
    assert [(k["name"], k["status"], k["last_used_at"] is not None) for k in listing] == [
        ("default", "active", True), ("billing", "active", True)]

    revoked = operator("DELETE", f"{keys}/{billing['key_id']}")
    assert (revoked.status_code, revoked.json()["status"]) == (200, "revoked")

    # API Gateway may still answer from the decision it cached before the revocation...
    assert messages(api, billing["api_key"]) == 200
    later(REAUTHORIZE_EVERY)  # ...for at most ReauthorizeEvery (60 s): then it asks again
    answer = api("GET", "/v1/messages?limit=1", billing["api_key"])
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "unauthorized")
    assert messages(api, tenant.api_key) == 200


def test_given_a_rotated_key_then_its_old_value_works_during_the_grace_period_then_answers_401(
        api, operator, later, tenant):
    grace = 2
    rotated = operator("POST", f"/admin/tenants/{tenant.tenant_id}/keys/{tenant.key_id}/rotate",
                       {"grace_seconds": grace})
    assert rotated.status_code == 201, rotated.text
    new_key, ends = rotated.json()["key"]["api_key"], rotated.json()["previous"]["expires_at"]

    later(REAUTHORIZE_EVERY)  # nothing cached: each call below is the authorizer's decision
    assert [messages(api, k) for k in (tenant.api_key, new_key)] == [200, 200]

    def old_key_refused() -> bool:
        later(REAUTHORIZE_EVERY)
        return messages(api, tenant.api_key) == 401

    wait_for(old_key_refused, timeout=grace + 5, interval=0.5)
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) >= ends[:19]  # not before the grace ended
    assert messages(api, new_key) == 200


def test_a_tenant_key_never_opens_the_operator_routes(api, operator, tenant):
    keys = f"/admin/tenants/{tenant.tenant_id}/keys"

    with_key = api("GET", keys, tenant.api_key)
    unsigned = api("GET", keys)
    created = api("POST", keys, tenant.api_key, json={"name": "mine"})

    assert (with_key.status_code, with_key.headers["x-amzn-ErrorType"]) == (403, "INVALID_SIGNATURE")
    assert (unsigned.status_code, unsigned.headers["x-amzn-ErrorType"]) == (404, "MISSING_AUTHENTICATION_TOKEN")
    assert created.status_code == 403
    assert [k["name"] for k in operator("GET", keys).json()["keys"]] == ["default"]
