"""Page cursors: where a listing stopped (a DynamoDB key, plus what the listing binds to it),
as an opaque URL-safe string (base64url of compact JSON, without padding).

A cursor is validated, not signed: `decode` refuses anything that is not a JSON object of
strings, and each listing then checks that the key is one of its own (its partition, its
filters). A forged cursor that passes can only move the start of a page within the caller's
own partition: the partition key of the query never comes from the cursor.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from tamtam.errors import InvalidRequest


def invalid() -> InvalidRequest:
    return InvalidRequest("the cursor is not one this listing returned", field="cursor", code="invalid_cursor")


def encode(data: Mapping[str, Any] | None) -> str | None:
    """The cursor of `data`; None when there is nothing (no next page)."""
    if not data:
        return None
    return base64.urlsafe_b64encode(json.dumps(dict(data), separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str, keys: set[str]) -> dict[str, str]:
    """The object a cursor holds, which must have exactly `keys`, each a string; else
    InvalidRequest `invalid_cursor`."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise invalid() from None
    if not isinstance(data, dict) or set(data) != keys or not all(isinstance(v, str) for v in data.values()):
        raise invalid()
    return data
