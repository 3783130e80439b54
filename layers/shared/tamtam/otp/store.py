"""OTP records as OtpItems (tamtam.otp.model): the model's side of tamtam.store.otp, which holds
the conditional writes. Concurrent verifications can never count more attempts than allowed nor
approve a code twice, and two resends can never both pass the cooldown."""

from __future__ import annotations

from typing import Any

from tamtam.otp.model import SK, OtpItem, OtpState, otp_pk
from tamtam.store import otp as otp_records


def _key(otp_id: str) -> dict[str, str]:
    return {"pk": otp_pk(otp_id), "sk": SK}


def _otp(item: dict[str, Any] | None) -> OtpItem | None:
    return OtpItem.from_item(item) if item else None


def put_new(table: Any, otp: OtpItem) -> None:
    otp_records.put_new(table, otp.to_item())


def get(table: Any, otp_id: str) -> OtpItem | None:
    return _otp(otp_records.get(table, _key(otp_id)))


def count_attempt(table: Any, otp_id: str, *, now: float) -> OtpItem | None:
    """Take one verification attempt if the code is still open (pending, unexpired, attempts
    left): the counter only moves under that condition, so it never passes `max_attempts`."""
    return _otp(otp_records.count_attempt(table, _key(otp_id), now=now, pending=OtpState.PENDING.value))


def approve(table: Any, otp_id: str, *, now: float) -> OtpItem | None:
    """Mark the code used; only one caller can ever win."""
    return _otp(otp_records.approve(table, _key(otp_id), now=now, pending=OtpState.PENDING.value,
                                    approved=OtpState.APPROVED.value))


def record_send(table: Any, otp_id: str, message_id: str, *, now: float, cooldown_seconds: int) -> OtpItem | None:
    """Add a resend's message if the code is still open and the last send is at least
    `cooldown_seconds` old (checked in the same write: two resends cannot both pass)."""
    return _otp(otp_records.record_send(table, _key(otp_id), message_id, now=now, cooldown_seconds=cooldown_seconds,
                                        pending=OtpState.PENDING.value))
