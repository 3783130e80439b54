"""Message Pro (messagepro-gn.com), a Zender platform: SMS and WhatsApp.

Wire facts (see docs: providers.md, section 2; checked against Zender's `api.php`):
- every call carries the API `secret` as a form field (sends) or a query field (`get/...`
  reads); Zender reads `$_REQUEST`, so JSON bodies are never used;
- every answer is HTTP 200 with the envelope `{"status": int, "message": str|false,
  "data": any|false}`; the error code lives in `status` (400, 401, 403, 404, 500);
- newer Zender versions return `data.messageId` (PDO's last insert id: a string such as
  "12"), older ones `data: false` (no id);
- delivery is polled (no delivery callbacks exist): `get/sms.message` for SMS and
  `get/wa.message` for WhatsApp, whose `status` is a WORD, never the stored integer.
  SMS (`smsStatusParser`): queued, pending, sent, failed; `status_code` holds the phone's
  report (SMS_SENT, SMS_DELIVERED, DELIVERY_PENDING, DELIVERY_FAILED or empty). WhatsApp:
  pending, queued, sent, failed, unknown; Zender has no delivered state for WhatsApp.

Mode (`devices` or `credits`) is a setting; when it is not set the client uses `devices`
if the secret names a `device`, else `credits` (which needs a `gateway`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tamtam.env_settings import EnvSettings
from tamtam.providers import http
from tamtam.providers.base import (
    AmbiguousError,
    AuthError,
    DeliveryReport,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    ProviderError,
    Reason,
    SendResult,
    TransientError,
)

_RAW_TEXT_MAX = 300

# send/sms in credits mode through a numeric gateway whose handler answered false: Zender
# stores the message with status 4 (failed) and never sends it again.
GATEWAY_REFUSED = "Gateway was unable to send your message!"
# send/whatsapp answers that can come after the chat was stored as pending (status 1), which
# Zender's cron hands to the WhatsApp server again later (or, for the priority path, after
# the WhatsApp server may already have sent it): the chat may still go out.
WHATSAPP_MAYBE_STORED = frozenset(
    {
        "Unable to connect to WhatsApp servers!",
        "Failed adding chat to WhatsApp queue!",
        "Failed sending WhatsApp chat!",
        "Failed sending priority WhatsApp chat!",
    }
)


class MessageProSecret(BaseModel):
    """The provider's Secrets Manager JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    base_url: str = "https://messagepro-gn.com/api"
    secret: SecretStr
    device: str | None = None
    gateway: str | None = None
    whatsapp_account: str | None = None
    # The secret of the dashboard webhook that POSTs received SMS and chats to
    # /v1/webhooks/messagepro (docs/providers.md section 2, "Webhooks"); none: that route refuses all.
    webhook_secret: SecretStr | None = None


class MessageProSettings(EnvSettings):
    """Tunables, from `TAMTAM_MESSAGEPRO_*` environment variables."""

    env_prefix: ClassVar[str] = "TAMTAM_MESSAGEPRO_"

    mode: Literal["devices", "credits"] | None = None  # None: devices if the secret has a device
    sim: int = Field(default=1, ge=1, le=2)
    priority: int | None = None  # sent only when set (Zender: 1 = yes, 2 = no; absent = 0)
    connect_timeout: float = 3.05
    read_timeout: float = 10.0


# --- pure helpers ------------------------------------------------------------------------


def e164(number: str) -> str:
    """`+` followed by the digits (Zender parses with a forced leading `+`)."""
    return "+" + number.strip().lstrip("+")


def _contains(text: str, *words: str) -> bool:
    return any(word in text for word in words)


def envelope_error(status: int, message: str) -> ProviderError:
    """The error for a Zender envelope whose `status` is not 200."""
    text = (message or "").lower()
    raw = {"raw_status": str(status), "raw_text": (message or "")[:_RAW_TEXT_MAX]}
    if status == 401:
        return AuthError(**raw, detail="API secret refused")
    if _contains(text, "your own devices"):  # credits mode naming one of our own devices
        return PermanentError(Reason.DEVICE_OFFLINE, **raw)
    if _contains(text, "credit"):
        # Zender answers missing credits with 403, and with 500 on one gateway path.
        return PermanentError(Reason.INSUFFICIENT_CREDIT, **raw)
    if status == 400:
        if _contains(text, "phone", "recipient"):
            return PermanentError(Reason.INVALID_NUMBER, **raw)
        return PermanentError(Reason.REJECTED, **raw)
    if status == 403:
        if _contains(text, "maximum allowed", "quota", "limit", "reached"):
            return PermanentError(Reason.INSUFFICIENT_CREDIT, **raw)
        if _contains(text, "sender"):
            return PermanentError(Reason.SENDER_NOT_APPROVED, **raw)
        if _contains(text, "not available"):
            return PermanentError(Reason.DEVICE_OFFLINE, **raw)
        return PermanentError(Reason.AUTH_FAILED, **raw)
    if status == 404:
        return PermanentError(Reason.DEVICE_OFFLINE, **raw)
    if status >= 500:
        return TransientError(Reason.PROVIDER_UNAVAILABLE, **raw)
    return PermanentError(Reason.REJECTED, **raw)


def read_envelope(text: str) -> dict[str, Any] | None:
    """The envelope of an answer, tolerating PHP notices printed before the JSON."""
    for candidate in (text, text[text.rfind('{"status"') :] if '{"status"' in text else ""):
        try:
            body = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(body, dict) and str(body.get("status", "")).isdigit():
            return {**body, "status": int(body["status"])}
    return None


def _word(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def _raw_word(value: Any) -> str:
    return "no status" if value in (None, "", False) else str(value)


def delivery_report(item: Mapping[str, Any]) -> DeliveryReport:
    """A `get/sms.message` (or `get/sms.sent`) item mapped to the gateway lifecycle.

    `status` is `smsStatusParser(<stored int>)`: "queued", "pending", "sent" or "failed" (the
    old `get/sms.sent` answered only "sent" or "failed"); `status_code` is the phone's report.
    A word Zender does not use is not a failure: the message is still held."""
    raw, code = item.get("status"), item.get("status_code")
    word, code = _word(raw), code if isinstance(code, str) and code != "0" else ""  # stored `false`: "" or "0"
    if word == "failed" or code == "DELIVERY_FAILED":
        return DeliveryReport("failed", code or word, Reason.REJECTED, raw_text=code or None)
    if word in ("queued", "pending"):
        return DeliveryReport("sending", word)
    if word == "sent":
        if code == "SMS_DELIVERED":
            return DeliveryReport("delivered", code)
        return DeliveryReport("sent", code or word)
    return DeliveryReport("sending", _raw_word(raw))


def whatsapp_report(item: Mapping[str, Any]) -> DeliveryReport:
    """A `get/wa.message` item: "pending" (stored), "queued" (taken by the WhatsApp server),
    "sent" (the furthest state Zender knows for a chat), "failed"; "unknown" or any other
    word means still held."""
    raw = item.get("status")
    word = _word(raw)
    if word == "failed":
        return DeliveryReport("failed", word, Reason.REJECTED)
    if word in ("pending", "queued"):
        return DeliveryReport("sending", word)
    if word == "sent":
        return DeliveryReport("sent", word, final=True)  # no delivery report follows for a chat
    return DeliveryReport("sending", _raw_word(raw))


def _message_id(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("messageId", "messageid", "id"):
            value = data.get(key)
            if value not in (None, False, ""):
                return str(value)
    return None


def _stored_nothing(data: Any) -> bool:
    """`data: {"messageId": false}` on a 200: newer Zender answered "queued" although it stored
    no message (the insert failed, or a partner device's price was unknown), so nothing goes
    out. Old versions answer `data: false` instead, which says nothing."""
    return isinstance(data, dict) and "messageId" in data and _message_id(data) is None


def send_refusal(status: int, message: str, data: Any, channel: str) -> SendResult:
    """A send answered with a `status` other than 200: the error to raise, or (a WhatsApp chat
    stored before the error, with its id) the result to keep, so that the poll decides."""
    message_id = _message_id(data)
    if status == 500 and message == GATEWAY_REFUSED:
        stored = f" (messageId {message_id})" if message_id else ""
        raise PermanentError(
            Reason.PROVIDER_UNAVAILABLE, raw_status="500", raw_text=f"{message}{stored}"[:_RAW_TEXT_MAX],
            detail=f"the gateway refused it; Zender stored it as failed{stored} and never resends it",
        )
    if status == 500 and channel == "whatsapp" and message in WHATSAPP_MAYBE_STORED:
        if message_id is not None:  # stored pending; Zender's cron hands it over again later
            return SendResult(message_id, raw_status=message)
        raise AmbiguousError(
            Reason.PROVIDER_UNAVAILABLE, raw_status="500", raw_text=message,
            detail="the chat may be stored and sent later; not safe to send again",
        )
    raise envelope_error(status, message)


# --- the client --------------------------------------------------------------------------


class MessageProClient(ProviderClient):
    name = "messagepro"

    def __init__(
        self,
        secret: MessageProSecret,
        settings: MessageProSettings | None = None,
        *,
        session: requests.Session | None = None,
    ):
        self._secret = secret
        self._settings = settings or MessageProSettings.from_env()
        self._session = session or http.make_session()
        self._base = secret.base_url.rstrip("/")
        self._timeout = (self._settings.connect_timeout, self._settings.read_timeout)
        self._mode = self._settings.mode or ("devices" if secret.device else "credits")
        if self._mode == "devices" and not secret.device:
            raise ValueError("messagepro: mode 'devices' needs 'device' in the secret")
        if self._mode == "credits" and not secret.gateway:
            raise ValueError("messagepro: mode 'credits' needs 'gateway' in the secret")

    @classmethod
    def from_secret(
        cls,
        secret: Mapping[str, Any],
        *,
        settings: MessageProSettings | None = None,
    ) -> MessageProClient:
        return cls(MessageProSecret.model_validate(dict(secret)), settings)

    # sends

    def send(self, message: OutboundMessage) -> SendResult:
        if message.group_id is not None:
            return self._send_groups(message)
        if message.channel == "whatsapp":
            path, fields = "send/whatsapp", self._whatsapp_fields(message)
        elif message.channel == "sms":
            path, fields = "send/sms", self._sms_fields(message)
        else:
            raise PermanentError(Reason.REJECTED, detail=f"channel {message.channel!r} not supported")
        response = self._call("POST", path, data=fields)
        envelope = self._envelope(response, sending=True)
        status, text, data = envelope["status"], envelope.get("message") or "", envelope.get("data")
        if status != 200:
            return send_refusal(status, str(text), data, message.channel)
        if _stored_nothing(data):
            raise TransientError(
                Reason.PROVIDER_UNAVAILABLE, raw_status="200", raw_text=f"{text} (messageId false)"[:_RAW_TEXT_MAX],
                detail="Zender stored no message",
            )
        return SendResult(_message_id(data), raw_status=str(text) or None)

    def _send_groups(self, message: OutboundMessage) -> SendResult:
        """`send/sms.bulk` with `groups` (comma-separated contact group ids): Zender expands the
        groups itself; the answer carries no message ids."""
        fields = self._sms_fields(message)
        del fields["phone"]
        fields.update(groups=message.group_id, campaign=message.message_id)
        envelope = self._envelope(self._call("POST", "send/sms.bulk", data=fields), sending=True)
        if envelope["status"] != 200:
            raise envelope_error(envelope["status"], str(envelope.get("message") or ""))
        return SendResult(None, raw_status=str(envelope.get("message") or "") or None)

    def _sms_fields(self, message: OutboundMessage) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "secret": self._secret.secret.get_secret_value(),
            "mode": self._mode,
            "phone": e164(message.to),
            "message": message.text,
        }
        if self._mode == "devices":
            fields.update(device=self._secret.device, sim=self._settings.sim)
        else:
            fields["gateway"] = self._secret.gateway
        if self._settings.priority is not None:
            fields["priority"] = self._settings.priority
        return fields

    def _whatsapp_fields(self, message: OutboundMessage) -> dict[str, Any]:
        if not self._secret.whatsapp_account:
            raise PermanentError(Reason.DEVICE_OFFLINE, detail="the secret names no whatsapp_account")
        fields: dict[str, Any] = {
            "secret": self._secret.secret.get_secret_value(),
            "account": self._secret.whatsapp_account,
            "recipient": e164(message.to),
            "type": "text",
            "message": message.text,
        }
        if self._settings.priority is not None:
            fields["priority"] = self._settings.priority
        return fields

    # queries

    def status(self, provider_message_id: str, *, channel: str = "sms", recipient: str | None = None) -> DeliveryReport:
        """SMS and WhatsApp live in separate Zender tables with their own ids: a WhatsApp id
        asked at `get/sms.message` names another message (or none). `recipient` is not used:
        MessagePro takes no lists, so each id names one recipient."""
        if channel == "whatsapp":
            path, report = "get/wa.message", whatsapp_report
        elif channel == "sms":
            path, report = "get/sms.message", delivery_report
        else:
            raise PermanentError(Reason.REJECTED, detail=f"channel {channel!r} not supported")
        data = self._query(path, id=provider_message_id, type="sent").get("data")
        if isinstance(data, list):
            data = data[0] if data else None
        if not isinstance(data, dict):
            raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail="status answer without a message")
        answer = report(data)
        if answer.status == "sent" and channel == "sms" and self._through_gateway:
            # A credits gateway (a numeric id) only ever sets "sent", never a device report.
            return replace(answer, final=True)
        return answer

    @property
    def _through_gateway(self) -> bool:
        return self._mode == "credits" and str(self._secret.gateway or "").isdigit()

    def balance(self) -> float | None:
        data = self._query("get/credits").get("data")
        left = data.get("credits") if isinstance(data, dict) else None
        try:
            return float(left) if left not in (None, False, "") else None
        except (TypeError, ValueError):
            return None

    def check_credentials(self) -> None:
        self.balance()  # GET get/credits with the secret: a refused secret is an error envelope

    def _query(self, path: str, **params: str) -> dict[str, Any]:
        params["secret"] = self._secret.secret.get_secret_value()
        envelope = self._envelope(self._call("GET", path, params=params), sending=False)
        status = envelope["status"]
        if status == 404 and path in ("get/sms.message", "get/wa.message"):
            raise PermanentError(
                Reason.REJECTED,
                raw_status="404",
                raw_text=str(envelope.get("message"))[:_RAW_TEXT_MAX],
                detail="the provider does not know this message",
            )
        if status != 200:
            raise envelope_error(status, str(envelope.get("message") or ""))
        return envelope

    # transport

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return http.call(
                self._session, method, f"{self._base}/{path}", timeout=self._timeout,
                allow_redirects=False, **kwargs,
            )
        except ProviderError as exc:
            # The transport error's text may hold the URL, whose query carries the secret.
            raise exc from None

    def _envelope(self, response: requests.Response, *, sending: bool) -> dict[str, Any]:
        code = response.status_code
        raw = {"raw_status": str(code), "raw_text": response.text[:_RAW_TEXT_MAX]}
        if code >= 500 or code == 429:
            raise TransientError(Reason.PROVIDER_UNAVAILABLE, **raw)
        if code != 200:
            raise PermanentError(Reason.PROVIDER_UNAVAILABLE, **raw, detail="not a Zender answer")
        envelope = read_envelope(response.text)
        if envelope is None:
            if sending:
                raise AmbiguousError(Reason.PROVIDER_UNAVAILABLE, **raw, detail="unreadable answer to a send")
            raise TransientError(Reason.PROVIDER_UNAVAILABLE, **raw, detail="unreadable answer")
        return envelope
