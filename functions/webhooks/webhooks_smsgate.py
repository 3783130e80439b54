"""SMSGate delivery webhooks: signature check and the status change an event means.

The device POSTs `{"id", "webhookId", "event", "deviceId", "payload"}` signed with
`X-Signature` = lowercase hex HMAC-SHA256(signing key, raw body + `X-Timestamp`), within
±5 minutes (docs: providers.md section 5). The payload's `messageId` is the SMSGate id the
sender gave the message: ours, a bulk id without its `msg_` prefix (`message_id_of`), or the id
of a list request, whose recipient (`recipient`, or the older `phoneNumber`) names the message. Events other than sent/delivered/failed, and messages
the gateway does not know, are acknowledged and ignored so that the device stops retrying.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tamtam import clock
from tamtam.messaging.reports import apply_report
from tamtam.observability import logger
from tamtam.providers.base import Reason
from tamtam.providers.smsgate import SmsGateClient, message_id_of, verify_webhook_signature
from tamtam.status import Status
from tamtam.store import lists

PROVIDER = "smsgate"
EVENT_STATUS = {"sms:sent": Status.SENT, "sms:delivered": Status.DELIVERED, "sms:failed": Status.FAILED}


class WebhookRejected(Exception):
    """The call is refused with `status`; nothing was changed."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


class SmsPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messageId: str = Field(min_length=1, max_length=64)
    recipient: str | None = None
    phoneNumber: str | None = None  # deprecated name of `recipient` (older apps send only this)
    reason: str | None = None


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    webhookId: str | None = None
    event: str
    deviceId: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class WebhookResult(BaseModel):
    """The answer to a verified event."""

    event: str
    message_id: str | None = Field(None, description="our message id; absent when the event was ignored")
    result: str = Field(description="the status the message moved to, `unchanged`, or `ignored`")


def verify(client: SmsGateClient, body: bytes, timestamp: str | None, signature: str | None) -> None:
    """Raise WebhookRejected(401) unless the call is signed with the secret's signing key."""
    key = client.secret.webhook_signing_key
    if key is None:
        logger.error("SMSGate webhook refused: the smsgate secret holds no webhook_signing_key")
        raise WebhookRejected(401, "invalid_signature", "webhook signature cannot be checked")
    if not timestamp or not signature:
        raise WebhookRejected(401, "invalid_signature", "X-Signature and X-Timestamp are required")
    valid = verify_webhook_signature(
        key.get_secret_value(), body, timestamp, signature,
        max_skew=client.settings.webhook_max_skew, now=clock.now(),
    )
    if not valid:
        raise WebhookRejected(401, "invalid_signature", "webhook signature or timestamp is not valid")


def parse(body: bytes) -> WebhookEvent:
    try:
        return WebhookEvent.model_validate_json(body)
    except ValidationError as exc:
        raise WebhookRejected(400, "invalid_json", "the body is not an SMSGate webhook event") from exc


def our_message_id(table: Any, payload: SmsPayload) -> str:
    """The message the event is about: the recipient's, when the SMSGate message was one list
    request (tamtam.store.lists), else the one its id names."""
    number = payload.recipient or payload.phoneNumber
    if number:
        member = lists.member(table, PROVIDER, payload.messageId, number)
        if member is not None:
            return member
    return message_id_of(payload.messageId)


def handle_event(event: WebhookEvent, *, table: Any) -> WebhookResult:
    """Apply one verified event; answers what happened (always acknowledged)."""
    status = EVENT_STATUS.get(event.event)
    if status is None:
        logger.info("SMSGate webhook event ignored", extra={"event": event.event})
        return WebhookResult(event=event.event, result="ignored")
    try:
        payload = SmsPayload.model_validate(event.payload)
    except ValidationError as exc:
        raise WebhookRejected(422, "invalid_value", "payload.messageId is required", "payload.messageId") from exc
    failed = status == Status.FAILED
    message_id = our_message_id(table, payload)
    moved = apply_report(
        table,
        message_id,
        status,
        provider=PROVIDER,
        raw_status=event.event,
        reason=Reason.REJECTED.value if failed else None,
        raw_text=payload.reason if failed else None,
        only_if_provider=failed,
    )
    result = status.value if moved is not None else "unchanged"
    logger.info(
        "SMSGate webhook applied",
        extra={"event": event.event, "message_id": message_id, "result": result, "webhook_event_id": event.id},
    )
    return WebhookResult(event=event.event, message_id=message_id, result=result)
