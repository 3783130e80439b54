"""The local API Gateway's AWS_IAM routes (local.stack.sigv4): only a request SigV4-signed with
credentials the gateway knows reaches the function, with the caller in
requestContext.identity; a tenant's bearer key, an unsigned call, another secret, region or
service, a changed body, path or signed header, or a stale date are refused before any function
runs. Also: the template's AWS_IAM routes are read as such, and the authorizer cache honours the
template's ReauthorizeEvery on the gateway's clock."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from local.stack import sigv4
from local.stack.apigw import ApiGateway, Route
from local.stack.stack import authorizer_from, gateway_responses_from, routes_from
from local.stack.template import ApiDefaults, TemplateError, _api_event, load_template, read_api

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = load_template(ROOT / "template.yaml")
API_DEFAULTS, AUTHORIZER_SPEC, RESPONSE_SPECS = read_api(TEMPLATE)
RESPONSES = gateway_responses_from(SimpleNamespace(gateway_responses=RESPONSE_SPECS))
REGION = "eu-west-1"
CREDENTIALS = {"AKIDOPERATOR": "operator-secret"}
ROUTES = [
    Route("GET", "/admin/tenants/{tenant_id}/keys", "Admin", authorized=False, iam=True),
    Route("POST", "/admin/tenants/{tenant_id}/keys", "Admin", authorized=False, iam=True),
    Route("GET", "/admin/keyed", "Admin", authorized=False, iam=True, api_key_required=True),
    Route("ANY", "/v1/{proxy+}", "Api", api_key_required=True),
]


class FakeInvoker:
    """The authorizer and the functions as Python code; `calls` records (function, event)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refused: set[str] = set()  # bearer tokens the authorizer refuses from now on

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        self.calls.append((logical_id, event))
        if logical_id == "AuthorizerFunction":
            token = next(v for k, v in event["headers"].items() if k.lower() == "authorization")
            if token in self.refused:
                from local.stack.invoker import FunctionError

                raise FunctionError(logical_id, "Exception", "Unauthorized", "req-1")
            return {
                "principalId": "ten_1",
                "context": {"tenant_id": "ten_1"},
                "usageIdentifierKey": "usage",
                "policyDocument": {"Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]},
            }
        return {
            "statusCode": 200,
            "body": json.dumps(
                {
                    "identity": event["requestContext"]["identity"],
                    "body": event["body"],
                    "query": event["queryStringParameters"],
                }
            ),
        }


@pytest.fixture
def start() -> Iterator[Callable[..., tuple[ApiGateway, FakeInvoker]]]:
    started: list[ApiGateway] = []

    def make(**kwargs: Any) -> tuple[ApiGateway, FakeInvoker]:
        invoker = FakeInvoker()
        options = {"iam_credentials": CREDENTIALS, **kwargs}
        gateway = ApiGateway(invoker, ROUTES, authorizer_from(SimpleNamespace(authorizer=AUTHORIZER_SPEC)),  # type: ignore[arg-type]
                             RESPONSES, port=0, region=REGION, **options)
        started.append(gateway.start())
        return gateway, invoker

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def web() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def signed(method: str, url: str, body: bytes = b"", *, access_key: str = "AKIDOPERATOR",
           secret_key: str = "operator-secret", region: str = REGION, **headers: str) -> dict[str, str]:
    return sigv4.sign(method, url, body=body, headers=headers, region=region, access_key=access_key,
                      secret_key=secret_key)


KEYS = "/admin/tenants/ten_1/keys"


# ---- what passes ------------------------------------------------------------------------------


def test_given_a_call_signed_with_a_known_credential_then_the_function_gets_it_with_the_caller(start, web):
    gateway, invoker = start()
    url = f"{gateway.url}{KEYS}?b=2&a=1"
    body = b'{"name": "billing"}'

    resp = web.post(url, data=body, headers=signed("POST", url, body, **{"Content-Type": "application/json"}))

    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["body"] == body.decode() and answer["query"] == {"a": "1", "b": "2"}
    assert answer["identity"]["accessKey"] == "AKIDOPERATOR"
    assert answer["identity"]["userArn"] == "arn:aws:iam::123456789012:user/AKIDOPERATOR"
    assert [c[0] for c in invoker.calls] == ["Admin"]  # the tenant authorizer never runs


def test_given_a_session_token_signed_with_the_call_then_it_passes_too(start, web):
    gateway, _ = start()
    url = f"{gateway.url}{KEYS}"
    headers = sigv4.sign("GET", url, region=REGION, access_key="AKIDOPERATOR", secret_key="operator-secret",
                         token="session")

    assert "X-Amz-Security-Token" in headers
    assert web.get(url, headers=headers).status_code == 200


# ---- what is refused, before any function runs -----------------------------------------------


def _refused(resp: requests.Response, invoker: FakeInvoker, response_type: str, status: int) -> dict[str, Any]:
    assert (resp.status_code, resp.headers["x-amzn-ErrorType"]) == (status, response_type), resp.text
    assert invoker.calls == []
    return resp.json()["error"]


def test_given_a_tenant_bearer_key_then_403_invalid_signature_and_neither_authorizer_nor_function_runs(start, web):
    gateway, invoker = start()

    resp = web.get(f"{gateway.url}{KEYS}", headers={"Authorization": "Bearer tt_a_perfectly_valid_tenant_key_000"})

    error = _refused(resp, invoker, "INVALID_SIGNATURE", 403)
    assert "AWS4-HMAC-SHA256" in error["message"]


def test_given_no_signature_then_the_templates_missing_authentication_token_answer(start, web):
    gateway, invoker = start()

    error = _refused(web.get(f"{gateway.url}{KEYS}"), invoker, "MISSING_AUTHENTICATION_TOKEN", 404)

    assert error["code"] == "route_not_found"  # template.yaml's answer for this type, as in AWS


@pytest.mark.parametrize(("change", "message"), [
    ({"secret_key": "another-secret"}, "does not match"),
    ({"access_key": "AKIDSTRANGER"}, "security token included in the request is invalid"),
    ({"region": "us-east-1"}, "scoped to region"),
], ids=["wrong-secret", "unknown-access-key", "other-region"])
def test_given_a_signature_of_other_credentials_then_403(start, web, change, message):
    gateway, invoker = start()
    url = f"{gateway.url}{KEYS}"

    error = _refused(web.get(url, headers=signed("GET", url, **change)), invoker, "INVALID_SIGNATURE", 403)

    assert message in error["message"]


def test_given_a_signature_for_another_service_then_403(start, web):
    gateway, invoker = start()
    url = f"{gateway.url}{KEYS}"
    headers = signed("GET", url)
    headers["Authorization"] = headers["Authorization"].replace("/execute-api/", "/s3/")

    assert "service" in _refused(web.get(url, headers=headers), invoker, "INVALID_SIGNATURE", 403)["message"]


def test_given_a_signed_call_changed_on_the_way_then_403(start, web):
    gateway, invoker = start()
    url = f"{gateway.url}{KEYS}"
    headers = signed("POST", url, b'{"name": "a"}', **{"X-Custom": "one"})

    changed_body = web.post(url, data=b'{"name": "b"}', headers=headers)
    changed_path = web.post(f"{gateway.url}/admin/tenants/ten_2/keys", data=b'{"name": "a"}', headers=headers)
    changed_header = web.post(url, data=b'{"name": "a"}', headers={**headers, "X-Custom": "two"})
    changed_method = web.get(url, headers=headers)

    for resp in (changed_body, changed_path, changed_header, changed_method):
        assert (resp.status_code, resp.headers["x-amzn-ErrorType"]) == (403, "INVALID_SIGNATURE")
    assert invoker.calls == []
    assert web.post(url, data=b'{"name": "a"}', headers=headers).status_code == 200  # the call as signed


def test_given_a_gateway_without_credentials_then_every_signed_call_is_refused(start, web):
    gateway, invoker = start(iam_credentials=None)
    url = f"{gateway.url}{KEYS}"

    _refused(web.get(url, headers=signed("GET", url)), invoker, "INVALID_SIGNATURE", 403)


def test_given_an_iam_route_that_requires_an_api_key_then_403_invalid_api_key(start, web):
    gateway, invoker = start()
    url = f"{gateway.url}/admin/keyed"

    _refused(web.get(url, headers=signed("GET", url)), invoker, "INVALID_API_KEY", 403)


def _verify(headers: dict[str, str], now: float, body: bytes = b"") -> sigv4.Caller:
    return sigv4.verify(method="GET", target="/admin/x", headers=list(headers.items()), body=body,
                        region=REGION, credentials=CREDENTIALS, account_id="123456789012", now=now)


def test_given_a_date_more_than_five_minutes_off_then_signature_expired():
    headers = {**signed("GET", "http://127.0.0.1:3000/admin/x"), "Host": "127.0.0.1:3000"}

    assert _verify(headers, time.time() + 60).access_key == "AKIDOPERATOR"
    for off in (sigv4.MAX_SKEW + 5, -sigv4.MAX_SKEW - 5):
        with pytest.raises(sigv4.SignatureError, match="Signature expired"):
            _verify(headers, time.time() + off)


def test_given_an_unsigned_date_or_host_or_a_content_hash_of_another_body_then_refused():
    url = "http://127.0.0.1:3000/admin/x"
    base = {**signed("GET", url), "Host": "127.0.0.1:3000"}
    no_date = {**base, "Authorization": base["Authorization"].replace("SignedHeaders=host;x-amz-date",
                                                                      "SignedHeaders=host")}
    no_host = {**base, "Authorization": base["Authorization"].replace("SignedHeaders=host;x-amz-date",
                                                                      "SignedHeaders=x-amz-date")}
    hashed = {**signed("GET", url, **{"X-Amz-Content-SHA256": "0" * 64}), "Host": "127.0.0.1:3000"}

    for headers, message in ((no_date, "X-Amz-Date must be signed"), (no_host, "host header must be signed"),
                             (hashed, "does not match the body")):
        with pytest.raises(sigv4.SignatureError, match=message):
            _verify(headers, time.time())


@pytest.mark.parametrize("value", [
    "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=AKIDOPERATOR/20260101/eu-west-1/execute-api/aws4_request",
    "AWS4-HMAC-SHA256 garbage", "Basic b3BlcmF0b3I6c2VjcmV0",
])
def test_given_a_malformed_authorization_header_then_invalid_signature(value):
    with pytest.raises(sigv4.SignatureError) as caught:
        _verify({"Authorization": value, "Host": "h"}, time.time())
    assert caught.value.response_type == "INVALID_SIGNATURE"


# ---- template.yaml ------------------------------------------------------------------------------


def test_the_templates_admin_routes_are_read_as_aws_iam_routes_without_api_key():
    resource = TEMPLATE["Resources"]["TenantAdminFunction"]
    events = [_api_event("TenantAdminFunction", name, event["Properties"], API_DEFAULTS)
              for name, event in resource["Properties"]["Events"].items()]
    routes = routes_from(SimpleNamespace(functions={"TenantAdminFunction": SimpleNamespace(api_events=events)}))

    assert {(r.method, r.path) for r in routes} == {
        ("GET", "/admin/tenants/{tenant_id}/keys"),
        ("POST", "/admin/tenants/{tenant_id}/keys"),
        ("POST", "/admin/tenants/{tenant_id}/keys/{key_id}/rotate"),
        ("DELETE", "/admin/tenants/{tenant_id}/keys/{key_id}"),
    }
    assert all(r.iam and not r.authorized and not r.api_key_required for r in routes)


def test_given_an_aws_iam_route_invoked_with_the_callers_credentials_then_the_template_is_refused():
    defaults = ApiDefaults("Api", "TenantAuthorizer", api_key_required=True)
    event = {"RestApiId": {"Ref": "Api"}, "Path": "/admin/x", "Method": "GET", "Auth": {"Authorizer": "AWS_IAM"}}

    with pytest.raises(TemplateError, match="InvokeRole NONE"):
        _api_event("TenantAdminFunction", "X", event, defaults)
    assert _api_event("F", "X", {**event, "Auth": {"Authorizer": "AWS_IAM", "InvokeRole": "NONE"}}, defaults).iam


# ---- the authorizer cache: the template's period, on the gateway's clock ------------------------


def test_given_a_key_refused_after_its_answer_was_cached_then_it_is_refused_once_reauthorize_every_has_passed(
    start, web
):
    moment = {"now": 1000.0}
    gateway, invoker = start(clock=lambda: moment["now"])
    ttl = AUTHORIZER_SPEC.reauthorize_every
    url, key = f"{gateway.url}/v1/messages", {"Authorization": "Bearer tt_key"}

    assert 0 < ttl <= 60  # template.yaml: a revoked key is refused within 60 s
    assert web.get(url, headers=key).status_code == 200
    invoker.refused.add("Bearer tt_key")  # revoked from now on
    moment["now"] += ttl - 1
    assert web.get(url, headers=key).status_code == 200  # the cached answer, as in API Gateway
    moment["now"] += 1
    resp = web.get(url, headers=key)

    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"
    assert [c[0] for c in invoker.calls].count("AuthorizerFunction") == 2
