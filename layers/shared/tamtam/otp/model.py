"""The stored shape of a one-time code (pk `OTP#<id>`, sk `OTP`, TTL attribute `expires_at`).

What is stored of the code: `code_hash` (HMAC-SHA256 under the pepper, hex) to verify, and
`code_sealed` (KMS ciphertext, base64, bound to the OTP id and tenant by the encryption
context) for the senders to render. Never the code itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

SK = "OTP"


class OtpState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXPIRED = "expired"
    LOCKED = "locked"


class OtpItem(BaseModel):
    id: str
    tenant_id: str
    to: str
    channel: str
    locale: str
    text: str  # the template, rendered but for the literal {{code}} placeholder
    sender: str | None = None
    route: list[str]
    length: int
    code_hash: str
    code_sealed: str
    status: str = OtpState.PENDING  # pending | approved (expired and locked are derived)
    attempts: int = 0
    max_attempts: int
    message_ids: list[str] = Field(default_factory=list)
    sends: int = 1
    last_sent_at: float
    created_at: str
    approved_at: str | None = None
    expires_at: int  # epoch seconds; also the table's TTL attribute

    def state(self, now: float) -> OtpState:
        """What the record means at `now`: used first, then expired (even if DynamoDB's TTL
        has not deleted it yet), then locked."""
        if self.status == OtpState.APPROVED:
            return OtpState.APPROVED
        if now >= self.expires_at:
            return OtpState.EXPIRED
        if self.attempts >= self.max_attempts:
            return OtpState.LOCKED
        return OtpState.PENDING

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> OtpItem:
        data = {k: v for k, v in item.items() if k not in ("pk", "sk")}
        for key in ("length", "attempts", "max_attempts", "sends", "expires_at"):
            data[key] = int(data[key])
        data["last_sent_at"] = float(data["last_sent_at"])
        return cls.model_validate(data)

    def to_item(self) -> dict[str, Any]:
        from decimal import Decimal  # noqa: PLC0415

        item = self.model_dump(exclude_none=True)
        item["last_sent_at"] = Decimal(str(self.last_sent_at))
        item["pk"] = otp_pk(self.id)
        item["sk"] = SK
        return item


def otp_pk(otp_id: str) -> str:
    return f"OTP#{otp_id}"
