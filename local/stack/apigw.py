"""A local API Gateway (REST API, Lambda proxy integration) on 127.0.0.1.

For each request: pick the route the way API Gateway walks its resource tree (literal segments
before `{param}` before `{proxy+}`, an exact method before ANY), run the REQUEST authorizer for
routes that have one (identity source: headers, matched without regard to case; its answers
cached per identity for the template's ReauthorizeEvery), or check the SigV4 signature of AWS_IAM
routes against the local stack's credentials (local.stack.sigv4), then call the function with
the REST proxy event (payload v1) and turn its proxy response into the HTTP answer.
Every method goes through this pipeline: `ANY` covers the seven methods API Gateway knows, and any
other method, like an unknown path, is MISSING_AUTHENTICATION_TOKEN. Errors come back as gateway
responses, rendered from the configured templates like API Gateway renders them; so do the HTTP
server's own refusals (a malformed request line, a bad Content-Length, a body over 10 MB).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
import re
import socket
import string
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.stack.http_body import BodyError, declared_length, linger, read_body
from local.stack.invoker import ACCOUNT_ID, FunctionError, Invoker
from local.stack.sigv4 import SignatureError, verify
from local.stack.template import API_METHODS

log = logging.getLogger("local.stack.apigw")

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request and response payload limit
INTEGRATION_TIMEOUT = 29.0
BODY_READ_TIMEOUT = 10.0  # seconds a body read may wait for the client before the connection is dropped
ANY_METHODS = API_METHODS - {"ANY"}  # what ANY covers: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT

# Built-in gateway responses: type -> (status, message). Unconfigured types render through
# DEFAULT_4XX / DEFAULT_5XX when those are configured, else with API Gateway's default body.
BUILTIN = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "ACCESS_DENIED": (403, "User is not authorized to access this resource with an explicit deny"),
    "AUTHORIZER_FAILURE": (500, None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "INVALID_SIGNATURE": (403, "The request signature we calculated does not match the signature you provided."),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "DEFAULT_5XX": (502, "Internal server error"),
}
DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
NOT_COVERED = "User is not authorized to access this resource"


_PROXY_LOCK = threading.Lock()


@dataclass(frozen=True)
class Route:
    method: str  # GET, POST, ... or ANY
    path: str  # resource template: /v1/messages/{id}, /{proxy+}
    function: str  # logical id
    authorized: bool = True  # False: Auth NONE (or AWS_IAM: `iam`)
    api_key_required: bool = False  # with the API's key source AUTHORIZER: usageIdentifierKey
    iam: bool = False  # Auth AWS_IAM: a SigV4 signature instead of the REQUEST authorizer

    def match(self, segments: list[str]) -> tuple[tuple[int, ...], dict[str, str]] | None:
        """(specificity key, path parameters) when the route matches the request segments."""
        tpl = [s for s in self.path.strip("/").split("/") if s]
        rank: list[int] = []
        params: dict[str, str] = {}
        for i, seg in enumerate(tpl):
            if seg.startswith("{") and seg.endswith("+}"):
                if i != len(tpl) - 1 or i >= len(segments):
                    return None
                params[seg[1:-2]] = "/".join(segments[i:])
                return (*rank, 2), params
            if i >= len(segments):
                return None
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = segments[i]
                rank.append(1)
            elif seg == segments[i]:
                rank.append(0)
            else:
                return None
        return (tuple(rank), params) if len(tpl) == len(segments) else None


@dataclass(frozen=True)
class AuthorizerConfig:
    function: str  # logical id of the REQUEST authorizer
    identity_headers: tuple[str, ...] = ("Authorization",)  # all required
    ttl: int = 0  # result cache seconds (ReauthorizeEvery); 0 disables the cache


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None = None  # None: the type's own status
    template: str | None = None  # application/json body template (VTL subset)
    headers: Mapping[str, str] = field(default_factory=dict)  # values as in SAM: "'*'"


class ApiError(Exception):
    def __init__(self, response_type: str, message: str | None = None, status: int | None = None):
        default_status, default_message = BUILTIN.get(response_type, (500, None))
        super().__init__(response_type)
        self.response_type = response_type
        self.status = status or default_status
        self.message = message if message is not None else default_message


_VAR = re.compile(r"\$(!?)(?:\{((?:context|stageVariables)(?:\.[\w-]+)+)\}|"
                  r"((?:context|stageVariables)(?:\.[\w-]+)+))")


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """Substitute `$context.x.y` / `${context.x.y}` / `$!context...` references. Unknown
    references stay as written (VTL), quiet ones (`$!`) vanish."""

    def sub(m: re.Match[str]) -> str:
        ref = m.group(2) or m.group(3)
        if ref in variables and variables[ref] is not None:
            return str(variables[ref])
        return "" if m.group(1) else m.group(0)

    return _VAR.sub(sub, template)


def _strip_quotes(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


def _policy_decision(policy: Any, method_arn: str) -> str:
    """'allow', 'deny' (explicit) or 'none' for a policy document against the method ARN."""
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    decision = "none"
    for st in statements:
        actions = st.get("Action", [])
        resources = st.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(fnmatchcase("execute-api:Invoke", a.replace("[", "[[]")) for a in actions):
            continue
        if not any(fnmatchcase(method_arn, r.replace("[", "[[]")) for r in resources):
            continue
        if str(st.get("Effect", "")).lower() == "deny":
            return "deny"
        if str(st.get("Effect", "")).lower() == "allow":
            decision = "allow"
    return decision


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ApiError("AUTHORIZER_CONFIGURATION_ERROR")


@dataclass
class _Request:
    method: str
    path: str
    segments: list[str]
    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]
    body: bytes
    source_ip: str
    target: str = ""  # path and query as the request line had them (what a SigV4 signature covers)
    caller: Mapping[str, str] | None = None  # requestContext.identity of an IAM-authorized call
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.time)

    def header(self, name: str) -> str | None:
        found = [v for k, v in self.headers if k.lower() == name.lower()]
        return found[-1] if found else None


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for k, v in pairs:
        single[k] = v
        multi.setdefault(k, []).append(v)
    return single or None, multi or None


class ApiGateway:
    """The HTTP front. `start()` binds 127.0.0.1:`port` (0: any free port); `url` is then set."""

    def __init__(
        self,
        invoker: Invoker,
        routes: Iterable[Route],
        authorizer: AuthorizerConfig | None = None,
        gateway_responses: Mapping[str, GatewayResponse] | None = None,
        port: int = 3000,
        stage: str = "Prod",
        region: str = "eu-west-1",
        integration_timeout: float = INTEGRATION_TIMEOUT,
        enforce_api_keys: bool = True,
        iam_credentials: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        """iam_credentials: access key id -> secret key of the callers AWS_IAM routes accept
        (none: every signed call is refused). clock: the authorizer cache's time (seconds)."""
        self.invoker = invoker
        self.routes = list(routes)
        self.authorizer = authorizer
        self.gateway_responses = dict(gateway_responses or {})
        self.stage = stage
        self.region = region
        self.integration_timeout = integration_timeout
        self.enforce_api_keys = enforce_api_keys
        self.iam_credentials = dict(iam_credentials or {})
        self.clock = clock
        self.api_id = "".join(random.choices(string.ascii_lowercase + string.digits, k=10))
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._cache: dict[str, tuple[float, str, dict[str, Any], Any, str | None]] = {}
        self._cache_lock = threading.Lock()
        self.url = ""

    # ---- lifecycle ----------------------------------------------------------------------
    def start(self) -> ApiGateway:
        gateway = self

        class Handler(_Handler):
            api = gateway

        self._server = _Server(("127.0.0.1", self._port), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="apigw", daemon=True)
        self._thread.start()
        log.info("API Gateway listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()  # joins the request threads
        if self._thread:
            self._thread.join()
        self._server = None

    # ---- request pipeline ---------------------------------------------------------------
    def handle(self, req: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        route: Route | None = None
        params: dict[str, str] = {}
        authorizer_ctx: dict[str, Any] | None = None
        try:
            if len(req.body) > MAX_PAYLOAD:
                raise ApiError("REQUEST_TOO_LARGE")
            route, params = self._route(req)
            if route.iam:
                self._check_signature(req, route)
            elif route.authorized and self.authorizer is not None:
                authorizer_ctx = self._authorize(req, route, params)
            return self._integrate(req, route, params, authorizer_ctx)
        except ApiError as err:
            return self._gateway_response(err, req, route, authorizer_ctx)

    def _route(self, req: _Request) -> tuple[Route, dict[str, str]]:
        candidates = []
        for route in self.routes:
            if route.method != req.method and not (route.method == "ANY" and req.method in ANY_METHODS):
                continue
            matched = route.match(req.segments)
            if matched:
                candidates.append((matched[0], route.method == "ANY", route, matched[1]))
        if not candidates:
            raise ApiError("MISSING_AUTHENTICATION_TOKEN")
        candidates.sort(key=lambda c: (c[0], c[1]))
        return candidates[0][2], candidates[0][3]

    def method_arn(self, req: _Request) -> str:
        return (f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self.api_id}/{self.stage}/"
                f"{req.method}/{req.path.lstrip('/')}")

    def _request_context(self, req: _Request, route: Route) -> dict[str, Any]:
        host = req.header("Host") or "127.0.0.1"
        return {
            "accountId": ACCOUNT_ID,
            "apiId": self.api_id,
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "httpMethod": req.method,
            "identity": {
                "accessKey": None, "accountId": None, "caller": None,
                "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
                "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
                "sourceIp": req.source_ip, "user": None, "userAgent": req.header("User-Agent"),
                "userArn": None, **(req.caller or {}),
            },
            "path": f"/{self.stage}{req.path}",
            "protocol": "HTTP/1.1",
            "requestId": req.request_id,
            "requestTime": datetime.fromtimestamp(req.started, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(req.started * 1000),
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, route.path).hex[:6],
            "resourcePath": route.path,
            "stage": self.stage,
        }

    def authorizer_event(self, req: _Request, route: Route, params: dict[str, str]) -> dict[str, Any]:
        headers, multi_headers = _multi(req.headers)
        query, multi_query = _multi(req.query)
        return {
            "type": "REQUEST",
            "methodArn": self.method_arn(req),
            "resource": route.path,
            "path": req.path,
            "httpMethod": req.method,
            "headers": headers or {},
            "multiValueHeaders": multi_headers or {},
            "queryStringParameters": query or {},
            "multiValueQueryStringParameters": multi_query or {},
            "pathParameters": params,
            "stageVariables": {},
            "requestContext": self._request_context(req, route),
        }

    def _authorize(self, req: _Request, route: Route, params: dict[str, str]) -> dict[str, Any]:
        if self.authorizer is None:
            raise AssertionError("a route with an authorizer on a gateway without one")
        values = [req.header(h) for h in self.authorizer.identity_headers]
        if not all(values):
            raise ApiError("UNAUTHORIZED")  # API Gateway does not even call the authorizer
        identity = "\n".join(v or "" for v in values)
        method_arn = self.method_arn(req)
        cached = self._cached(identity)
        if cached is None:
            started = time.monotonic()
            try:
                result = self.invoker.invoke(self.authorizer.function, self.authorizer_event(req, route, params))
            except FunctionError as err:
                if err.error_message == "Unauthorized":
                    raise ApiError("UNAUTHORIZED") from err
                raise ApiError("AUTHORIZER_FAILURE") from err
            latency = int((time.monotonic() - started) * 1000)
            cached = self._parse_authorizer_result(result, latency)
            if self.authorizer.ttl > 0:
                with self._cache_lock:
                    self._cache[identity] = (self.clock() + self.authorizer.ttl, *cached)
        principal, context, policy, usage_key = cached
        decision = _policy_decision(policy, method_arn)
        if decision == "deny":
            raise ApiError("ACCESS_DENIED")
        if decision != "allow":
            raise ApiError("ACCESS_DENIED", NOT_COVERED)
        if route.api_key_required and self.enforce_api_keys and not usage_key:
            # Key source AUTHORIZER: no usageIdentifierKey, no usage plan, 403 (usage plans
            # themselves are not checked here).
            raise ApiError("INVALID_API_KEY")
        return {**context, "principalId": principal}

    def _check_signature(self, req: _Request, route: Route) -> None:
        """AWS_IAM: a valid SigV4 signature of a known credential, or the gateway's refusal."""
        try:
            caller = verify(method=req.method, target=req.target or req.path, headers=req.headers, body=req.body,
                            region=self.region, credentials=self.iam_credentials, account_id=ACCOUNT_ID,
                            now=time.time())
        except SignatureError as err:
            raise ApiError(err.response_type, err.message) from err
        if route.api_key_required and self.enforce_api_keys:
            raise ApiError("INVALID_API_KEY")  # key source AUTHORIZER: IAM calls carry no usage-plan key
        req.caller = caller.identity()

    def _cached(self, identity: str) -> tuple[str, dict[str, Any], Any, str | None] | None:
        with self._cache_lock:
            entry = self._cache.get(identity)
            if entry and entry[0] > self.clock():
                return entry[1], entry[2], entry[3], entry[4]
            self._cache.pop(identity, None)
        return None

    @staticmethod
    def _parse_authorizer_result(result: Any, latency_ms: int) -> tuple[str, dict[str, Any], Any, str | None]:
        if not isinstance(result, dict) or "principalId" not in result:
            raise ApiError("AUTHORIZER_CONFIGURATION_ERROR")
        policy = result.get("policyDocument")
        if not isinstance(policy, dict) or "Statement" not in policy:
            raise ApiError("AUTHORIZER_CONFIGURATION_ERROR")
        raw = result.get("context") or {}
        if not isinstance(raw, dict):
            raise ApiError("AUTHORIZER_CONFIGURATION_ERROR")
        # REST APIs hand context values to the integration as strings.
        context: dict[str, Any] = {k: _scalar(v) for k, v in raw.items() if v is not None}
        context["integrationLatency"] = latency_ms
        usage_key = result.get("usageIdentifierKey")
        return str(result["principalId"]), context, policy, str(usage_key) if usage_key else None

    def proxy_event(self, req: _Request, route: Route, params: dict[str, str],
                    authorizer_ctx: dict[str, Any] | None) -> dict[str, Any]:
        headers, multi_headers = _multi(req.headers)
        query, multi_query = _multi(req.query)
        request_context = self._request_context(req, route)
        if authorizer_ctx is not None:
            request_context["authorizer"] = authorizer_ctx
        body: str | None = None
        is_b64 = False
        if req.body:
            try:
                body = req.body.decode("utf-8")
            except UnicodeDecodeError:
                body, is_b64 = base64.b64encode(req.body).decode(), True
        return {
            "resource": route.path,
            "path": req.path,
            "httpMethod": req.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": body,
            "isBase64Encoded": is_b64,
        }

    def _integrate(self, req: _Request, route: Route, params: dict[str, str],
                   authorizer_ctx: dict[str, Any] | None) -> tuple[int, list[tuple[str, str]], bytes]:
        event = self.proxy_event(req, route, params, authorizer_ctx)
        started = time.monotonic()
        try:
            # Powertools resolvers keep the current event on a class attribute shared by every
            # resolver in the process; in Lambda one process serves one request at a time, so
            # the local gateway runs proxy integrations one at a time too.
            with _PROXY_LOCK:
                result = self.invoker.invoke(route.function, event)
        except FunctionError as err:
            raise ApiError("DEFAULT_5XX") from err
        if time.monotonic() - started > self.integration_timeout:
            raise ApiError("INTEGRATION_TIMEOUT")
        return self._proxy_response(req, result)

    def _proxy_response(self, req: _Request, result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            status = int(result["statusCode"])
            body = result.get("body")
            if body is not None and not isinstance(body, str):
                raise TypeError("body must be a string")
            raw = base64.b64decode(body) if body and result.get("isBase64Encoded") else (body or "").encode()
            headers = [(str(k), _scalar(v)) for k, v in (result.get("headers") or {}).items()]
            for k, values in (result.get("multiValueHeaders") or {}).items():
                headers += [(str(k), _scalar(v)) for v in values]
        except (KeyError, TypeError, ValueError, AttributeError, ApiError) as exc:
            log.warning("malformed Lambda proxy response request_id=%s: %s", req.request_id, exc)
            raise ApiError("DEFAULT_5XX") from exc
        if len(raw) > MAX_PAYLOAD:
            raise ApiError("DEFAULT_5XX")
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return status, headers, raw

    def _gateway_response(self, err: ApiError, req: _Request, route: Route | None,
                          authorizer_ctx: dict[str, Any] | None) -> tuple[int, list[tuple[str, str]], bytes]:
        family = "DEFAULT_4XX" if err.status < 500 else "DEFAULT_5XX"
        specific = self.gateway_responses.get(err.response_type)
        fallback = self.gateway_responses.get(family)
        # A status set on DEFAULT_4XX / DEFAULT_5XX applies to every type of its family that is
        # not configured itself.
        configured = specific if specific else fallback
        status = (configured and configured.status) or err.status
        template = (specific and specific.template) or (fallback and fallback.template) or DEFAULT_TEMPLATE
        headers_cfg = {**(fallback.headers if fallback else {}), **(specific.headers if specific else {})}
        variables: dict[str, Any] = {
            "context.error.message": err.message or "",
            "context.error.messageString": json.dumps(err.message),
            "context.error.responseType": err.response_type,
            "context.error.validationErrorString": "",
            "context.requestId": req.request_id,
            "context.path": f"/{self.stage}{req.path}",
            "context.httpMethod": req.method,
            "context.stage": self.stage,
            "context.apiId": self.api_id,
            "context.accountId": ACCOUNT_ID,
            "context.identity.sourceIp": req.source_ip,
            "context.resourcePath": route.path if route else None,
        }
        for k, v in (authorizer_ctx or {}).items():
            variables[f"context.authorizer.{k}"] = v
        body = render_template(template, variables).encode()
        headers = [(k, _strip_quotes(str(v))) for k, v in headers_cfg.items()]
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        headers.append(("x-amzn-ErrorType", err.response_type))
        log.info("gateway response %s %s %s -> %s", err.response_type, req.method, req.path, status)
        return status, headers, body


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_connections(self) -> None:
        """Wake idle keep-alive handlers so that their threads end."""
        with self._conns_lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    api: ApiGateway
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s " + format, self.client_address[0], *args)

    def __getattr__(self, name: str) -> Any:
        # http.server calls do_<METHOD> and answers a method without one with its own HTML 501:
        # here every method goes through the gateway (an unknown one is a route not found).
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def handle_expect_100(self) -> bool:
        # A body that will be refused gets its answer at once instead of "100 Continue".
        try:
            refused = (declared_length(self.headers) or 0) > MAX_PAYLOAD
        except BodyError:
            refused = True
        return True if refused else super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, header lines too long, HTTP/2)
        as a gateway response in JSON, never its HTML page."""
        self.request_version = self.protocol_version  # a status line even for a garbled request
        self.close_connection = True
        req = _Request(method=self.command or "", path="/", segments=[], headers=[], query=[], body=b"",
                       source_ip=self.client_address[0])
        err = ApiError("DEFAULT_4XX" if code < 500 else "DEFAULT_5XX", message or HTTPStatus(code).phrase, int(code))
        self._answer(req, self.api._gateway_response(err, req, None, None))
        linger(self.connection)  # the rest of the request is not read

    def _handle(self) -> None:
        try:
            parts = urlsplit(self.path)
        except ValueError:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request target")
            return
        path = "/" + "/".join(s for s in unquote(parts.path).split("/") if s)
        req = _Request(
            method=self.command,
            path=path,
            segments=[s for s in path.split("/") if s],
            headers=list(self.headers.items()),
            query=parse_qsl(parts.query, keep_blank_values=True),
            body=b"",
            source_ip=self.client_address[0],
            target=parts.path + (f"?{parts.query}" if parts.query else ""),
        )
        try:
            self.connection.settimeout(BODY_READ_TIMEOUT)
            req.body = read_body(self.rfile, self.headers, MAX_PAYLOAD)
        except BodyError as exc:
            self.close_connection = True  # the rest of the body is not read
            err = (
                ApiError("REQUEST_TOO_LARGE") if exc.status == 413 else ApiError("DEFAULT_4XX", exc.message, exc.status)
            )
            self._answer(req, self.api._gateway_response(err, req, None, None))
            linger(self.connection)
            return
        finally:
            self.connection.settimeout(None)
        self._answer(req, self.api.handle(req))

    def _answer(self, req: _Request, response: tuple[int, list[tuple[str, str]], bytes]) -> None:
        status, headers, payload = response
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "connection"):
                self.send_header(k, v)
        self.send_header("x-amzn-RequestId", req.request_id)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
