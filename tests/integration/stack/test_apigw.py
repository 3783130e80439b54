"""The local API Gateway: routing, the REQUEST authorizer, proxy events and responses, and
gateway responses rendered like API Gateway renders them."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

from local.stack.apigw import MAX_PAYLOAD, ApiGateway, AuthorizerConfig, GatewayResponse, Route, render_template
from local.stack.invoker import Invoker

AUTHORIZER = """
def lambda_handler(event, context):
    record(event)
    token = event["headers"].get("Authorization", "")
    if token == "Bearer bad":
        raise Exception("Unauthorized")
    if token == "Bearer boom":
        raise RuntimeError("database down")
    if token == "Bearer nonsense":
        return {"policy": "allow"}
    effect = "Deny" if token == "Bearer deny" else "Allow"
    arn = event["methodArn"]
    resource = arn if token == "Bearer exact" else arn.split("/")[0] + "/*"
    if token == "Bearer readonly":
        resource = arn.split("/")[0] + "/*/GET/*"
    return {
        "principalId": "ten_1",
        "policyDocument": {"Version": "2012-10-17",
                           "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]},
        "context": {"tenant_id": "ten_1", "premium": True, "quota": 3},
    }
"""

ECHO = """
import base64, json

def lambda_handler(event, context):
    if event["path"].endswith("/binary"):
        return {"statusCode": 200, "headers": {"Content-Type": "application/octet-stream"},
                "body": base64.b64encode(b"\\x00\\x01\\xff").decode(), "isBase64Encoded": True}
    if event["path"].endswith("/malformed"):
        return {"statusCode": 200, "body": {"not": "a string"}}
    return {"statusCode": 201, "headers": {"X-One": "1"}, "multiValueHeaders": {"X-Many": ["a", "b"]},
            "body": json.dumps(event), "isBase64Encoded": False}
"""

RESPONSES = {
    "UNAUTHORIZED": GatewayResponse(401, '{"error":{"code":"unauthorized","message":$context.error.messageString}}'),
    "ACCESS_DENIED": GatewayResponse(403, '{"error":{"code":"forbidden","message":$context.error.messageString}}'),
    "DEFAULT_4XX": GatewayResponse(None, '{"error":{"code":"bad_request","message":$context.error.messageString}}',
                                   {"Access-Control-Allow-Origin": "'*'"}),
    "DEFAULT_5XX": GatewayResponse(None, '{"error":{"code":"internal_error","message":$context.error.messageString,'
                                         '"request":"$context.requestId"}}'),
}


@pytest.fixture
def functions(make_function, recorder):
    return {
        "Authorizer": make_function("Authorizer", recorder + AUTHORIZER),
        "Api": make_function("Api", ECHO),
        "Boom": make_function("Boom", "def lambda_handler(event, context):\n    raise KeyError('x')\n"),
    }


def _gateway(functions, responses=RESPONSES) -> ApiGateway:
    routes = [
        Route("ANY", "/v1/{proxy+}", "Api"),
        Route("GET", "/v1/items/{id}", "Api"),
        Route("GET", "/docs", "Api", authorized=False),
        Route("POST", "/v1/boom", "Boom"),
    ]
    invoker = Invoker(functions.values())
    return ApiGateway(invoker, routes, AuthorizerConfig("Authorizer"), responses, port=0, stage="local").start()


@pytest.fixture
def api(functions) -> Iterator[ApiGateway]:
    gateway = _gateway(functions)
    yield gateway
    gateway.stop()


@pytest.fixture
def web() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback: never through a proxy
    return session


def test_given_an_allowed_key_when_calling_then_the_proxy_event_carries_the_authorizer_context(
    api, web, functions, read_log
):
    resp = web.get(f"{api.url}/v1/items/42?x=1&x=2&y=", headers={"Authorization": "Bearer good"})

    assert resp.status_code == 201
    assert resp.headers["X-One"] == "1" and resp.headers["X-Many"] == "a, b"
    assert resp.headers["Content-Type"] == "application/json"
    event = resp.json()
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/v1/items/{id}", "/v1/items/42", "GET")
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["Authorization"] == "Bearer good"
    assert event["multiValueHeaders"]["Authorization"] == ["Bearer good"]
    assert event["body"] is None and event["isBase64Encoded"] is False and event["stageVariables"] is None
    ctx = event["requestContext"]
    assert ctx["stage"] == "local" and ctx["resourcePath"] == "/v1/items/{id}" and ctx["path"] == "/local/v1/items/42"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["requestId"] == resp.headers["x-amzn-RequestId"]
    authorizer = dict(ctx["authorizer"])
    assert isinstance(authorizer.pop("integrationLatency"), int)
    assert authorizer == {"tenant_id": "ten_1", "premium": "true", "quota": "3", "principalId": "ten_1"}

    (auth_event,) = read_log(functions["Authorizer"])
    assert auth_event["type"] == "REQUEST"
    assert auth_event["methodArn"] == f"arn:aws:execute-api:eu-west-1:123456789012:{api.api_id}/local/GET/v1/items/42"
    assert (auth_event["resource"], auth_event["path"], auth_event["httpMethod"]) == (
        "/v1/items/{id}",
        "/v1/items/42",
        "GET",
    )
    assert auth_event["pathParameters"] == {"id": "42"}
    assert auth_event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert auth_event["requestContext"]["requestId"] == ctx["requestId"]
    assert "authorizer" not in auth_event["requestContext"]


def test_given_routes_when_several_match_then_the_most_specific_wins_and_bodies_pass_through(api, web):
    resp = web.post(f"{api.url}/v1/items/42", data="héllo".encode(), headers={"Authorization": "Bearer good"})
    event = resp.json()
    assert (event["resource"], event["pathParameters"]) == ("/v1/{proxy+}", {"proxy": "items/42"})
    assert (event["body"], event["isBase64Encoded"]) == ("héllo", False)

    binary = web.put(f"{api.url}/v1/raw", data=b"\xff\xfe", headers={"Authorization": "Bearer good"}).json()
    assert (binary["body"], binary["isBase64Encoded"]) == (base64.b64encode(b"\xff\xfe").decode(), True)


def test_given_a_deny_policy_then_403_access_denied_rendered_from_its_template(api, web):
    resp = web.get(f"{api.url}/v1/items/1", headers={"Authorization": "Bearer deny"})

    assert resp.status_code == 403
    assert resp.json() == {"error": {"code": "forbidden",
                                     "message": "User is not authorized to access this resource with an explicit deny"}}
    assert resp.headers["x-amzn-ErrorType"] == "ACCESS_DENIED"


def test_given_an_allow_policy_that_does_not_cover_the_method_then_403(api, web):
    assert web.get(f"{api.url}/v1/items/1", headers={"Authorization": "Bearer readonly"}).status_code == 201
    resp = web.post(f"{api.url}/v1/items/1", headers={"Authorization": "Bearer readonly"})
    assert resp.status_code == 403
    assert resp.json()["error"]["message"] == "User is not authorized to access this resource"


def test_given_an_unauthorized_error_or_no_header_then_401_and_no_header_skips_the_authorizer(
    api, web, functions, read_log
):
    resp = web.get(f"{api.url}/v1/items/1", headers={"Authorization": "Bearer bad"})
    assert resp.status_code == 401
    assert resp.json() == {"error": {"code": "unauthorized", "message": "Unauthorized"}}

    resp = web.get(f"{api.url}/v1/items/1")
    assert resp.status_code == 401
    assert len(read_log(functions["Authorizer"])) == 1  # only the first request reached it


def test_given_a_failing_or_invalid_authorizer_then_500_with_a_null_message(api, web):
    for token in ("Bearer boom", "Bearer nonsense"):
        resp = web.get(f"{api.url}/v1/items/1", headers={"Authorization": token})
        assert resp.status_code == 500
        assert resp.json()["error"]["message"] is None


def test_given_a_raising_function_then_502_through_default_5xx(api, web):
    resp = web.post(f"{api.url}/v1/boom", headers={"Authorization": "Bearer good"})

    assert resp.status_code == 502
    body = resp.json()["error"]
    assert (body["code"], body["message"]) == ("internal_error", "Internal server error")
    assert body["request"] == resp.headers["x-amzn-RequestId"]


def test_given_no_gateway_responses_then_api_gateway_default_bodies(functions, web):
    gateway = _gateway(functions, responses={})
    try:
        resp = web.post(f"{gateway.url}/v1/boom", headers={"Authorization": "Bearer good"})
        assert (resp.status_code, resp.json()) == (502, {"message": "Internal server error"})
        resp = web.get(f"{gateway.url}/nowhere")
        assert (resp.status_code, resp.json()) == (403, {"message": "Missing Authentication Token"})
    finally:
        gateway.stop()


def test_given_an_unknown_route_then_403_missing_token_through_default_4xx_with_its_headers(api, web):
    resp = web.delete(f"{api.url}/v2/things", headers={"Authorization": "Bearer good"})

    assert resp.status_code == 403
    assert resp.json()["error"] == {"code": "bad_request", "message": "Missing Authentication Token"}
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_given_an_auth_none_route_then_no_authorizer_runs(api, web, functions, read_log):
    event = web.get(f"{api.url}/docs").json()

    assert "authorizer" not in event["requestContext"]
    assert read_log(functions["Authorizer"]) == []


def test_given_binary_or_malformed_proxy_responses_then_decoded_or_502(api, web):
    resp = web.get(f"{api.url}/v1/binary", headers={"Authorization": "Bearer good"})
    assert resp.content == b"\x00\x01\xff"
    assert web.get(f"{api.url}/v1/malformed", headers={"Authorization": "Bearer good"}).status_code == 502


def test_given_a_payload_over_10_mb_then_413_without_reading_it(api):
    parts = urlsplit(api.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.putrequest("POST", "/v1/items")
        conn.putheader("Authorization", "Bearer good")
        conn.putheader("Content-Length", str(MAX_PAYLOAD + 1))
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 413
        assert json.loads(resp.read())["error"]["message"] == "Request Too Long"
    finally:
        conn.close()


def test_given_an_authorizer_ttl_then_the_cached_policy_is_reused(functions, web, read_log):
    routes = [Route("ANY", "/v1/{proxy+}", "Api")]
    gateway = ApiGateway(Invoker(functions.values()), routes, AuthorizerConfig("Authorizer", ttl=300), port=0).start()
    try:
        assert web.get(f"{gateway.url}/v1/a", headers={"Authorization": "Bearer exact"}).status_code == 201
        # The cached policy names only GET /v1/a: API Gateway's classic caching pitfall.
        assert web.get(f"{gateway.url}/v1/b", headers={"Authorization": "Bearer exact"}).status_code == 403
        assert len(read_log(functions["Authorizer"])) == 1
    finally:
        gateway.stop()


def test_render_template_keeps_unknown_references_and_drops_quiet_ones():
    variables = {"context.error.messageString": '"x"', "context.requestId": "r1"}
    template = '{"m":$context.error.messageString,"r":"${context.requestId}","u":"$context.unknown","q":"$!context.q"}'
    assert render_template(template, variables) == '{"m":"x","r":"r1","u":"$context.unknown","q":""}'


def test_given_an_open_keep_alive_connection_when_stopping_then_threads_end_and_the_port_closes(functions, web):
    import socket
    import threading
    import time

    gateway = _gateway(functions)
    before = set(threading.enumerate())
    assert web.get(f"{gateway.url}/docs").status_code == 201  # the session keeps the connection open
    started = time.monotonic()
    gateway.stop()

    assert time.monotonic() - started < 2
    assert not [t for t in set(threading.enumerate()) - before if t.is_alive()]
    parts = urlsplit(gateway.url)
    with pytest.raises(ConnectionRefusedError), socket.create_connection((parts.hostname, parts.port), timeout=1):
        pass


def test_given_a_route_that_requires_an_api_key_then_the_authorizer_must_return_a_usage_identifier_key(
        make_function, web):
    fn = make_function("KeyAuth", """
def lambda_handler(event, context):
    allow = {"principalId": "p", "policyDocument": {"Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]}}
    if event["headers"]["Authorization"] == "Bearer with-key":
        allow["usageIdentifierKey"] = "usage-plan-key-value"
    return allow
""")
    api_fn = make_function("KeyApi", ECHO)
    routes = [Route("ANY", "/v1/{proxy+}", "KeyApi", api_key_required=True)]
    gateway = ApiGateway(Invoker([fn, api_fn]), routes, AuthorizerConfig("KeyAuth"), port=0).start()
    try:
        assert web.get(f"{gateway.url}/v1/a", headers={"Authorization": "Bearer with-key"}).status_code == 201
        resp = web.get(f"{gateway.url}/v1/a", headers={"Authorization": "Bearer without"})
        assert (resp.status_code, resp.json()) == (403, {"message": "Forbidden"})
    finally:
        gateway.stop()
