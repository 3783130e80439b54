"""OTP records in the one table. Every change is one conditional write, so concurrent
verifications can never count more attempts than allowed nor approve a code twice, and two
resends can never both pass the cooldown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from tamtam import clock
from tamtam.otp.model import SK, OtpItem, OtpState, otp_pk

_OPEN = "#s = :pending AND #e > :now AND #a < #m"
_OPEN_NAMES = {"#s": "status", "#e": "expires_at", "#a": "attempts", "#m": "max_attempts"}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _key(otp_id: str) -> dict[str, str]:
    return {"pk": otp_pk(otp_id), "sk": SK}


def put_new(table: Any, otp: OtpItem) -> None:
    table.put_item(Item=otp.to_item(), ConditionExpression="attribute_not_exists(pk)")


def get(table: Any, otp_id: str) -> OtpItem | None:
    item = table.get_item(Key=_key(otp_id), ConsistentRead=True).get("Item")
    return OtpItem.from_item(item) if item else None


def _update(table: Any, otp_id: str, update: str, condition: str, names: dict[str, str],
            values: dict[str, Any]) -> OtpItem | None:
    """One conditional UpdateItem; the record as written, or None when the condition failed."""
    try:
        answer = table.update_item(
            Key=_key(otp_id),
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
    return OtpItem.from_item(answer["Attributes"])


def count_attempt(table: Any, otp_id: str, *, now: float) -> OtpItem | None:
    """Take one verification attempt if the code is still open (pending, unexpired, attempts
    left): the counter only moves under that condition, so it never passes `max_attempts`."""
    return _update(
        table, otp_id, "SET #a = #a + :one", _OPEN, dict(_OPEN_NAMES),
        {":one": 1, ":pending": OtpState.PENDING.value, ":now": int(now)},
    )


def approve(table: Any, otp_id: str, *, now: float) -> OtpItem | None:
    """Mark the code used; only one caller can ever win."""
    return _update(
        table, otp_id, "SET #s = :approved, #t = :at", "#s = :pending AND #e > :now",
        {"#s": "status", "#e": "expires_at", "#t": "approved_at"},
        {":approved": OtpState.APPROVED.value, ":pending": OtpState.PENDING.value, ":now": int(now), ":at": clock.iso(now)},
    )


def record_send(table: Any, otp_id: str, message_id: str, *, now: float, cooldown_seconds: int) -> OtpItem | None:
    """Add a resend's message if the code is still open and the last send is at least
    `cooldown_seconds` old (checked in the same write: two resends cannot both pass)."""
    names = {**_OPEN_NAMES, "#l": "last_sent_at", "#ids": "message_ids", "#n": "sends"}
    values = {
        ":pending": OtpState.PENDING.value, ":now": int(now), ":cutoff": Decimal(str(now - cooldown_seconds)),
        ":at": Decimal(str(now)), ":ids": [message_id], ":one": 1,
    }
    return _update(
        table, otp_id, "SET #l = :at, #ids = list_append(#ids, :ids), #n = #n + :one",
        f"{_OPEN} AND #l <= :cutoff", names, values,
    )
