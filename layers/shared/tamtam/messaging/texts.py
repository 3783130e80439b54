"""The text handed to the provider for a message. Usually the stored text; for a one-time
code, the stored template rendered with the code, which exists only in memory here."""

from __future__ import annotations

from typing import Any

from tamtam.store.message_item import MessageItem


def text_for(message: MessageItem, *, table: Any, kms: Any | None = None) -> str:
    """For an OTP message: raises tamtam.otp.errors.OtpUnavailable (after recording the
    message failed) when the code is expired, used, locked or gone."""
    if message.otp_id is None:
        return message.text
    from tamtam import aws  # noqa: PLC0415  (plain messages never pay for the OTP path)
    from tamtam.otp.delivery import code_text  # noqa: PLC0415

    return code_text(message, table=table, kms=kms or aws.client("kms"))
