"""Domain errors. Each carries a stable code, a human message and the field at fault; the API
maps them to HTTP once (functions/api), the SQS consumers to a failed record."""

from __future__ import annotations

from typing import Any


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape every HTTP answer of the gateway uses."""
    return {"error": {"code": code, "message": message, "field": field}}


class TamtamError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class InvalidRequest(TamtamError):
    status = 422
    code = "invalid_value"


class NotFound(TamtamError):
    status = 404
    code = "not_found"


class Conflict(TamtamError):
    status = 409
    code = "conflict"


class Unauthorized(TamtamError):
    status = 401
    code = "unauthorized"


class RateLimited(TamtamError):
    """A limit refused the request for now; `retry_after` whole seconds until it would pass
    (the API answers 429 with a Retry-After header). Used by the OTP limits (tamtam.otp.limits)
    and the send limits (tamtam.limits)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None, field: str | None = None):
        super().__init__(message, code=code, field=field)
        self.retry_after = max(int(retry_after), 1)


class ServiceUnavailable(TamtamError):
    """A dependency failed after the request was valid (e.g. the queue refused the message)."""

    status = 503
    code = "unavailable"
