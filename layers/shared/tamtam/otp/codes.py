"""Codes and their keyed hash: pure functions, no I/O.

A code is `length` decimal digits drawn with `secrets` (cryptographic). What is stored to
check it is HMAC-SHA256(pepper, "<otp id>:<code>"): without the pepper (Secrets Manager) a
copy of the table cannot be brute-forced, and the id binds the hash to its own record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

DIGITS = "0123456789"
MIN_LENGTH, MAX_LENGTH = 4, 10
MIN_PEPPER_LENGTH = 16


def generate(length: int) -> str:
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"a code has {MIN_LENGTH} to {MAX_LENGTH} digits")
    return "".join(secrets.choice(DIGITS) for _ in range(length))


def digest(code: str, otp_id: str, pepper: bytes) -> str:
    return hmac.new(pepper, f"{otp_id}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(code: str, otp_id: str, stored_digest: str, pepper: bytes) -> bool:
    """Constant-time: the time taken says nothing about how much of the code was right."""
    return hmac.compare_digest(digest(code, otp_id, pepper), stored_digest)


def parse_pepper(raw: str | bytes) -> bytes:
    """The secret's value, `{"pepper": "..."}` or the plain string, as HMAC key bytes."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    value: object = text
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        value = parsed.get("pepper")
    if not isinstance(value, str) or len(value.strip()) < MIN_PEPPER_LENGTH:
        raise ValueError(f"the OTP pepper must be a string of at least {MIN_PEPPER_LENGTH} characters")
    return value.strip().encode()
