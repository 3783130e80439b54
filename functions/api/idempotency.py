"""`Idempotency-Key` on the POST routes that declare it (api.router.Operation.idempotency_key).

With the header, the route runs once per (tenant, key) within 24 h (tamtam.idempotency): a
retry with the same key and the same request gets the first answer again (same status, same
body, plus `Idempotency-Replayed: true`); the same key on another request (other body or
path) is refused with 422 `idempotency_key_reused`; while the first is still running, 409
`request_in_flight`. Without the header nothing changes. `POST /v1/otp/{id}/verify` does not take
the header (its body is a one-time code: no hash of it is stored, and a code is single-use anyway).

It runs after request validation, so a malformed body never takes a key. Only an
answer the route returned is kept: a route that raised (a refused field, a queue that was
down) leaves the key free, and so does a 5xx, so the caller can retry it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from api.router import Call
from tamtam.errors import InvalidRequest
from tamtam.idempotency import run_once

HEADER = "Idempotency-Key"
REPLAYED = "Idempotency-Replayed"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as in Stripe-style keys

Proxy = dict[str, Any]  # a REST proxy response


class _NotKept(Exception):
    """An answer that must not be replayed (5xx): the key is released."""

    def __init__(self, response: Proxy):
        super().__init__(response["statusCode"])
        self.response = response


def _request_body(raw: str | None) -> Any:
    """The body as JSON (so key order and spacing do not matter), else as sent."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return raw


def _kept(response: Proxy) -> dict[str, Any]:
    if response["statusCode"] >= 500:
        raise _NotKept(response)
    headers = {k: v for k, v in response["headers"].items() if k.lower() != "content-type"}
    content_type = response["headers"].get("Content-Type", "application/json")
    return {
        "status": response["statusCode"],
        "content_type": content_type,
        "headers": headers,
        "body": response["body"],
    }


def _replay(answer: dict[str, Any]) -> Proxy:
    headers = {"Content-Type": answer["content_type"], **answer.get("headers", {}), REPLAYED: "true"}
    return {"statusCode": answer["status"], "headers": headers, "body": answer["body"], "isBase64Encoded": False}


def once(call: Call, route: Callable[[], Proxy]) -> Proxy:
    """`route()` run once per (tenant, Idempotency-Key) when the request carries the key."""
    key = call.header(HEADER)
    if key is None:
        return route()
    if not _VALID_KEY.match(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters", field=HEADER, code="invalid_idempotency_key"
        )
    first: list[Proxy] = []

    def first_call() -> dict[str, Any]:
        first.append(route())
        return _kept(first[0])

    payload = {"method": call.method, "path": call.path, "body": _request_body(call.raw_body)}
    try:
        answer = run_once(
            first_call, tenant_id=call.tenant_id, scope="api", key=key, payload=payload, field=HEADER,
            lambda_context=call.lambda_context,
        )
    except _NotKept as exc:
        return exc.response
    return first[0] if first else _replay(answer)
