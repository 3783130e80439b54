"""Every API error leaves in one shape, `{"error": {"code", "message", "field"}}`, mapped here
once for the whole function: pydantic's validation errors, the domain's TamtamErrors (with
their own status and code), and anything unexpected (500, logged, never its text, counted on
the `UnhandledErrors` metric)."""

from __future__ import annotations

from pydantic import ValidationError

from api.router import Answer, MethodNotAllowed
from tamtam.contract.violations import first_violation
from tamtam.errors import RateLimited, TamtamError, error_body
from tamtam.observability import count_unhandled, logger
from tamtam.otp.errors import CodeRejected

# 400: the body is not a JSON object at all; every other validation error is 422.
MALFORMED = ("invalid_json", "invalid_encoding", "invalid_body")
VALIDATION_CODES = ("missing_field", "unknown_field", "too_short", "too_long", "invalid_value", "invalid_type")


def error_answer(status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> Answer:
    return Answer(status=status, body=error_body(code, message, field), headers=headers or {})


def from_validation(exc: ValidationError) -> Answer:
    """The first validation error, with its stable code (tamtam.contract.violations): 400 for a
    body that is not a JSON object, 422 for any other."""
    found = first_violation(exc)
    code, field, message = found.code, found.field, found.message
    if found.kind == "json_invalid":
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
        body = {
            "status": "rejected",
            "attempts_left": exc.attempts_left,
            **error_body(exc.code, exc.message, exc.field),
        }
        return Answer(status=exc.status, body=body)
    if isinstance(exc, MethodNotAllowed):
        return error_answer(exc.status, exc.code, exc.message, None, headers={"Allow": ", ".join(exc.allowed)})
    if isinstance(exc, TamtamError):
        return error_answer(exc.status, exc.code, exc.message, exc.field)
    logger.exception("unhandled error")
    count_unhandled("api")  # answered, so Lambda's Errors metric never sees it: infra/alarms.tf watches this one
    return error_answer(500, "internal_error", "internal error; nothing was sent twice, retry later")
