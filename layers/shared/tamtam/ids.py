"""Time-ordered identifiers: 10 characters of millisecond time + 16 of randomness (Crockford
base32, 26 characters like a ULID), with a short prefix saying what they name."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    now_ms = int(time.time() * 1000)
    return f"{prefix}_{_b32(now_ms, 10)}{_b32(secrets.randbits(80), 16)}"
