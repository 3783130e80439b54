"""`Idempotency-Key` on every POST, as one resolver middleware (registered in handler.py).

With the header, the route runs once per (tenant, key) within 24 h (tamtam.idempotency): a
retry with the same key and the same request gets the first answer again (same status, same
body, plus `Idempotency-Replayed: true`); the same key on another request (other body or
path) is refused with 422 `idempotency_key_reused`; while the first is still running, 409
`request_in_flight`. Without the header nothing changes, and `POST /v1/otp/{id}/verify` ignores
it (its body is a one-time code: no hash of it is stored, and a code is single-use anyway).

The middleware runs after request validation, so a malformed body never takes a key. Only an
answer the route returned is kept: a route that raised (a refused field, a queue that was
down) leaves the key free, and so does a 5xx, so the caller can retry it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver

from api_context import tenant_id
from tamtam.errors import InvalidRequest
from tamtam.idempotency import run_once

HEADER = "Idempotency-Key"
REPLAYED = "Idempotency-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as in Stripe-style keys
# Requests whose body carries a one-time code: a stored hash of that body would let anyone who
# reads the table recover a 6-digit code by trying them all, and verifying is single-use anyway.
_CARRIES_A_CODE = re.compile(r"/v1/otp/[^/]+/verify/?$")


class _NotKept(Exception):
    """An answer that must not be replayed (5xx): the key is released."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def _request_body(raw: str | None) -> Any:
    """The body as JSON (so key order and spacing do not matter), else as sent."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _kept(response: Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise _NotKept(response)
    body = response.body.decode() if isinstance(response.body, bytes) else response.body
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    content_type = response.headers.get("Content-Type", content_types.APPLICATION_JSON)
    return {"status": response.status_code, "content_type": content_type, "headers": headers, "body": body}


def _replay(answer: dict[str, Any]) -> Response:
    headers = {**answer.get("headers", {}), REPLAYED: "true"}
    return Response(status_code=answer["status"], content_type=answer["content_type"], body=answer["body"], headers=headers)


def idempotency(app: APIGatewayRestResolver, next_middleware: Callable[..., Response]) -> Response:
    event = app.current_event
    key = event.headers.get(HEADER)
    if event.http_method != "POST" or key is None or _CARRIES_A_CODE.search(event.path):
        return next_middleware(app)
    if not _VALID_KEY.match(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters", field=HEADER, code="invalid_idempotency_key"
        )
    first: list[Response] = []

    def first_call() -> dict[str, Any]:
        first.append(next_middleware(app))
        return _kept(first[0])

    payload = {"method": event.http_method, "path": event.path, "body": _request_body(event.body)}
    try:
        answer = run_once(
            first_call, tenant_id=tenant_id(), scope="api", key=key, payload=payload, field=HEADER,
            lambda_context=app.lambda_context,
        )
    except _NotKept as exc:
        return exc.response
    return first[0] if first else _replay(answer)
