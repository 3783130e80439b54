"""The `Tamtam-Signature` header of a callback, and the secrets it is keyed with.

`Tamtam-Signature: t=<unix seconds>,v1=<hex>`, where v1 is HMAC-SHA256 keyed with the secret
(its UTF-8 bytes, as shown once to the tenant) over `<t>.<raw body>`. The timestamp is signed
with the body, so a receiver that refuses old timestamps refuses replays. A retry is signed
anew (new `t`, same body), always with the receiver's current secret. The receiver's check is
the README's few lines ("Status callbacks"; tests run them as they are).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Tamtam-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of generated secrets, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"

