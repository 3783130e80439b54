"""The local API Gateway answers like API Gateway wherever a client can tell, over real HTTP on
127.0.0.1: any method (one ANY does not cover is a route not found), the gateway responses of
template.yaml (each rendered locally with the template's status and body), HTTP the server
refuses (in JSON, never an HTML page), bodies over 10 MB (413, without hanging), and header
names in any case (the authorizer and the api function, end to end)."""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from local.stack.apigw import MAX_PAYLOAD, ApiError, ApiGateway, AuthorizerConfig, GatewayResponse, Route
from local.stack.invoker import FunctionError, Invoker
from local.stack.stack import authorizer_from, functions_from, gateway_responses_from, routes_from
from local.stack.template import ApiDefaults, TemplateError, _api_event, load_template, read_api

ROOT = Path(__file__).resolve().parents[2]
SPECS = read_api(load_template(ROOT / "template.yaml"))[2]
RESPONSES = gateway_responses_from(SimpleNamespace(gateway_responses=SPECS))  # what `make run` builds
ROUTES = [
    Route("ANY", "/v1/{proxy+}", "Api", api_key_required=True),
    Route("POST", "/v1/slow", "Slow", api_key_required=True),
    Route("GET", "/docs", "Api", authorized=False),
]
ANY_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
GOOD = {"Authorization": "Bearer good"}
# API Gateway's own message for each response type ($context.error.messageString).
MESSAGES = {
    "UNAUTHORIZED": "Unauthorized",
    "ACCESS_DENIED": "User is not authorized to access this resource with an explicit deny",
    "INVALID_API_KEY": "Forbidden",
    # template.yaml's fixed message: AWS's own one for this type can quote the Authorization header.
    "MISSING_AUTHENTICATION_TOKEN": "no route for this method and path",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "THROTTLED": "Too Many Requests",
    "QUOTA_EXCEEDED": "Limit Exceeded",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "DEFAULT_5XX": "Internal server error",
}


class FakeInvoker:
    """The authorizer and the functions as Python code; `calls` records (function, event)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        self.calls.append((logical_id, event))
        return getattr(self, logical_id.lower())(event)

    @staticmethod
    def authorizer(event: dict[str, Any]) -> dict[str, Any]:
        token = next(v for k, v in event["headers"].items() if k.lower() == "authorization")
        effect = "Deny" if token == "Bearer deny" else "Allow"
        answer = {
            "principalId": "ten_1",
            "context": {"tenant_id": "ten_1"},
            "policyDocument": {"Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": "*"}]},
        }
        if token != "Bearer no-usage-key":
            answer["usageIdentifierKey"] = "usage-key"
        return answer

    @staticmethod
    def api(event: dict[str, Any]) -> dict[str, Any]:
        if event["path"] == "/v1/boom":
            raise FunctionError("Api", "KeyError", "'x'", "req-1")
        if event["path"].startswith("/v1/gateway/"):
            # Throttling and quotas are not enforced locally: API Gateway's decision stands here.
            raise ApiError(event["path"].rsplit("/", 1)[1])
        echo = {"method": event["httpMethod"], "body": event["body"], "headers": event["headers"]}
        return {"statusCode": 200, "body": json.dumps(echo)}

    @staticmethod
    def slow(event: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.3)
        return {"statusCode": 200, "body": "{}"}


@pytest.fixture
def start() -> Iterator[Callable[..., tuple[ApiGateway, FakeInvoker]]]:
    """Starts local gateways with the template's gateway responses; stops them after the test."""
    started: list[ApiGateway] = []

    def make(responses: dict[str, GatewayResponse] = RESPONSES, **kwargs: Any) -> tuple[ApiGateway, FakeInvoker]:
        invoker = FakeInvoker()
        gateway = ApiGateway(invoker, ROUTES, AuthorizerConfig("Authorizer"), responses,  # type: ignore[arg-type]
                             port=0, stage="test", **kwargs)
        started.append(gateway.start())
        return gateway, invoker

    yield make
    for gateway in started:
        gateway.stop()


@pytest.fixture
def web() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback: never through a proxy
        yield session


def raw(url: str, data: bytes) -> tuple[int, http.client.HTTPMessage, bytes, bool]:
    """Send bytes as they are; (status, headers, body, whether the server closed the connection)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        body = resp.read()
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return resp.status, resp.headers, body, closed


def error(body: bytes | str) -> dict[str, Any]:
    """The one error shape, checked: its three fields and nothing else."""
    document = json.loads(body)
    assert set(document) == {"error"} and set(document["error"]) == {"code", "message", "field"}, document
    return document["error"]


# ---- any method -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW", "get"])
def test_given_a_method_any_does_not_cover_then_404_route_not_found_from_the_template(start, method):
    gateway, invoker = start()
    parts = urlsplit(gateway.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request(method, "/v1/messages", headers=GOOD)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()

    assert resp.status == 404
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.headers["x-amzn-ErrorType"] == "MISSING_AUTHENTICATION_TOKEN"
    assert error(body) == {"code": "route_not_found", "message": "no route for this method and path", "field": None}
    assert invoker.calls == []  # no route: neither the authorizer nor a function runs


@pytest.mark.parametrize("method", ANY_METHODS)
def test_given_a_method_any_covers_then_the_function_gets_it(start, web, method):
    gateway, _ = start()
    resp = web.request(method, f"{gateway.url}/v1/messages", headers=GOOD)

    assert resp.status_code == 200
    if method != "HEAD":
        assert resp.json()["method"] == method


# ---- the template's gateway responses ------------------------------------------------------------


def _trigger(gateway: ApiGateway, web: requests.Session, response_type: str) -> tuple[int, bytes]:
    """(status, body) of a request that makes the gateway answer `response_type` itself."""
    url = gateway.url
    if response_type == "DEFAULT_4XX":
        status, _, body, _ = raw(url, b"GARBAGE\r\n\r\n")
        return status, body
    if response_type == "REQUEST_TOO_LARGE":
        status, _, body, _ = raw(url, b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"
                                      b"Content-Length: %d\r\n\r\n" % (MAX_PAYLOAD + 1))
        return status, body
    requests_by_type = {
        "UNAUTHORIZED": ("GET", "/v1/messages", {}),
        "ACCESS_DENIED": ("GET", "/v1/messages", {"Authorization": "Bearer deny"}),
        "INVALID_API_KEY": ("GET", "/v1/messages", {"Authorization": "Bearer no-usage-key"}),
        "MISSING_AUTHENTICATION_TOKEN": ("GET", "/nowhere", GOOD),
        "INTEGRATION_TIMEOUT": ("POST", "/v1/slow", GOOD),
        "THROTTLED": ("GET", "/v1/gateway/THROTTLED", GOOD),
        "QUOTA_EXCEEDED": ("GET", "/v1/gateway/QUOTA_EXCEEDED", GOOD),
        "DEFAULT_5XX": ("POST", "/v1/boom", GOOD),
    }
    method, path, headers = requests_by_type[response_type]
    resp = web.request(method, url + path, headers=headers)
    assert resp.headers["x-amzn-ErrorType"] == response_type
    return resp.status_code, resp.content


@pytest.mark.parametrize("response_type", sorted(SPECS))
def test_given_each_gateway_response_of_the_template_then_rendered_locally_with_its_status_and_body(
        start, web, response_type):
    gateway, _ = start(integration_timeout=0.1)
    spec = SPECS[response_type]

    status, body = _trigger(gateway, web, response_type)

    # DEFAULT_4XX / DEFAULT_5XX keep the status of the error they stand for
    natural = {"DEFAULT_4XX": 400, "DEFAULT_5XX": 502}
    assert status == (spec.status_code or natural[response_type])
    message = MESSAGES.get(response_type, "Bad request syntax ('GARBAGE')")
    assert error(body) == json.loads(spec.render(message))["error"]


def test_every_response_type_the_api_needs_is_in_the_template():
    codes = {t: json.loads(s.render("m"))["error"]["code"] for t, s in SPECS.items()}
    statuses = {t: s.status_code for t, s in SPECS.items()}
    assert codes == {
        "UNAUTHORIZED": "unauthorized", "ACCESS_DENIED": "forbidden", "INVALID_API_KEY": "forbidden",
        "MISSING_AUTHENTICATION_TOKEN": "route_not_found", "REQUEST_TOO_LARGE": "payload_too_large",
        "THROTTLED": "rate_limited", "QUOTA_EXCEEDED": "rate_limited", "INTEGRATION_TIMEOUT": "timeout",
        "DEFAULT_4XX": "bad_request", "DEFAULT_5XX": "internal_error",
    }
    assert statuses == {
        "UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "INVALID_API_KEY": 403, "MISSING_AUTHENTICATION_TOKEN": 404,
        "REQUEST_TOO_LARGE": 413, "THROTTLED": 429, "QUOTA_EXCEEDED": 429, "INTEGRATION_TIMEOUT": 504,
        "DEFAULT_4XX": None, "DEFAULT_5XX": None,
    }


def test_given_a_status_on_default_4xx_then_it_applies_to_every_4xx_type_not_configured_itself(start, web):
    gateway, _ = start(responses={"DEFAULT_4XX": dataclasses.replace(RESPONSES["DEFAULT_4XX"], status=400),
                                  "UNAUTHORIZED": RESPONSES["UNAUTHORIZED"]})

    assert web.get(f"{gateway.url}/nowhere", headers=GOOD).status_code == 400  # MISSING_AUTHENTICATION_TOKEN
    assert web.get(f"{gateway.url}/v1/messages").status_code == 401  # UNAUTHORIZED keeps its own


def test_given_a_response_type_or_a_method_api_gateway_does_not_have_then_the_template_is_refused():
    template = load_template(ROOT / "template.yaml")
    api = template["Resources"]["Api"]["Properties"]
    api["GatewayResponses"]["THROTTLE"] = {"ResponseTemplates": {"application/json": "{}"}}
    with pytest.raises(TemplateError, match="THROTTLE is not an API Gateway response type"):
        read_api(template)

    defaults = ApiDefaults("Api", "TenantAuthorizer", api_key_required=True)
    with pytest.raises(TemplateError, match="method TRACE"):
        _api_event("ApiFunction", "Trace", {"RestApiId": {"Ref": "Api"}, "Path": "/v1/x", "Method": "trace"}, defaults)


# ---- what the HTTP server refuses --------------------------------------------------------------

_HEAD = b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer good\r\n"


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /v1/messages HTTP/x.y\r\nHost: t\r\n\r\n",
    b"GET /v1/messages HTTP/1.1 extra\r\nHost: t\r\n\r\n",
    b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n",
    _HEAD + b"Content-Length: ten\r\n\r\n",
    _HEAD + b"Content-Length: -1\r\n\r\n",
    _HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nab",
    _HEAD + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nab",
    _HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
    _HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
], ids=["no-version", "bad-version", "four-words", "uri-too-long", "length-not-a-number", "negative-length",
        "two-lengths", "length-and-chunked", "unknown-encoding", "bad-chunk-size"])
def test_given_a_malformed_request_then_a_4xx_in_the_one_error_shape_and_the_connection_closes(start, request_bytes):
    gateway, invoker = start()

    status, headers, body, closed = raw(gateway.url, request_bytes)

    assert status == (414 if len(request_bytes) > 65_536 else 400)
    assert headers["Content-Type"] == "application/json"
    assert error(body)["code"] == "bad_request"
    assert closed
    assert invoker.calls == []


def test_given_a_client_that_stops_sending_its_body_then_408_in_json_and_the_connection_closes(start, monkeypatch):
    monkeypatch.setattr("local.stack.apigw.BODY_READ_TIMEOUT", 0.3)
    gateway, invoker = start()

    status, headers, body, closed = raw(gateway.url, _HEAD + b"Content-Length: 10\r\n\r\nabc")

    assert (status, headers["Content-Type"], error(body)["code"], closed) == (
        408,
        "application/json",
        "bad_request",
        True,
    )
    assert invoker.calls == []


# ---- bodies over 10 MB ------------------------------------------------------------------------


def test_given_a_declared_body_over_10_mb_then_413_and_the_client_gets_it_while_sending(start, web):
    gateway, invoker = start()
    started = time.monotonic()

    resp = web.post(f"{gateway.url}/v1/messages", data=b"x" * (MAX_PAYLOAD + 1), headers=GOOD)

    assert resp.status_code == 413
    assert error(resp.content) == {"code": "payload_too_large", "message": "Request Too Long", "field": None}
    assert resp.headers["Connection"] == "close"
    assert time.monotonic() - started < 5
    assert invoker.calls == []


def test_given_a_chunked_body_that_grows_over_10_mb_then_413_without_hanging(start, web):
    gateway, invoker = start()
    chunk = b"x" * (1024 * 1024)
    started = time.monotonic()

    resp = web.post(f"{gateway.url}/v1/messages", data=(chunk for _ in range(11)), headers=GOOD)

    assert resp.status_code == 413
    assert error(resp.content)["code"] == "payload_too_large"
    assert time.monotonic() - started < 5
    assert invoker.calls == []


def test_given_a_chunked_body_within_the_limit_then_the_function_gets_it_whole(start, web):
    gateway, _ = start()

    resp = web.post(f"{gateway.url}/v1/messages", data=(part for part in (b"hello", b" ", b"world")), headers=GOOD)

    assert resp.status_code == 200
    assert resp.json()["body"] == "hello world"


def test_given_expect_100_continue_with_a_body_over_10_mb_then_413_instead_of_continue(start):
    gateway, _ = start()
    parts = urlsplit(gateway.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(_HEAD + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (MAX_PAYLOAD + 1))
        first_line = sock.makefile("rb").readline()

    assert first_line.startswith(b"HTTP/1.1 413 ")


# ---- header names in any case ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
def test_given_the_identity_header_in_any_case_then_the_authorizer_runs_with_it(start, web, name):
    gateway, invoker = start()

    resp = web.get(f"{gateway.url}/v1/messages", headers={name: "Bearer good"})

    assert resp.status_code == 200
    (function, event), _ = invoker.calls
    assert function == "Authorizer" and event["headers"][name] == "Bearer good"  # as sent, like API Gateway


@pytest.fixture
def template_gateway(provisioned) -> Iterator[ApiGateway]:
    """The real authorizer and api functions behind the local gateway, routes and responses from
    template.yaml; every request is authorized anew (no cached decision) and the tenant needs no
    usage-plan key."""
    authorizer = dataclasses.replace(authorizer_from(provisioned), ttl=0)
    gateway = ApiGateway(Invoker(functions_from(provisioned)), routes_from(provisioned), authorizer,
                         gateway_responses_from(provisioned), port=0, enforce_api_keys=False).start()
    yield gateway
    gateway.stop()


def test_given_header_names_in_any_case_then_the_key_and_the_idempotency_key_work_end_to_end(template_gateway, web):
    from tamtam.tenants import create_tenant

    key = create_tenant("acme").api_key
    url = f"{template_gateway.url}/v1/messages"
    body = {"to": "+224622000001", "text": "Your order shipped"}
    spellings = [("authorization", "idempotency-key"), ("AUTHORIZATION", "IDEMPOTENCY-KEY"),
                 ("Authorization", "Idempotency-Key")]

    answers = [
        web.post(url, json=body, headers={auth: f"Bearer {key}", idem: "order-1001"}) for auth, idem in spellings
    ]

    assert [a.status_code for a in answers] == [202, 202, 202], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1  # one message: the key was seen every time
    assert [a.headers.get("Idempotency-Replayed") for a in answers] == [None, "true", "true"]
    refused = web.post(url, json=body, headers={"authorization": "Bearer tt_wrong_key_000000000000000000000000"})
    assert refused.status_code == 401 and error(refused.content)["code"] == "unauthorized"
