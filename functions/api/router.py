"""The api function's routes, declared once: method, path, request and answer models, the error
codes each can answer. The same declarations dispatch a REST proxy event here and, at build time,
write the OpenAPI document (`make openapi` -> openapi.json, local/openapi.py).

No framework resolver: Powertools' resolver package imports every resolver it has and, with
validation on, builds its OpenAPI models at init (together a third of this function's cold
start). Requests are validated with the pydantic models already at the boundary.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from tamtam.errors import InvalidRequest, NotFound, TamtamError, Unauthorized

PATH_PARAM_MAX = 64


class MethodNotAllowed(TamtamError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, allowed: list[str]):
        super().__init__(f"this route answers {', '.join(allowed)}")
        self.allowed = allowed


@dataclass(frozen=True)
class Answer:
    """What a route returns when a plain model is not enough (another status, headers)."""

    status: int
    body: Any  # a pydantic model, a JSON-able value, or str (sent as it is)
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Call:
    """One request as a route sees it: validated path parameters, query and body."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased: HTTP header names are case-insensitive
    params: dict[str, str]
    query: Any
    body: Any
    raw_body: str | None
    authorizer: Mapping[str, Any]
    lambda_context: Any = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def tenant_id(self) -> str:
        value = self.authorizer.get("tenant_id")
        if not value:
            raise Unauthorized("missing or unknown API key")
        return str(value)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # /v1/messages/{message_id}
    func: Callable[[Call], Any]
    summary: str
    tag: str
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    errors: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # status -> codes, route-specific
    error_bodies: Mapping[int, type[BaseModel]] = field(default_factory=dict)  # a status whose body adds fields
    description: str = ""
    example: Mapping[str, Any] | None = None  # a request body
    answer_example: Mapping[str, Any] | None = None
    idempotency_key: bool = False  # takes Idempotency-Key
    public: bool = False  # no API key (documentation routes)
    documented: bool = True

    @property
    def operation_id(self) -> str:
        return self.func.__name__

    @property
    def param_names(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        parts = [f"(?P<{seg[1:-1]}>[^/]+)" if seg.startswith("{") else re.escape(seg) for seg in self.path.split("/")]
        return re.compile("^" + "/".join(parts) + "$")

    def match(self, path: str) -> dict[str, str] | None:
        found = self._pattern.match(path)
        return found.groupdict() if found else None


OPERATIONS: list[Operation] = []


def operation(method: str, path: str, **kwargs: Any) -> Callable[[Callable[[Call], Any]], Callable[[Call], Any]]:
    """Declare a route (see Operation for the keywords)."""

    def register(func: Callable[[Call], Any]) -> Callable[[Call], Any]:
        OPERATIONS.append(Operation(method=method, path=path, func=func, **kwargs))
        return func

    return register


def find(method: str, path: str) -> tuple[Operation, dict[str, str]]:
    allowed: list[str] = []
    for op in OPERATIONS:
        params = op.match(path)
        if params is None:
            continue
        if op.method == method:
            return op, params
        allowed.append(op.method)
    if allowed:
        raise MethodNotAllowed(sorted(set(allowed)))
    raise NotFound("no such route", code="route_not_found")


def _path(event: Mapping[str, Any]) -> str:
    path = str(event.get("path") or "/")
    return path.rstrip("/") or "/"


def _raw_body(event: Mapping[str, Any]) -> str | None:
    """The body as text: API Gateway hands a body it could not pass as text base64-encoded."""
    body = event.get("body")
    if body is None or body == "":
        return None
    if not event.get("isBase64Encoded"):
        return str(body)
    try:
        raw = base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TamtamError("the body is not valid base64", code="invalid_body") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TamtamError("the body is not UTF-8 text", code="invalid_encoding") from exc


def _params(op: Operation, params: dict[str, str]) -> dict[str, str]:
    for name, value in params.items():
        if len(value) > PATH_PARAM_MAX:
            raise InvalidRequest(f"{name} is at most {PATH_PARAM_MAX} characters", field=name, code="too_long")
    return params


def _query(op: Operation, event: Mapping[str, Any]) -> Any:
    if op.query is None:
        return None
    return op.query.model_validate(dict(event.get("queryStringParameters") or {}))


def _body(op: Operation, raw: str | None) -> Any:
    if op.body is None:
        return None
    if raw is None:
        return op.body.model_validate({})
    return op.body.model_validate_json(raw)


def parse(op: Operation, params: dict[str, str], event: Mapping[str, Any], context: Any) -> Call:
    """The request, validated: path parameters, then query, then body."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items() if v is not None}
    raw = _raw_body(event) if op.body is not None or op.method == "POST" else None
    call = Call(
        method=op.method, path=_path(event), headers=headers, params=_params(op, params), query=None, body=None,
        raw_body=raw, authorizer=(event.get("requestContext") or {}).get("authorizer") or {}, lambda_context=context,
    )
    call.query = _query(op, event)
    call.body = _body(op, raw)
    return call


def render(status: int, result: Any) -> dict[str, Any]:
    """A route's result as a REST proxy response."""
    if isinstance(result, Answer):
        status, headers, content_type, body = result.status, dict(result.headers), result.content_type, result.body
    else:
        headers, content_type, body = {}, "application/json", result
    if isinstance(body, BaseModel):
        text = body.model_dump_json()
    elif isinstance(body, str):
        text = body
    else:
        text = json.dumps(body)
    return {"statusCode": status, "headers": {"Content-Type": content_type, **headers}, "body": text,
            "isBase64Encoded": False}


def route_of(event: Mapping[str, Any]) -> tuple[str, str]:
    return str(event.get("httpMethod") or "GET").upper(), _path(event)
