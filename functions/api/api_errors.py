"""Every API error leaves in one shape, `{"error": {"code", "message", "field"}}`, mapped here
once for the whole function: pydantic's validation errors, the domain's TamtamErrors (with
their own status and code), and anything unexpected (500, logged, never its text, counted on
the `UnhandledErrors` metric)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from api_router import Answer, MethodNotAllowed
from tamtam.errors import RateLimited, TamtamError, error_body
from tamtam.observability import count_unhandled, logger
from tamtam.otp.errors import CodeRejected

# pydantic error types -> stable codes (anything else: invalid_value)
_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json",
    "model_type": "invalid_json",
    "model_attributes_type": "invalid_json",
    "dict_type": "invalid_json",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "literal_error": "invalid_value",
    "string_type": "invalid_type",
    "int_type": "invalid_type",
    "int_parsing": "invalid_type",
    "float_type": "invalid_type",
    "float_parsing": "invalid_type",
    "bool_type": "invalid_type",
    "bool_parsing": "invalid_type",
    "list_type": "invalid_type",
}
_CUSTOM = {"invalid_phone", "unknown_provider"}
# 400: the body is not a JSON object at all; every other validation error is 422.
MALFORMED = ("invalid_json", "invalid_encoding", "invalid_body")
VALIDATION_CODES = ("missing_field", "unknown_field", "too_short", "too_long", "invalid_value", "invalid_type")


def error_answer(status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> Answer:
    return Answer(status=status, body=error_body(code, message, field), headers=headers or {})


def _field(loc: tuple[Any, ...]) -> str | None:
    return ".".join(str(p) for p in loc) or None


def from_validation(exc: ValidationError) -> Answer:
    errors = exc.errors(include_url=False)
    first = errors[0] if errors else {"type": "invalid_value", "loc": (), "msg": "invalid request"}
    kind = str(first.get("type", ""))
    code = kind if kind in _CUSTOM else _CODES.get(kind, "invalid_value")
    field = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid request"))
    if kind == "json_invalid":
        return error_answer(400, code, f"the body is not valid JSON ({message})", None)
    if code == "invalid_json":
        return error_answer(400, code, "the body is not a JSON object", None)
    if code == "unknown_field":
        message = f"unknown field {field!r}"
    elif code == "missing_field":
        message = f"{field!r} is required"
    return error_answer(422, code, message, field)


def to_answer(exc: Exception) -> Answer:
    if isinstance(exc, ValidationError):
        return from_validation(exc)
    if isinstance(exc, RateLimited):
        return error_answer(exc.status, exc.code, exc.message, exc.field, headers={"Retry-After": str(exc.retry_after)})
    if isinstance(exc, CodeRejected):
        body = {"status": "rejected", "attempts_left": exc.attempts_left, **error_body(exc.code, exc.message, exc.field)}
        return Answer(status=exc.status, body=body)
    if isinstance(exc, MethodNotAllowed):
        return error_answer(exc.status, exc.code, exc.message, None, headers={"Allow": ", ".join(exc.allowed)})
    if isinstance(exc, TamtamError):
        return error_answer(exc.status, exc.code, exc.message, exc.field)
    logger.exception("unhandled error")
    count_unhandled("api")  # answered, so Lambda's Errors metric never sees it: infra/alarms.tf watches this one
    return error_answer(500, "internal_error", "internal error; nothing was sent twice, retry later")
