"""SMSGate delivery webhooks: signature check and the status change an event means.

The device POSTs `{"id", "webhookId", "event", "deviceId", "payload"}` signed with
`X-Signature` = lowercase hex HMAC-SHA256(signing key, raw body + `X-Timestamp`), within
±5 minutes (docs: providers.md section 5). The payload's `messageId` is the SMSGate id the
sender gave the message: ours, a bulk id without its `msg_` prefix (`message_id_of`), or the id
of a list request, whose recipient (`recipient`, or the older `phoneNumber`) names the message.
Events other than sent/delivered/failed, and messages the gateway does not know, are acknowledged
and ignored so that the device stops retrying.
`sms:received` is a message someone sent to the device: an inbound message (webhooks.inbound).
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from tamtam import clock
from tamtam.messaging.clients import ClientCache
from tamtam.messaging.reports import apply_report
from tamtam.observability import logger
from tamtam.providers.base import Reason
from tamtam.providers.smsgate import SmsGateClient, message_id_of, verify_webhook_signature
from tamtam.redact import error_keys
from tamtam.status import Status
from tamtam.store import lists
from webhooks import inbound
from webhooks.errors import WebhookRejected

PROVIDER = "smsgate"
EVENT_STATUS = {"sms:sent": Status.SENT, "sms:delivered": Status.DELIVERED, "sms:failed": Status.FAILED}
RECEIVED = "sms:received"


class SmsPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messageId: str = Field(min_length=1, max_length=64)  # noqa: N815 - SMSGate's JSON field name
    recipient: str | None = None
    phoneNumber: str | None = None  # noqa: N815 - SMSGate's deprecated name of `recipient` (older apps send only this)
    reason: str | None = None


class ReceivedPayload(BaseModel):
    """`sms:received`: `sender` is who wrote (older apps: only `phoneNumber`), `recipient` our
    device's own number when it knows it, `receivedAt` local time with an offset."""

    model_config = ConfigDict(extra="ignore")

    messageId: str = Field(min_length=1, max_length=64)  # noqa: N815 - SMSGate's JSON field name
    message: str = Field(max_length=65535)
    sender: str | None = Field(None, max_length=128)
    phoneNumber: str | None = Field(None, max_length=128)  # noqa: N815 - SMSGate's JSON field name
    recipient: str | None = Field(None, max_length=128)
    receivedAt: AwareDatetime | None = None  # noqa: N815 - SMSGate's JSON field name


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    webhookId: str | None = None  # noqa: N815 - SMSGate's JSON field name
    event: str
    deviceId: str | None = None  # noqa: N815 - SMSGate's JSON field name
    payload: dict[str, Any] = Field(default_factory=dict)


class WebhookResult(BaseModel):
    """The answer to a verified event."""

    event: str
    message_id: str | None = Field(None, description="our message id; absent when the event was ignored")
    result: str = Field(description="the status the message moved to, `unchanged`, or `ignored`; for "
                        "`sms:received`: `stored`, `duplicate`, `unmatched`")
    inbound_id: str | None = Field(None, description="`sms:received`: the inbound message's id, when stored")
    keyword: str | None = Field(None, description="`sms:received`: `opt_out` or `opt_in` when the text was a keyword")


class SigningKeyUnavailable(RuntimeError):
    """The SMSGate secret cannot be read or validated: no call can be checked (an error for the
    handler's 500 and its alarm; its text names no value)."""


def signing_client(clients: ClientCache) -> SmsGateClient:
    """The SMSGate client whose secret holds the signing key. Any caller reaches this before its
    signature is checked, so a secret that cannot be read or validated is logged by its error
    type and field names only, never by its text (which may quote the secret)."""
    try:
        return cast(SmsGateClient, clients.get(PROVIDER))
    except Exception as exc:  # noqa: BLE001 - any unusable secret: logged by type, re-raised as SigningKeyUnavailable
        logger.error("SMSGate webhook not checked: the smsgate secret is not usable", extra=error_keys(exc))
        raise SigningKeyUnavailable("the smsgate secret is not usable") from None


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


def received(event: WebhookEvent, *, table: Any, bus_client: Any) -> WebhookResult:
    """`sms:received`: an inbound message (webhooks.inbound)."""
    try:
        payload = ReceivedPayload.model_validate(event.payload)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "payload"
        raise WebhookRejected(422, "invalid_value", "not an sms:received payload", f"payload.{where}") from exc
    sender = payload.sender or payload.phoneNumber
    if not sender:
        raise WebhookRejected(422, "invalid_value", "payload.sender is required", "payload.sender")
    moment = payload.receivedAt.timestamp() if payload.receivedAt is not None else None
    message = inbound.Received(provider=PROVIDER, provider_message_id=payload.messageId, sender=sender,
                                        text=payload.message, to=payload.recipient, received_at=moment)
    answer = inbound.receive(event.event, message, table=table, bus_client=bus_client)
    return WebhookResult(event=event.event, result=answer.result, inbound_id=answer.inbound_id, keyword=answer.keyword)


def handle_event(event: WebhookEvent, *, table: Any, bus_client: Any = None) -> WebhookResult:
    """Apply one verified event; answers what happened (always acknowledged)."""
    if event.event == RECEIVED:
        return received(event, table=table, bus_client=bus_client)
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
