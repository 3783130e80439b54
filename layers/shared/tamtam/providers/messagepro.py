"""Message Pro (messagepro-gn.com), a Zender platform: SMS and WhatsApp.

Wire facts (see docs: providers.md, section 2):
- every call carries the API `secret` as a form field (sends) or a query field (`get/...`
  reads); Zender reads `$_REQUEST`, so JSON bodies are never used;
- every answer is HTTP 200 with the envelope `{"status": int, "message": str|false,
  "data": any|false}`; the error code lives in `status` (400, 401, 403, 404, 500);
- newer Zender versions return `data.messageId`, older ones `data: false` (no id);
- delivery is polled with `get/sms.message` (no delivery callbacks exist).

Mode (`devices` or `credits`) is a setting; when it is not set the client uses `devices`
if the secret names a `device`, else `credits` (which needs a `gateway`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class MessageProSecret(BaseModel):
    """The provider's Secrets Manager JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    base_url: str = "https://messagepro-gn.com/api"
    secret: SecretStr
    device: str | None = None
    gateway: str | None = None
    whatsapp_account: str | None = None


class MessageProSettings(BaseSettings):
    """Tunables, from `TAMTAM_MESSAGEPRO_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TAMTAM_MESSAGEPRO_", extra="ignore")

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
    raw = dict(raw_status=str(status), raw_text=(message or "")[:_RAW_TEXT_MAX])
    if status == 401:
        return AuthError(**raw, detail="API secret refused")
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


def delivery_report(item: Mapping[str, Any]) -> DeliveryReport:
    """A `get/sms.message` item mapped to the gateway lifecycle.

    `status`: 1 queued, 2 pending, 3 sent, anything else failed; `status_code` carries the
    device report (SMS_SENT, SMS_DELIVERED, DELIVERY_PENDING, DELIVERY_FAILED or empty)."""
    code = item.get("status_code") or ""
    code = code if isinstance(code, str) else ""
    try:
        status = int(item.get("status"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        status = 0
    if code == "DELIVERY_FAILED" or status not in (1, 2, 3):
        return DeliveryReport("failed", code or f"status {status}", Reason.REJECTED, raw_text=code or None)
    if status in (1, 2):
        return DeliveryReport("sending", code or ("queued" if status == 1 else "pending"))
    if code == "SMS_DELIVERED":
        return DeliveryReport("delivered", code)
    return DeliveryReport("sent", code or "sent")


def _message_id(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("messageId", "messageid", "id"):
            value = data.get(key)
            if value not in (None, False, ""):
                return str(value)
    return None


# --- the client --------------------------------------------------------------------------


class MessageProClient(ProviderClient):
    name = "messagepro"
    channels = frozenset({"sms", "whatsapp"})
    answers_status_queries = True
    sends_to_groups = True

    def __init__(
        self,
        secret: MessageProSecret,
        settings: MessageProSettings | None = None,
        *,
        session: requests.Session | None = None,
    ):
        self._secret = secret
        self._settings = settings or MessageProSettings()
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
        status = envelope["status"]
        if status != 200:
            raise envelope_error(status, envelope.get("message") or "")
        return SendResult(_message_id(envelope.get("data")), raw_status=envelope.get("message") or None)

    def _send_groups(self, message: OutboundMessage) -> SendResult:
        """`send/sms.bulk` with `groups` (comma-separated contact group ids): Zender expands the
        groups itself; the answer carries no message ids."""
        fields = self._sms_fields(message)
        del fields["phone"]
        fields.update(groups=message.group_id, campaign=message.message_id)
        envelope = self._envelope(self._call("POST", "send/sms.bulk", data=fields), sending=True)
        if envelope["status"] != 200:
            raise envelope_error(envelope["status"], envelope.get("message") or "")
        return SendResult(None, raw_status=envelope.get("message") or None)

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

    def status(self, provider_message_id: str) -> DeliveryReport:
        envelope = self._query("get/sms.message", id=provider_message_id, type="sent")
        data = envelope.get("data")
        if isinstance(data, list):
            data = data[0] if data else None
        if not isinstance(data, dict):
            raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail="status answer without a message")
        return delivery_report(data)

    def balance(self) -> float | None:
        data = self._query("get/credits").get("data")
        credits = data.get("credits") if isinstance(data, dict) else None
        try:
            return float(credits) if credits not in (None, False, "") else None
        except (TypeError, ValueError):
            return None

    def check_credentials(self) -> None:
        self.balance()  # GET get/credits with the secret: a refused secret is an error envelope

    def _query(self, path: str, **params: str) -> dict[str, Any]:
        params["secret"] = self._secret.secret.get_secret_value()
        envelope = self._envelope(self._call("GET", path, params=params), sending=False)
        status = envelope["status"]
        if status == 404 and path == "get/sms.message":
            raise PermanentError(
                Reason.REJECTED,
                raw_status="404",
                raw_text=str(envelope.get("message"))[:_RAW_TEXT_MAX],
                detail="the provider does not know this message",
            )
        if status != 200:
            raise envelope_error(status, envelope.get("message") or "")
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
        raw = dict(raw_status=str(code), raw_text=response.text[:_RAW_TEXT_MAX])
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
