"""OTP outcomes that are not plain successes. Each is a TamtamError (stable code, message,
field), so the API's one mapping applies; the two that carry more (a Retry-After delay, the
attempts left) get their own branches in functions/api/errors.py."""

from __future__ import annotations

from tamtam.errors import RateLimited, TamtamError

__all__ = ["CodeRejected", "DestinationNotAllowed", "OtpAlreadyUsed", "OtpExpired", "OtpLocked", "OtpUnavailable",
           "RateLimited"]  # RateLimited lives in tamtam.errors (the send limits raise it too)


class OtpExpired(TamtamError):
    status = 410
    code = "otp_expired"


class OtpAlreadyUsed(TamtamError):
    status = 409
    code = "otp_already_used"


class OtpLocked(TamtamError):
    """Every allowed attempt was used: no code is accepted any more, not even the right one."""

    status = 429
    code = "otp_locked"


class DestinationNotAllowed(TamtamError):
    """The tenant's allow-list of country prefixes does not cover the number."""

    status = 403
    code = "destination_not_allowed"


class CodeRejected(TamtamError):
    """A wrong code; the attempt was counted."""

    status = 422
    code = "code_mismatch"

    def __init__(self, attempts_left: int):
        super().__init__(
            "the code does not match" + ("; no attempt left" if attempts_left <= 0 else ""), field="code"
        )
        self.attempts_left = max(attempts_left, 0)


class OtpUnavailable(Exception):
    """The code can no longer be sent (its record is gone, expired, used or locked). Raised on
    the sending path, after the message was recorded failed."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
