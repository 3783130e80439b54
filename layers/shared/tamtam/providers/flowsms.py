"""FLOW SMS: a Django REST framework API behind simplejwt tokens.

Wire facts (see docs: providers.md, section 3):
- `POST token/` `{"username","password"}` -> `{"access","refresh"}`; wrong credentials -> 401;
- `POST token/refresh/` `{"refresh"}` -> `{"access"}` (plus a new `refresh` when the server
  rotates them); a dead refresh token -> 401 `{"code":"token_not_valid"}`;
- `POST send-sms/` with `Authorization: Bearer <access>` and
  `{"sender_id","message","phone_numbers":[E.164]}`; every path keeps its trailing slash
  (Django cannot redirect a POST to the slashed path).

Tokens live in memory. The access token is used until shortly before the `exp` read from its
own payload (no signature check: we only need to know when to renew it); then the refresh
token buys a new one; when the refresh token is dead too, the client logs in again. A refused
token on a send means the provider did not take the message, so the client renews once and
retries. "Refused token" is a 401, or a 403 carrying an authentication error: DRF turns a 401
into a 403 when the view's first authentication class has no `WWW-Authenticate` header
(`rest_framework/views.py` `APIView.handle_exception`), as when FLOW lists
SessionAuthentication first; the body is then still simplejwt's (`code: token_not_valid`,
`rest_framework_simplejwt/authentication.py`) or DRF's NotAuthenticated / AuthenticationFailed
detail (`rest_framework/exceptions.py`).

Error answers handled (all from the library sources): 401/403 auth bodies as above; 400
`{field: [messages]}`, `{"phone_numbers": {"<index>": [...]}}` (ListField), `{"non_field_errors":
[...]}` and `{"detail": "JSON parse error - ..."}`; 404/500 Django HTML pages
(`django/views/defaults.py`); 405 and 429 `{"detail": ...}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from tamtam.env_settings import EnvSettings
from tamtam.observability import logger
from tamtam.providers import http
from tamtam.providers.base import (
    AmbiguousError,
    AuthError,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    ProviderError,
    Reason,
    SendResult,
)
from tamtam.providers.tokens import Grant, TokenCache, token_call


class FlowSmsSecret(BaseModel):
    """The provider's Secrets Manager JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    base_url: str = "https://votredomaine.com/campaigns/api/"
    username: str
    password: SecretStr
    sender_id: str

    @field_validator("base_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class FlowSmsSettings(EnvSettings):
    """Tunables, from `TAMTAM_FLOWSMS_*` environment variables."""

    env_prefix: ClassVar[str] = "TAMTAM_FLOWSMS_"

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    token_leeway: float = 30.0  # renew a token this many seconds before its exp
    fallback_access_lifetime: float = 300.0  # when the access token's exp cannot be read
    fallback_refresh_lifetime: float = 86400.0  # the same for the refresh token


# --- pure helpers ------------------------------------------------------------------------


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT (seconds since the epoch), read without checking the
    signature; None when the token is not a readable JWT or has no numeric `exp`."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        return None
    return float(exp)


def _lower_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).lower() if value is not None else ""


def text_reason(text: str) -> Reason:
    """A reason for a free-text refusal (non-field errors, failed messages)."""
    if any(word in text for word in ("credit", "balance", "solde", "insufficient")):
        return Reason.INSUFFICIENT_CREDIT
    if "sender" in text:
        return Reason.SENDER_NOT_APPROVED
    if any(word in text for word in ("phone", "number", "numéro", "recipient")):
        return Reason.INVALID_NUMBER
    if any(word in text for word in ("gateway", "route", "offline", "unreachable", "operator")):
        return Reason.DEVICE_OFFLINE
    return Reason.REJECTED


def failure_text(failed_messages: Any) -> str:
    """The error words of `failed_messages` items (their shape is unknown: strings, or
    objects with an error-ish key), lower-cased; phone numbers and ids are left out."""
    items = failed_messages if isinstance(failed_messages, list) else [failed_messages]
    words: list[str] = []
    for item in items:
        if isinstance(item, str):
            words.append(item)
        elif isinstance(item, dict):
            keys = ("error", "error_description", "reason", "message", "detail", "status")
            words.extend(str(item[key]) for key in keys if item.get(key))
    return " ".join(words).lower()


def field_errors_reason(body: Any) -> Reason:
    """The reason for a DRF 400 body `{field: [messages]}` (or `non_field_errors`)."""
    if not isinstance(body, dict):
        return Reason.REJECTED
    if "phone_numbers" in body:
        return Reason.INVALID_NUMBER
    if "sender_id" in body:
        return Reason.SENDER_NOT_APPROVED
    return text_reason(_lower_text(body.get("non_field_errors") or body.get("detail") or body))


def provider_message_id(body: Mapping[str, Any]) -> str | None:
    """`messages[0].message_id`, else `messages[0].id`, else `campaign_id`."""
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    candidates = (first.get("message_id"), first.get("id")) if isinstance(first, dict) else ()
    for value in (*candidates, body.get("campaign_id")):
        if value not in (None, ""):
            return str(value)
    return None


def _number(to: str) -> str:
    return "+" + to.strip().lstrip("+")


def recipient_result(body: Any, number: str) -> SendResult | ProviderError:
    """One recipient's answer in a campaign answer: its `messages[]` item (taken), its
    `failed_messages` item (refused; that shape is unknown: an item naming the number), or
    nothing about it at all (the request was taken, this number's fate unknown: ambiguous)."""
    digits = number.lstrip("+")
    items = body.get("messages") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else []:
        contact = item.get("contact") if isinstance(item, dict) else None
        phone = (
            str((contact or {}).get("phone_number") or item.get("phone_number") or "") if isinstance(item, dict) else ""
        )
        if phone.lstrip("+") == digits:
            return SendResult(provider_message_id({"messages": [item]}), raw_status=str(item.get("status") or "sent"))
    failed = body.get("failed_messages") if isinstance(body, dict) else None
    for item in failed if isinstance(failed, list) else []:
        if digits in json.dumps(item, ensure_ascii=False):
            return PermanentError(
                text_reason(failure_text([item])), raw_text=str(failure_text([item]))[: http.RAW_TEXT_MAX]
            )
    return AmbiguousError(Reason.PROVIDER_UNAVAILABLE, detail="the campaign answer says nothing of this recipient")


# simplejwt's codes (authentication.py, exceptions.py) and DRF's default details for the
# NotAuthenticated and AuthenticationFailed exceptions (rest_framework/exceptions.py).
_AUTH_CODES = frozenset(
    {"token_not_valid", "bad_authorization_header", "authentication_failed", "user_not_found", "user_inactive",
     "password_changed"}
)
_AUTH_DETAILS = frozenset({"Authentication credentials were not provided.", "Incorrect authentication credentials."})


def token_refused(response: requests.Response) -> bool:
    """True when a protected call was refused for its credentials (a 401, or a 403 whose body is
    an authentication error rather than a permission one)."""
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    body = http.json_or_none(response)
    return isinstance(body, dict) and (body.get("code") in _AUTH_CODES or body.get("detail") in _AUTH_DETAILS)


def send_result(response: requests.Response) -> SendResult:
    """Map the answer to `send-sms/` (a refused token has been dealt with already)."""
    code = response.status_code
    body = http.json_or_none(response)
    if code in (200, 201, 202):
        if not isinstance(body, dict):
            raise AmbiguousError(
                Reason.PROVIDER_UNAVAILABLE, **http.raw(response), detail="unreadable answer to a send"
            )
        failed = body.get("success") is False or (not body.get("messages_sent") and body.get("messages_failed"))
        if failed:
            raise PermanentError(text_reason(failure_text(body.get("failed_messages"))), **http.raw(response))
        messages = body.get("messages")
        first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
        return SendResult(provider_message_id(body), raw_status=first.get("status") or "sent")
    if code == 400:
        raise PermanentError(field_errors_reason(body), **http.raw(response))
    if code == 402:
        raise PermanentError(Reason.INSUFFICIENT_CREDIT, **http.raw(response))
    if code == 403:
        reason = Reason.SENDER_NOT_APPROVED if "sender" in response.text.lower() else Reason.AUTH_FAILED
        raise PermanentError(reason, **http.raw(response))
    raise http.unexpected(response, "a send")


# --- the client --------------------------------------------------------------------------


class FlowSmsClient(ProviderClient):
    name = "flowsms"

    def __init__(
        self,
        secret: FlowSmsSecret,
        settings: FlowSmsSettings | None = None,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._secret = secret
        self._settings = settings or FlowSmsSettings.from_env()
        self._session = session or http.make_session()
        self._timeout = (self._settings.connect_timeout, self._settings.read_timeout)
        self._clock = clock
        self._tokens = TokenCache(login=self._login, refresh=self._refresh, clock=clock,
                                  leeway=self._settings.token_leeway)

    @classmethod
    def from_secret(
        cls,
        secret: Mapping[str, Any],
        *,
        settings: FlowSmsSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> FlowSmsClient:
        return cls(FlowSmsSecret.model_validate(dict(secret)), settings, clock=clock)

    def send(self, message: OutboundMessage) -> SendResult:
        return send_result(self._send_campaign([message]))

    def send_list(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ProviderError]:
        """One `send-sms/` call with every recipient in `phone_numbers` (one text, one sender);
        each recipient's answer from its `messages[]` item (seed 002: one per number)."""
        if not messages or len({(m.text, m.sender, m.channel) for m in messages}) != 1:
            raise ValueError("a FLOW list is one text to one or more recipients")
        response = self._send_campaign(list(messages))
        send_result(response)  # a refusal of the whole request raises here
        body = http.json_or_none(response)
        return [recipient_result(body, _number(m.to)) for m in messages]

    def _send_campaign(self, messages: list[OutboundMessage]) -> requests.Response:
        first = messages[0]
        if first.channel != "sms":
            raise PermanentError(Reason.REJECTED, detail=f"channel {first.channel!r} not supported")
        body = {
            "sender_id": first.sender or self._secret.sender_id,
            "message": first.text,
            "phone_numbers": [_number(m.to) for m in messages],
        }
        # A refused token means the message was not taken: renewed, and sent once more.
        return self._tokens.send(lambda access: self._post_send(access, body), token_refused)

    def _post_send(self, access: str, body: dict[str, Any]) -> requests.Response:
        return http.call(
            self._session, "POST", self._secret.base_url + "send-sms/", timeout=self._timeout,
            json=body, headers={"Authorization": f"Bearer {access}"}, allow_redirects=False,
        )

    def check_credentials(self) -> None:
        """A fresh login with the stored username and password (never a cached token)."""
        self._tokens.login()

    # tokens: how FLOW logs in and refreshes (the cache decides when)

    def _token_call(self, path: str, body: dict[str, str]) -> requests.Response:
        return token_call(
            self._session, "POST", self._secret.base_url + path, what=path, timeout=self._timeout,
            json=body, allow_redirects=False,
        )

    def _login(self) -> Grant:
        password = self._secret.password.get_secret_value()
        response = self._token_call("token/", {"username": self._secret.username, "password": password})
        body = http.json_or_none(response)
        if response.status_code in (400, 401, 403):
            raise AuthError(**http.raw(response), detail="login refused")
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access"):
            raise http.unexpected(response, "the login")
        logger.info("flowsms login", extra={"provider": self.name})
        return self._grant(body["access"], body.get("refresh"))

    def _refresh(self, refresh: str) -> Grant | None:
        """A new access token, or None when the refresh token is dead (log in again)."""
        response = self._token_call("token/refresh/", {"refresh": refresh})
        body = http.json_or_none(response)
        if response.status_code in (400, 401, 403):
            logger.info("flowsms refresh token refused", extra={"provider": self.name})
            return None
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access"):
            raise http.unexpected(response, "the token refresh")
        return self._grant(body["access"], body.get("refresh"))

    def _grant(self, access: str, refresh: str | None) -> Grant:
        """The limits FLOW's tokens carry (their `exp`), or the fallback lifetimes; a refresh
        token the client holds already keeps its own limit."""
        now, settings = self._clock(), self._settings
        access_until = jwt_expiry(access) or now + settings.fallback_access_lifetime
        if not refresh or refresh == self._tokens.refresh_token:
            return Grant(access, access_until)
        return Grant(access, access_until, refresh, jwt_expiry(refresh) or now + settings.fallback_refresh_lifetime)
