"""Message Pro (Zender) inbound webhooks at `POST /v1/webhooks/messagepro`.

Zender POSTs every received SMS and WhatsApp chat to the webhooks set up in its dashboard,
form-encoded (Guzzle `form_params`), with the webhook's own secret in plain text
(docs/providers.md section 2, "Webhooks"; Zender's `MVC_Library_Process::webhooks`):

    secret=<webhook secret>&type=sms&data[id]=..&data[rid]=..&data[sim]=..&data[device]=..
        &data[phone]=<sender>&data[message]=..&data[timestamp]=<unix seconds>
    secret=..&type=whatsapp&data[id]=..&data[wid]=<our number>&data[phone]=..&data[message]=..
        &data[attachment]=<url, or 0>&data[timestamp]=..

No signature, no retry. The secret is compared in constant time with the Message Pro provider
secret's `webhook_secret` and never logged. `ussd` and `notifications` are acknowledged and
ignored.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from tamtam.observability import logger
from tamtam.providers.messagepro import MessageProSecret
from tamtam.redact import error_keys
from webhooks import inbound
from webhooks.errors import WebhookRejected

PROVIDER = "messagepro"
CHANNELS = {"sms": "sms", "whatsapp": "whatsapp"}  # Zender's webhook type -> our channel
MAX_FIELD = 65535


class SecretUnavailable(RuntimeError):
    """The Message Pro secret cannot be read or validated: no call can be checked."""


class ReceivedData(BaseModel):
    """`data[...]` of an `sms` or `whatsapp` webhook (the fields the gateway reads)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=64, description="Zender's id of the received message or chat")
    phone: str = Field(min_length=1, max_length=128, description="who sent it")
    message: str = Field(max_length=MAX_FIELD)
    wid: str | None = Field(None, max_length=128, description="whatsapp: the account's own number")
    timestamp: int | None = Field(None, ge=0, description="when Zender received it, Unix seconds")


def webhook_secret(load_secret: Callable[[str], dict[str, Any]]) -> SecretStr | None:
    """The `webhook_secret` of the Message Pro provider secret (read through the secret cache:
    a new value holds within `secret_max_age_seconds`). A secret that cannot be read or
    validated is logged by its error type and field names only, never by its text."""
    try:
        return MessageProSecret.model_validate(load_secret(PROVIDER)).webhook_secret
    except Exception as exc:  # noqa: BLE001 - any unusable secret: logged by type, re-raised as SecretUnavailable
        logger.error("Message Pro webhook not checked: the messagepro secret is not usable", extra=error_keys(exc))
        raise SecretUnavailable("the messagepro secret is not usable") from None


def form(body: bytes) -> dict[str, str]:
    """The form fields (the last value of each), or 400."""
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=64)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, "invalid_body", "the body is not a form-encoded webhook") from exc
    return {name: values[-1] for name, values in fields.items()}


def verify(expected: SecretStr | None, fields: dict[str, str]) -> None:
    """401 unless `secret` is the webhook secret (constant time; neither value is ever logged)."""
    if expected is None:
        logger.error("Message Pro webhook refused: the messagepro secret holds no webhook_secret")
        raise WebhookRejected(401, "invalid_signature", "webhook secret cannot be checked")
    given = fields.get("secret", "")
    if not given or not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise WebhookRejected(401, "invalid_signature", "the webhook secret is missing or wrong")


def _data(fields: dict[str, str]) -> ReceivedData:
    data = {name[5:-1]: value for name, value in fields.items() if name.startswith("data[") and name.endswith("]")}
    try:
        return ReceivedData.model_validate(data)
    except ValidationError as exc:
        where = str(exc.errors()[0]["loc"][0]) if exc.errors()[0]["loc"] else "data"
        raise WebhookRejected(422, "invalid_value", f"data[{where}] is missing or not valid", f"data[{where}]") from exc


def handle(fields: dict[str, str], *, table: Any, bus_client: Any) -> inbound.InboundResult:
    """Apply one verified webhook: a received SMS or chat is an inbound message."""
    kind = fields.get("type", "")
    channel = CHANNELS.get(kind)
    if channel is None:
        logger.info("Message Pro webhook ignored", extra={"type": kind[:32]})
        return inbound.InboundResult(event=kind[:32], result="ignored")
    data = _data(fields)
    message = inbound.Received(
        provider=PROVIDER, provider_message_id=f"{kind}:{data.id}", sender=data.phone, text=data.message,
        channel=channel, to=data.wid, received_at=float(data.timestamp) if data.timestamp is not None else None,
    )
    return inbound.receive(kind, message, table=table, bus_client=bus_client)
