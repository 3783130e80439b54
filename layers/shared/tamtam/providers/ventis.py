"""Ventis Messaging (Gabon): a Keycloak-protected send endpoint.

Wire facts (see docs: providers.md, section 4; the public integration the seed describes,
collecte_taxe `backend/services/ventis_messaging.py`, is quoted as "the integration"):
- token: `POST <token_url>` form-encoded, `grant_type=password` with `client_id`,
  `client_secret` (when the client has one), `username`, `password`; renewal with
  `grant_type=refresh_token`. Wrong user/password -> 401 `invalid_grant`; a dead refresh
  token -> 400 `invalid_grant` ("Token is not active");
- send: `POST <base_url>/message`, `Authorization: Bearer`, JSON
  `{"to": "241…" (digits, no +), "sender", "isOTP": false, "message"}`; the integration sends
  `isOTP` as a JSON boolean (`send_message(is_otp: bool = False)`); another integration sends
  the string "false" "as per documentation" (setting `is_otp_as_string`);
- the answer: plain text `+SUCCESS|<uuid>|<timestamp>` / `-ERROR|<code>|<message>` (what the
  integration's `parse_ventis_response` reads, prefix case-insensitive, `+`/`-` optional), or
  JSON (`{"id"|"uuid"|"messageId"…}` or an error key), which no source shows.

Tokens: the access token is reused until ~90 % of `expires_in` (`token_renew_ratio`, the
integration's own 90 %), then the refresh token is tried, and a fresh login follows when the
refresh is refused. A 401 on a send means the message was not taken: the client gets a new
token and retries once (as the integration's `try_send_with_endpoint` does).

Phone rule (`to`), from the E.164 number:
- default (`keep_leading_zero` unset): the digits as given, without `+` (the integration keeps
  a number that starts with 241 as it is; seed 003: `+2410661234567` -> `2410661234567`);
- `keep_leading_zero=False` (libphonenumber): country code + national significant number, so a
  trunk 0 written into the E.164 form is dropped (`+2410661234567` -> `241661234567`) while a
  number whose own first digit is 0 keeps it (`+24106031234` -> `24106031234`);
- `keep_leading_zero=True` (the seed's national rule `0661234567` -> `2410661234567`): for
  Gabon, `241` + the significant number with a leading 0 added unless it already starts with
  0: `+24166123456` -> `241066123456`. Other countries: country code + significant number.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from pydantic import BaseModel, ConfigDict, SecretStr

from tamtam.env_settings import EnvSettings
from tamtam.observability import logger
from tamtam.providers import http
from tamtam.providers.base import (
    AmbiguousError,
    AuthError,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    Reason,
    SendResult,
    TransientError,
)
from tamtam.providers.tokens import Grant, TokenCache, token_call

DEFAULT_TOKEN_URL = "https://signin.ventis.group/realms/Messaging/protocol/openid-connect/token"  # noqa: S105 - a URL
GABON = 241


class VentisSecret(BaseModel):
    """The provider's Secrets Manager JSON."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    token_url: str = DEFAULT_TOKEN_URL
    base_url: str = "https://messaging.ventis.group/messaging/api/v1"
    client_id: str = "api-messaging"
    client_secret: SecretStr | None = None
    username: str
    password: SecretStr
    sender: str


class VentisSettings(EnvSettings):
    """Tunables, from `TAMTAM_VENTIS_*` environment variables."""

    env_prefix: ClassVar[str] = "TAMTAM_VENTIS_"

    is_otp_as_string: bool = False  # True: "false" (the NestJS integration); default: a JSON boolean
    keep_leading_zero: bool | None = None  # None: digits as given; see the phone rule above
    token_renew_ratio: float = 0.9  # renew at this share of expires_in
    connect_timeout: float = 3.05
    read_timeout: float = 10.0


# --- pure helpers ------------------------------------------------------------------------


_DIGITS = re.compile(r"^[1-9]\d{7,14}$")


def ventis_number(number: str, keep_leading_zero: bool | None = None) -> str:
    """The `to` field for an E.164 number (see the module docstring for the rule)."""
    digits = number.strip().removeprefix("+")
    if keep_leading_zero is None:
        if not _DIGITS.match(digits):
            raise PermanentError(Reason.INVALID_NUMBER, detail="not an international number")
        return digits
    import phonenumbers  # noqa: PLC0415 - only the Ventis sender pays for its import

    try:
        parsed = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException as exc:
        raise PermanentError(Reason.INVALID_NUMBER, detail="not an international number") from exc
    significant = phonenumbers.national_significant_number(parsed)
    if not significant:
        raise PermanentError(Reason.INVALID_NUMBER, detail="no national number")
    if keep_leading_zero and parsed.country_code == GABON and not significant.startswith("0"):
        significant = "0" + significant
    return f"{parsed.country_code}{significant}"


@dataclass(frozen=True)
class VentisAnswer:
    """A send answer: `ok` with the provider's message id, or an error code and text."""

    ok: bool
    message_id: str | None = None
    code: str | None = None
    text: str | None = None


_ID_KEYS = ("id", "uuid", "messageId", "message_id", "messageUuid", "uid")
_ERROR_STATUSES = {"error", "failed", "failure", "ko", "rejected"}


def _json_answer(data: dict[str, Any]) -> VentisAnswer:
    nested = data.get("data")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else {}
    status = str(data.get("status", "")).lower()
    error = data.get("error") or data.get("errors")
    if error or data.get("success") is False or status in _ERROR_STATUSES:
        code = error if isinstance(error, str) else data.get("code") or data.get("errorCode") or status
        text = data.get("message") or data.get("error_description") or data.get("detail")
        if text is None and error and not isinstance(error, str):
            text = json.dumps(error, ensure_ascii=False)
        return VentisAnswer(False, code=str(code) if code else None, text=str(text) if text else None)
    for source in (data, inner):
        for key in _ID_KEYS:
            if source.get(key) not in (None, ""):
                return VentisAnswer(True, message_id=str(source[key]))
    return VentisAnswer(True)


def parse_ventis_answer(body: str) -> VentisAnswer | None:
    """Read `+SUCCESS|<uuid>|<ts>`, `-ERROR|<code>|<msg>` (the prefix case-insensitive, its
    sign optional, as the integration reads it) or JSON; None when unreadable."""
    text = body.strip()
    head, sep, rest = text.partition("|")
    word = head.strip().upper()
    if word in ("+SUCCESS", "SUCCESS"):
        parts = rest.split("|") if sep else []
        return VentisAnswer(True, message_id=(parts[0].strip() or None) if parts else None)
    if word in ("-ERROR", "ERROR"):
        parts = rest.split("|", 1) if sep else []
        code = parts[0].strip() if parts else None
        return VentisAnswer(False, code=code or None, text=parts[1].strip() if len(parts) > 1 else None)
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, str) and data.strip() != text:
        return parse_ventis_answer(data)  # a text answer JSON-encoded as a string
    return _json_answer(data) if isinstance(data, dict) else None


_REASON_WORDS: tuple[tuple[tuple[str, ...], Reason], ...] = (
    (("credit", "balance", "solde", "fund"), Reason.INSUFFICIENT_CREDIT),
    (("sender",), Reason.SENDER_NOT_APPROVED),
    (("number", "phone", "destination", "recipient", "msisdn"), Reason.INVALID_NUMBER),
    (("unauthori", "forbidden", "permission", "denied", "auth"), Reason.AUTH_FAILED),
    (("route", "operator", "offline", "gateway", "unavailable"), Reason.DEVICE_OFFLINE),
    (("endpoint", "not_found", "not found"), Reason.PROVIDER_UNAVAILABLE),
)


def ventis_reason(code: str | None, text: str | None) -> Reason:
    """The reason for a Ventis error code and message: the code decides when it says
    something, the message otherwise."""
    for words in ((code or "").lower(), (text or "").lower()):
        for needles, reason in _REASON_WORDS:
            if any(needle in words for needle in needles):
                return reason
    return Reason.REJECTED


def _token_refused(response: requests.Response) -> bool:
    return response.status_code == 401


def send_result(response: requests.Response) -> SendResult:
    """Map the answer to `POST /message` (any 401 has been dealt with already)."""
    code = response.status_code
    if code >= 500 or code == 429:
        raise TransientError(Reason.PROVIDER_UNAVAILABLE, **http.raw(response))
    answer = parse_ventis_answer(response.text)
    success = 200 <= code < 300
    if answer is None:
        if success and not response.text.strip():
            return SendResult(None, raw_status=str(code))
        if success:
            raise AmbiguousError(
                Reason.PROVIDER_UNAVAILABLE, **http.raw(response), detail="unreadable answer to a send"
            )
        reason = Reason.AUTH_FAILED if code == 403 else Reason.PROVIDER_UNAVAILABLE
        raise PermanentError(reason, **http.raw(response))
    if answer.ok and success:
        return SendResult(answer.message_id, raw_status="SUCCESS")
    if answer.ok:
        raise PermanentError(Reason.PROVIDER_UNAVAILABLE, **http.raw(response), detail="unexpected answer to a send")
    raw_text = "|".join(part for part in (answer.code, answer.text) if part)[:http.RAW_TEXT_MAX]
    raise PermanentError(ventis_reason(answer.code, answer.text), raw_status=str(code), raw_text=raw_text)


# --- the client --------------------------------------------------------------------------


class VentisClient(ProviderClient):
    name = "ventis"

    def __init__(
        self,
        secret: VentisSecret,
        settings: VentisSettings | None = None,
        *,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._secret = secret
        self._settings = settings or VentisSettings.from_env()
        self._session = session or http.make_session()
        self._timeout = (self._settings.connect_timeout, self._settings.read_timeout)
        self._clock = clock
        # No leeway: the limits are already `token_renew_ratio` of the lifetimes.
        self._tokens = TokenCache(login=self._login, refresh=self._refresh, clock=clock)

    @classmethod
    def from_secret(
        cls,
        secret: Mapping[str, Any],
        *,
        settings: VentisSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> VentisClient:
        return cls(VentisSecret.model_validate(dict(secret)), settings, clock=clock)

    def send(self, message: OutboundMessage) -> SendResult:
        if message.channel != "sms":
            raise PermanentError(Reason.REJECTED, detail=f"channel {message.channel!r} not supported")
        is_otp: bool | str = "false" if self._settings.is_otp_as_string else False
        body = {
            "to": ventis_number(message.to, self._settings.keep_leading_zero),
            "sender": message.sender or self._secret.sender,
            "isOTP": is_otp,
            "message": message.text,
        }
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        # A 401 means the message was not taken: a new token, and the message sent once more.
        return send_result(self._tokens.send(lambda access: self._post_message(access, payload), _token_refused))

    def _post_message(self, access: str, payload: bytes) -> requests.Response:
        headers = {"Authorization": f"Bearer {access}", "Content-Type": "application/json; charset=UTF-8"}
        return http.call(
            self._session, "POST", self._secret.base_url.rstrip("/") + "/message",
            timeout=self._timeout, data=payload, headers=headers, allow_redirects=False,
        )

    def check_credentials(self) -> None:
        """A fresh password grant with the stored credentials (never a cached token)."""
        self._tokens.login()

    # tokens: Keycloak's grants (the cache decides when)

    def _token_request(self, fields: dict[str, str]) -> requests.Response:
        fields = {**fields, "client_id": self._secret.client_id}
        client_secret = self._secret.client_secret.get_secret_value() if self._secret.client_secret else ""
        if client_secret.strip():  # an empty secret is no secret (the integration omits it too)
            fields["client_secret"] = client_secret.strip()
        return token_call(
            self._session, "POST", self._secret.token_url, what="the token endpoint", timeout=self._timeout,
            data=fields, allow_redirects=False,
        )

    def _login(self) -> Grant:
        response = self._token_request(
            {
                "grant_type": "password",
                "username": self._secret.username,
                "password": self._secret.password.get_secret_value(),
            }
        )
        if response.status_code in (400, 401, 403):
            raise AuthError(**_keycloak_error(response), detail="token request refused")
        grant = self._grant(response, "the login")
        logger.info("ventis login", extra={"provider": self.name})
        return grant

    def _refresh(self, refresh: str) -> Grant | None:
        """A new access token, or None when the refresh is refused (log in again)."""
        response = self._token_request({"grant_type": "refresh_token", "refresh_token": refresh})
        if response.status_code in (400, 401, 403):
            logger.info("ventis refresh refused", extra={"provider": self.name, **_keycloak_error(response)})
            return None
        return self._grant(response, "the token refresh")

    def _grant(self, response: requests.Response, what: str) -> Grant:
        """The tokens of a Keycloak answer, each used until `token_renew_ratio` of its lifetime."""
        body = http.json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            raise http.unexpected(response, what)
        now, ratio = self._clock(), self._settings.token_renew_ratio
        lifetime = _seconds(body.get("refresh_expires_in"), 0.0)
        return Grant(
            body["access_token"],
            now + ratio * _seconds(body.get("expires_in"), 60.0),
            body.get("refresh_token") or None,
            # Keycloak says 0 for refresh tokens that do not expire (offline tokens).
            now + ratio * lifetime if lifetime > 0 else math.inf,
        )


def _seconds(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _keycloak_error(response: requests.Response) -> dict[str, str]:
    """raw_status/raw_text for a Keycloak error body (`error`, `error_description`)."""
    body = http.json_or_none(response)
    if isinstance(body, dict) and body.get("error"):
        text = f"{body['error']}: {body.get('error_description', '')}".strip(": ")
        return {"raw_status": str(response.status_code), "raw_text": text[:http.RAW_TEXT_MAX]}
    return http.raw(response)
