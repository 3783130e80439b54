"""SMSGate / SMS Gateway for Android cloud API (docs/providers.md section 5).

Basic auth (`username`/`password`) by default; Bearer JWT when the secret holds tokens
(a 401 then renews the pair once with the refresh token: the message was not taken). In JWT
mode, Basic credentials kept beside the tokens only issue and revoke tokens (the rotation).
Our message id travels as the SMSGate message `id` (at most 36 characters: `wire_id` shortens
the 37-character ids of bulk messages, `message_id_of` maps them back), so a repeated send
answers 409, which this client raises as `DuplicateError` (the earlier attempt went through).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import requests
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator

from tamtam.env_settings import EnvSettings
from tamtam.providers.base import (
    AmbiguousError,
    AuthError,
    DeliveryReport,
    DuplicateError,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    ProviderError,
    Reason,
    SendResult,
    TransientError,
)
from tamtam.providers.http import call, make_session
from tamtam.providers.tokens import Grant, TokenCache

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_MAX_ID = 36  # SMSGate's limit on a message id (client-go smsgateway `Message.ID`: `validate:"max=36"`)
# A bulk message id (`msg_<26 characters of the batch id>_<6-digit index>`, 37 characters)
# travels without its `msg_` prefix: 33 characters, no other kind of id has this shape.
_BULK_ID = re.compile(r"^msg_([0-9a-z]{26}_\d{6})$")
_BULK_WIRE_ID = re.compile(r"^[0-9a-z]{26}_\d{6}$")
_LIST_SUFFIX = "-l"
_MAX_RAW = 300
_ACCEPT = {"Accept": "application/json"}
_MAX_RECIPIENTS = 100  # client-go smsgateway `Message.PhoneNumbers`: `validate:"required,min=1,max=100"`
_STATES = {
    "Pending": "sending",
    "Processed": "sending",
    "Cancelling": "sending",
    "Sent": "sent",
    "Delivered": "delivered",
    "Failed": "failed",
    "Cancelled": "failed",
}


class SmsGateSecret(BaseModel):
    """The provider secret's JSON: Basic credentials, or a token pair (JWT mode). Hidden from
    validation errors: their text would quote it."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    base_url: str = "https://api.sms-gate.app/3rdparty/v1"
    username: str | None = None
    password: SecretStr | None = None
    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None
    token_id: str | None = None  # the jti of the pair above: the rotation revokes it once replaced
    device_id: str | None = None
    webhook_signing_key: SecretStr | None = None

    @model_validator(mode="after")
    def _has_credentials(self) -> SmsGateSecret:
        if not (self.username and self.password) and not (self.access_token or self.refresh_token):
            raise ValueError("an SMSGate secret needs username and password, or an access/refresh token")
        return self


class SmsGateSettings(EnvSettings):
    """Non-secret client settings (environment, prefix `TAMTAM_SMSGATE_`)."""

    env_prefix: ClassVar[str] = "TAMTAM_SMSGATE_"

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    skip_phone_validation: bool = False
    with_delivery_report: bool = True
    priority: int | None = None  # >= 100 bypasses the device's send limits
    sim_number: int | None = None
    device_active_within: int | None = None  # hours; only devices seen within them are chosen
    token_scopes: list[str] = Field(
        default_factory=lambda: ["messages:send", "messages:read", "devices:list", "webhooks:list", "webhooks:write",
                                 "webhooks:delete"]
    )
    token_ttl: int = 0  # seconds; 0: the server's maximum
    webhook_max_skew: int = 300  # seconds of clock skew accepted on a webhook's X-Timestamp


@lru_cache(maxsize=1)
def smsgate_settings() -> SmsGateSettings:
    return SmsGateSettings.from_env()


class TokenPair(BaseModel):
    """`POST /auth/token[/refresh]` answer: snake_case on the wire, camelCase in the PyPI client.
    An answer that does not fit is never quoted in the error (it may hold the tokens)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    id: str | None = None
    token_type: str = Field("Bearer", validation_alias=AliasChoices("token_type", "tokenType"))
    access_token: SecretStr = Field(validation_alias=AliasChoices("access_token", "accessToken"))
    refresh_token: SecretStr | None = Field(None, validation_alias=AliasChoices("refresh_token", "refreshToken"))
    expires_at: str | None = Field(None, validation_alias=AliasChoices("expires_at", "expiresAt"))


class RecipientState(BaseModel):
    # Answer models hide their input too: an answer that does not fit (a proxy or debug
    # handler echoing the request) may carry the credentials it was sent.
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    phoneNumber: str = ""  # noqa: N815 - SMSGate's field name
    state: str = ""
    error: str | None = None


class MessageState(BaseModel):
    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    id: str
    state: str
    deviceId: str | None = None  # noqa: N815 - SMSGate's field name
    recipients: list[RecipientState] = Field(default_factory=list)


def wire_id(message_id: str) -> str:
    """The SMSGate message id for one of ours: ours when it fits the 36-character limit, a bulk
    id without its `msg_` prefix. Unique (the shapes cannot collide) and reversible."""
    bulk = _BULK_ID.match(message_id)
    wire = bulk.group(1) if bulk else message_id
    if len(wire) > _MAX_ID:
        raise ValueError(f"message id {message_id!r} has no SMSGate form of at most {_MAX_ID} characters")
    return wire


def list_id(first_message_id: str) -> str:
    """The SMSGate id of a list request, after its first recipient's message: never the id any
    one message goes under (`wire_id`), so a recipient resent alone under its own id never meets
    the list's. Reports name it with a number; tamtam.store.lists maps them back."""
    wire = wire_id(first_message_id) + _LIST_SUFFIX
    if len(wire) > _MAX_ID:
        raise ValueError(f"message id {first_message_id!r} cannot name a list request")
    return wire


def message_id_of(wire: str) -> str:
    """Our message id for an SMSGate message id (`wire_id` reversed)."""
    return f"msg_{wire}" if _BULK_WIRE_ID.match(wire) else wire


def verify_webhook_signature(
    key: str, body: bytes, timestamp: str, signature: str, *, max_skew: int = 300, now: float | None = None
) -> bool:
    """True when `signature` (X-Signature) is HMAC-SHA256(key, raw body + X-Timestamp) in
    lowercase hex and the timestamp is within `max_skew` seconds of now."""
    try:
        skew = abs((time.time() if now is None else now) - int(timestamp))
    except (TypeError, ValueError):
        return False
    expected = hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses str with non-ASCII characters, which a header can carry.
    return skew <= max_skew and hmac.compare_digest(
        expected.encode(), (signature or "").encode("utf-8", "surrogateescape")
    )


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:_MAX_RAW]
    return response.text[:_MAX_RAW]


def error_for(response: requests.Response) -> ProviderError:
    """The error an SMSGate non-2xx answer means (`{"message": ...}` with the real status)."""
    status, text = response.status_code, _error_text(response)
    raw = str(status)
    if status in (401, 403):
        return AuthError(raw, text)
    if status == 409:
        return DuplicateError(Reason.REJECTED, raw, text, detail="SMSGate already holds this message id")
    if status == 429 or status >= 500:
        return TransientError(Reason.PROVIDER_UNAVAILABLE, raw, text)
    if status == 400 and "phone" in text.lower():
        return PermanentError(Reason.INVALID_NUMBER, raw, text)
    if status == 400 and "device" in text.lower():
        return PermanentError(Reason.DEVICE_OFFLINE, raw, text)
    return PermanentError(Reason.REJECTED, raw, text)


class SmsGateClient(ProviderClient):
    name = "smsgate"

    def __init__(
        self, secret: SmsGateSecret, settings: SmsGateSettings | None = None, session: requests.Session | None = None
    ):
        self.secret = secret
        self.settings = settings or smsgate_settings()
        self.session = session or make_session()
        self._base = secret.base_url.rstrip("/")
        self._timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        # JWT mode: no login of its own, only the pair in the secret and its renewals; no
        # known expiry (a 401 says when).
        self._tokens = TokenCache(
            login=None, refresh=self._trade_refresh_token,
            access=_secret_value(secret.access_token), refresh_token=_secret_value(secret.refresh_token),
        )
        self._device: str | None = secret.device_id

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> SmsGateClient:
        return cls(SmsGateSecret.model_validate(secret))

    @property
    def has_basic_credentials(self) -> bool:
        return bool(self.secret.username and self.secret.password)

    @property
    def uses_basic_auth(self) -> bool:
        """Basic on every call, unless the secret holds tokens (JWT mode)."""
        return self.has_basic_credentials and not (self.secret.access_token or self.secret.refresh_token)

    @property
    def tokens(self) -> tuple[SecretStr | None, SecretStr | None]:
        """The (access, refresh) pair in use in JWT mode, renewed ones included."""
        access, refresh = self._tokens.access, self._tokens.refresh_token
        return (None if access is None else SecretStr(access)), (None if refresh is None else SecretStr(refresh))

    # -- plumbing --------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, basic: bool = False, **kwargs: Any) -> requests.Response:
        url = f"{self._base}/{path}"
        if basic or self.uses_basic_auth:
            auth = (self.secret.username, self.secret.password.get_secret_value())  # type: ignore[union-attr]
            return call(self.session, method, url, timeout=self._timeout, headers=dict(_ACCEPT), auth=auth, **kwargs)

        def send(access: str) -> requests.Response:
            headers = {**_ACCEPT, "Authorization": f"Bearer {access}"}
            return call(self.session, method, url, timeout=self._timeout, headers=headers, **kwargs)

        # A 401 means nothing was taken: one retry with a new pair (when there is a refresh
        # token); the answer to the retry is mapped like any other.
        return self._tokens.send(send, _token_refused, raise_refused=False)

    # -- messages --------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> SendResult:
        return self._send([message])[0]  # type: ignore[return-value]

    def send_list(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ProviderError]:
        """One SMSGate message to every recipient (`phoneNumbers`, at most 100): the same text,
        one id (the first recipient's, unless the sender chose one); each recipient is then
        reported on its own (webhooks and `recipients[]` name the id and the number)."""
        if not 1 <= len(messages) <= _MAX_RECIPIENTS or len({(m.text, m.sender) for m in messages}) != 1:
            raise ValueError(f"an SMSGate list is 1 to {_MAX_RECIPIENTS} recipients of one text")
        return self._send(list(messages))

    def _send(self, messages: list[OutboundMessage]) -> list[SendResult | ProviderError]:
        first = messages[0]
        answers: list[SendResult | ProviderError | None] = [None] * len(messages)
        numbers: list[str] = []
        for i, message in enumerate(messages):
            if _E164.match(message.to):
                numbers.append(message.to)
            else:
                answers[i] = PermanentError(Reason.INVALID_NUMBER, detail="recipient is not an E.164 number")
        if not numbers:
            if len(messages) == 1:
                raise answers[0]  # type: ignore[misc]
            return answers  # type: ignore[return-value]
        try:
            provider_id = first.provider_id or wire_id(first.message_id)
        except ValueError as exc:
            raise PermanentError(Reason.REJECTED, detail=str(exc)) from None
        body: dict[str, Any] = {
            "id": provider_id,
            "phoneNumbers": numbers,
            "textMessage": {"text": first.text},
            "withDeliveryReport": self.settings.with_delivery_report,
        }
        optional = {
            "deviceId": self.device_id(),
            "simNumber": self.settings.sim_number,
            "priority": self.settings.priority,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        params: dict[str, str] = {}
        if self.settings.skip_phone_validation:
            params["skipPhoneValidation"] = "true"
        if self.settings.device_active_within is not None:
            params["deviceActiveWithin"] = str(self.settings.device_active_within)
        response = self._request("POST", "messages", json=body, params=params)
        if response.status_code == 409 and first.provider_id is not None:
            if len(messages) == 1:
                return [self._resend_alone(first, provider_id, body, params, response)]
            return self._each_after_held_list(messages, answers, provider_id, body, params, response)
        if not 200 <= response.status_code < 300:
            raise error_for(response)
        state = response.json() if response.content else {}
        raw_state = state.get("state") if isinstance(state, dict) else None
        return [a if a is not None else SendResult(provider_id, raw_status=raw_state) for a in answers]

    def _resend_alone(
        self, message: OutboundMessage, held_id: str, body: dict[str, Any], params: dict[str, str],
        refused: requests.Response,
    ) -> SendResult:
        """A recipient of an earlier list request asked again under the list's id, and SMSGate
        holds that id: the 409 says the list went out only if this recipient is in it. Another
        member's own resend may hold the id instead (the list itself never left): then this
        recipient was never sent, and goes now under its own id."""
        if self._holds(held_id, message.to):
            raise DuplicateError(Reason.REJECTED, "409", _error_text(refused), detail="SMSGate holds this recipient")
        own = wire_id(message.message_id)
        if own == held_id:  # its own id is held, yet not for this recipient: never sent twice
            raise error_for(refused)
        response = self._request("POST", "messages", json={**body, "id": own}, params=params)
        if not 200 <= response.status_code < 300:
            raise error_for(response)
        state = response.json() if response.content else {}
        return SendResult(own, raw_status=state.get("state") if isinstance(state, dict) else None)

    def _each_after_held_list(
        self, messages: list[OutboundMessage], answers: list[SendResult | ProviderError | None], held_id: str,
        body: dict[str, Any], params: dict[str, str], refused: requests.Response,
    ) -> list[SendResult | ProviderError]:
        """A list request under an id SMSGate already holds. List ids follow from the leading
        message, and a member whose dispatch mark failed is left out of its leader's request: it
        may lead the next list, under the same id, with others. So the 409 says the list went
        out only for the recipients the held message has; each of the others goes now on its
        own (`_resend_alone`), and gets its own answer."""
        out: list[SendResult | ProviderError] = []
        for message, answer in zip(messages, answers, strict=True):
            if answer is not None:  # refused before the request (not an E.164 number)
                out.append(answer)
                continue
            try:
                out.append(self._resend_alone(message, held_id, {**body, "phoneNumbers": [message.to]}, params,
                                              refused))
            except ProviderError as exc:
                out.append(exc)
        return out

    def _holds(self, provider_id: str, recipient: str) -> bool:
        response = self._request("GET", f"messages/{provider_id}")
        if response.status_code == 404:
            return False
        if response.status_code != 200:
            raise error_for(response)
        state = MessageState.model_validate(response.json())
        hashed = hashlib.sha256(recipient.encode()).hexdigest()[:16]
        names = {recipient, recipient.lstrip("+"), hashed}
        return any(r.phoneNumber in names or "+" + r.phoneNumber.lstrip("+") == recipient for r in state.recipients)

    def device_id(self) -> str:
        """The device every message goes to. SMSGate refuses a repeated id only on the same
        device (its key is id + device: server `modules/messages/models.go`), so a resend that
        let the server pick a device could go out twice. The secret's `device_id`, else the
        account's only device (`GET /devices`, once per client); with several and none named,
        nothing is sent (name one in the secret)."""
        if self._device is not None:
            return self._device
        try:
            response = self._request("GET", "devices")
        except AmbiguousError as exc:  # a lost answer to a read: still nothing sent
            raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail="device list unanswered") from exc
        if response.status_code == 403:
            raise AuthError("403", _error_text(response),
                            detail="name the device in the secret (device_id) or give the token devices:list")
        if response.status_code != 200:
            raise error_for(response)
        devices = [d for d in (response.json() or []) if isinstance(d, dict) and d.get("id")]
        if len(devices) != 1:
            detail = "no device registered" if not devices else (
                f"{len(devices)} devices and none named in the secret's device_id: a resend could reach another one")
            raise PermanentError(Reason.DEVICE_OFFLINE, "400", detail=detail)
        self._device = str(devices[0]["id"])
        return self._device

    def status(self, provider_message_id: str, *, channel: str = "sms", recipient: str | None = None) -> DeliveryReport:
        response = self._request("GET", f"messages/{provider_message_id}")
        if response.status_code == 404:
            raise PermanentError(Reason.REJECTED, "404", _error_text(response), detail="SMSGate knows no such message")
        if response.status_code != 200:
            raise error_for(response)
        state = MessageState.model_validate(response.json())
        if recipient is not None and len(state.recipients) > 1:
            return _recipient_report(state, recipient)
        status = _STATES.get(state.state, "sending")
        if status != "failed":
            return DeliveryReport(status, state.state)
        errors = "; ".join(r.error for r in state.recipients if r.error) or state.state
        return DeliveryReport("failed", state.state, Reason.REJECTED, errors[:_MAX_RAW])

    def provider_id_for(self, message_id: str) -> str | None:
        return wire_id(message_id)

    def list_id_for(self, message_id: str) -> str | None:
        return list_id(message_id)

    # -- tokens (JWT mode) -----------------------------------------------------------------
    def issue_token(self, scopes: list[str] | None = None, ttl: int | None = None) -> TokenPair:
        """A new token pair (with the Basic credentials when the secret has them, else with
        a JWT holding `tokens:manage`)."""
        body: dict[str, Any] = {"scopes": scopes or self.settings.token_scopes}
        token_ttl = self.settings.token_ttl if ttl is None else ttl
        if token_ttl:
            body["ttl"] = token_ttl
        response = self._request("POST", "auth/token", basic=self.has_basic_credentials, json=body)
        return _token_pair(response)

    def refresh_tokens(self) -> TokenPair:
        """Trade the refresh token for a new pair, used from now on. The old refresh token is
        revoked by the server (a second use is a replay: 401)."""
        if self._tokens.refresh_token is None:
            raise AuthError(detail="no SMSGate refresh token to renew the access token with")
        pair: TokenPair = self._tokens.renew().answer
        return pair

    def _trade_refresh_token(self, refresh: str) -> Grant:
        headers = {**_ACCEPT, "Authorization": f"Bearer {refresh}"}
        response = call(
            self.session, "POST", f"{self._base}/auth/token/refresh", timeout=self._timeout, headers=headers
        )
        pair = _token_pair(response)
        return Grant(pair.access_token.get_secret_value(), refresh=_secret_value(pair.refresh_token), answer=pair)

    def revoke_token(self, jti: str) -> None:
        response = self._request("DELETE", f"auth/token/{jti}", basic=self.has_basic_credentials)
        if not 200 <= response.status_code < 300:
            raise error_for(response)

    def check_credentials(self) -> None:
        """GET /webhooks (scope `webhooks:list`, in the default token scopes): harmless."""
        self.list_webhooks()

    # -- webhooks --------------------------------------------------------------------------
    def register_webhook(self, url: str, event: str, webhook_id: str | None = None) -> dict[str, Any]:
        """Register (or replace, same id) the webhook for one event; answers it as stored."""
        body: dict[str, Any] = {"url": url, "event": event}
        if webhook_id:
            body["id"] = webhook_id
        if self.secret.device_id:
            body["deviceId"] = self.secret.device_id
        response = self._request("POST", "webhooks", json=body)
        if not 200 <= response.status_code < 300:
            raise error_for(response)
        stored: dict[str, Any] = response.json()
        return stored

    def list_webhooks(self) -> list[dict[str, Any]]:
        response = self._request("GET", "webhooks")
        if response.status_code != 200:
            raise error_for(response)
        return list(response.json())

    def delete_webhook(self, webhook_id: str) -> None:
        response = self._request("DELETE", f"webhooks/{webhook_id}")
        if not 200 <= response.status_code < 300:
            raise error_for(response)

    def verify_webhook(self, body: bytes, timestamp: str, signature: str) -> bool:
        """Check a webhook call against the secret's signing key (False without a key)."""
        key = self.secret.webhook_signing_key
        if key is None:
            return False
        return verify_webhook_signature(
            key.get_secret_value(), body, timestamp, signature, max_skew=self.settings.webhook_max_skew
        )


def _recipient_report(state: MessageState, recipient: str) -> DeliveryReport:
    """One recipient's state in a message to several (a hashed number: the first 16 hex
    characters of its SHA-256)."""
    hashed = hashlib.sha256(recipient.encode()).hexdigest()[:16]
    names = {recipient, recipient.lstrip("+"), hashed}
    mine = next((r for r in state.recipients if r.phoneNumber in names), None)
    if mine is None:
        return DeliveryReport("sending", state.state)
    status = _STATES.get(mine.state, "sending")
    if status != "failed":
        return DeliveryReport(status, mine.state)
    return DeliveryReport("failed", mine.state, Reason.REJECTED, (mine.error or mine.state)[:_MAX_RAW])


def _secret_value(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _token_refused(response: requests.Response) -> bool:
    return response.status_code == 401


def _token_pair(response: requests.Response) -> TokenPair:
    if response.status_code == 501:
        raise PermanentError(Reason.REJECTED, "501", _error_text(response), detail="JWT is disabled on this server")
    if not 200 <= response.status_code < 300:
        raise error_for(response)
    try:
        return TokenPair.model_validate(response.json())
    except ValueError:  # not JSON, or no token pair: a ProviderError, its text redacted (never the bare error)
        raise PermanentError(Reason.PROVIDER_UNAVAILABLE, str(response.status_code), _error_text(response),
                             detail="unexpected answer to a token request") from None
