"""The sender's side of a one-time code: the message's text with the code put in, in memory.

The message record holds the template with the literal `{{code}}`; the OTP record holds the
code sealed under KMS with the OTP id and tenant as encryption context. Only here (the senders,
the only role granted kms:Decrypt on the OTP key) is it unsealed, and only to build the text
handed to the provider client.
"""

from __future__ import annotations

from typing import Any

from tamtam import clock
from tamtam.observability import logger
from tamtam.otp import keys, store, templates
from tamtam.otp.errors import OtpUnavailable
from tamtam.otp.model import OtpState
from tamtam.status import Status
from tamtam.store import messages
from tamtam.store.message_item import MessageItem


def code_text(message: MessageItem, *, table: Any, kms: Any) -> str:
    otp = store.get(table, message.otp_id) if message.otp_id else None
    if otp is None or otp.tenant_id != message.tenant_id:
        raise _unavailable(message, "otp_missing", table=table)
    state = otp.state(clock.now())
    if state != OtpState.PENDING:
        raise _unavailable(message, f"otp_{state.value}", table=table)
    code = keys.unseal(kms, otp.code_sealed, otp_id=otp.id, tenant_id=otp.tenant_id)
    return templates.render(message.text, code)


def _unavailable(message: MessageItem, reason: str, *, table: Any) -> OtpUnavailable:
    """A code that cannot be sent any more is not retried: the claimed message ends `failed`
    (a redelivery of its queue message then finds it final and stops)."""
    messages.transition(
        table, message.id, Status.FAILED, expect={Status.SENDING, Status.QUEUED}, reason=reason,
        provider=message.provider, fields={"claim_at": None, "dispatched_at": None},
    )
    logger.info("otp message not sent", extra={"message_id": message.id, "otp_id": message.otp_id, "reason": reason})
    return OtpUnavailable(reason)
