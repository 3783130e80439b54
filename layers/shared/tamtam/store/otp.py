"""One-time code records (pk `OTP#<id>`, sk `OTP`; their shape and key: tamtam.otp.model, read
and written as OtpItems by tamtam.otp.store). Every change is one conditional UpdateItem, so
concurrent verifications can never count more attempts than allowed nor approve a code twice,
and two resends can never both pass the cooldown. The caller names the key and the status
values (`pending`, `approved`) the conditions and writes use."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tamtam import clock

_OPEN = "#s = :pending AND #e > :now AND #a < #m"
_OPEN_NAMES = {"#s": "status", "#e": "expires_at", "#a": "attempts", "#m": "max_attempts"}


def _conditional_failed(exc: ClientError) -> bool:
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


def put_new(table: Any, item: dict[str, Any]) -> None:
    """Create the record; ConditionalCheckFailedException when it exists."""
    table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")


def get(table: Any, key: dict[str, str]) -> dict[str, Any] | None:
    """The record (consistent read); None when there is none."""
    item: dict[str, Any] | None = table.get_item(Key=key, ConsistentRead=True).get("Item")
    return item


def _update(table: Any, key: dict[str, str], update: str, condition: str, names: dict[str, str],
            values: dict[str, Any]) -> dict[str, Any] | None:
    """One conditional UpdateItem; the record as written, or None when the condition failed."""
    try:
        answer = table.update_item(
            Key=key,
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(pk) AND {condition}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return dict(answer["Attributes"])


def count_attempt(table: Any, key: dict[str, str], *, now: float, pending: str) -> dict[str, Any] | None:
    """Take one verification attempt if the code is still open (`pending`, unexpired, attempts
    left): the counter only moves under that condition, so it never passes `max_attempts`."""
    return _update(
        table, key, "SET #a = #a + :one", _OPEN, dict(_OPEN_NAMES),
        {":one": 1, ":pending": pending, ":now": int(now)},
    )


def approve(table: Any, key: dict[str, str], *, now: float, pending: str, approved: str) -> dict[str, Any] | None:
    """`pending` -> `approved` (and `approved_at`) while unexpired; only one caller can ever win."""
    return _update(
        table, key, "SET #s = :approved, #t = :at", "#s = :pending AND #e > :now",
        {"#s": "status", "#e": "expires_at", "#t": "approved_at"},
        {":approved": approved, ":pending": pending, ":now": int(now), ":at": clock.iso(now)},
    )


def record_send(table: Any, key: dict[str, str], message_id: str, *, now: float, cooldown_seconds: int,
                pending: str) -> dict[str, Any] | None:
    """Add a resend's message if the code is still open and the last send is at least
    `cooldown_seconds` old (checked in the same write: two resends cannot both pass)."""
    names = {**_OPEN_NAMES, "#l": "last_sent_at", "#ids": "message_ids", "#n": "sends"}
    values = {
        ":pending": pending, ":now": int(now), ":cutoff": Decimal(str(now - cooldown_seconds)),
        ":at": Decimal(str(now)), ":ids": [message_id], ":one": 1,
    }
    return _update(
        table, key, "SET #l = :at, #ids = list_append(#ids, :ids), #n = #n + :one",
        f"{_OPEN} AND #l <= :cutoff", names, values,
    )
