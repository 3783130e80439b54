"""PasseInfo (passinfo-sdk wire protocol, docs/providers.md section 1).

Static `Api-Key` + `Client-Id` headers, JSON bodies. The SDK never looks at the HTTP status;
this client does, and also reads the body, since the real error shapes are unknown: an
answer is classified by its status first, then by the words of its `message`.
What the docs leave open (phone format, renew method and answer key) is a setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tamtam.providers.base import (
    AuthError,
    DeliveryReport,
    OutboundMessage,
    PermanentError,
    ProviderClient,
    Reason,
    SendResult,
    TransientError,
)
from tamtam.providers.http import call, make_session

GUINEA_PREFIX = "+224"
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_AUTH_WORDS = re.compile(
    r"(invalid|wrong|bad|unknown|expired|revoked)\W+(api\W?)?key|api\W?key\W+(is\W+)?(invalid|wrong|expired|revoked)"
    r"|(invalid|wrong|unknown)\W+client|unauthori[sz]ed|forbidden|authenticat",
    re.I,
)
_CREDIT_WORDS = re.compile(r"balance|solde|credit|crédit|insufficient|insuffisant", re.I)
_NUMBER_WORDS = re.compile(r"contact|phone|number|numéro|numero|recipient", re.I)
_SENDER_WORDS = re.compile(r"sender", re.I)
_STATUSES = {"pending": "sending", "sent": "sent", "delivered": "delivered", "failed": "failed"}
_MAX_RAW = 300


class PasseInfoSecret(BaseModel):
    """The provider secret's JSON."""

    model_config = ConfigDict(extra="ignore")

    base_url: str = "https://api.passinfo.net"
    client_id: str
    api_key: SecretStr


class PasseInfoSettings(BaseSettings):
    """Non-secret client settings (environment, prefix `TAMTAM_PASSEINFO_`)."""

    model_config = SettingsConfigDict(env_prefix="TAMTAM_PASSEINFO_")

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    # "national": 622000001 (the npm SDK: "without +224"); "international_digits": 224622000001.
    phone_format: Literal["national", "international_digits"] = "national"
    renew_method: Literal["POST", "GET"] = "POST"
    # The renew answer's key: models.py says new_api_key, the README api_key. First found wins.
    renew_response_keys: list[str] = Field(default_factory=lambda: ["new_api_key", "api_key"])
    # senderName is mandatory on the wire; used when a message names no sender.
    default_sender: str = "TAMTAM"


@lru_cache(maxsize=1)
def passeinfo_settings() -> PasseInfoSettings:
    return PasseInfoSettings()


def format_contact(e164: str, phone_format: str) -> str:
    """`+224622000001` -> `622000001` (national) or `224622000001` (international_digits).
    National form exists only for Guinea numbers: any other number is refused."""
    if not _E164.match(e164):
        raise PermanentError(Reason.INVALID_NUMBER, detail="recipient is not an E.164 number")
    if phone_format == "international_digits":
        return e164[1:]
    if not e164.startswith(GUINEA_PREFIX):
        raise PermanentError(Reason.INVALID_NUMBER, detail="PasseInfo national contacts are Guinea (+224) numbers")
    return e164[len(GUINEA_PREFIX) :]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _reason_from_text(text: str) -> Reason:
    if _CREDIT_WORDS.search(text):
        return Reason.INSUFFICIENT_CREDIT
    if _SENDER_WORDS.search(text):
        return Reason.SENDER_NOT_APPROVED
    if _NUMBER_WORDS.search(text):
        return Reason.INVALID_NUMBER
    return Reason.REJECTED


def check_answer(response: requests.Response) -> dict[str, Any]:
    """The JSON body of a successful answer, or the error this answer means."""
    status, body = response.status_code, _json(response)
    raw_status = str(status)
    text = (body.get("message") or body.get("error") or "") if isinstance(body, dict) else ""
    text = str(text)[:_MAX_RAW] if text else response.text[:_MAX_RAW]
    if status in (401, 403):
        raise AuthError(raw_status, text)
    if status == 429 or status >= 500:
        raise TransientError(Reason.PROVIDER_UNAVAILABLE, raw_status, text)
    if status == 402:
        raise PermanentError(Reason.INSUFFICIENT_CREDIT, raw_status, text)
    # "status" is "success"/"error" on sends, but the message state on status queries.
    failed = (
        not isinstance(body, dict)
        or status >= 300
        or str(body.get("status", "")).lower() == "error"
        or body.get("success") is False
    )
    if not failed:
        return body
    if not isinstance(body, dict):
        raise PermanentError(Reason.REJECTED, raw_status, text, detail="answer is not JSON")
    if status != 404 and _AUTH_WORDS.search(text) and not _CREDIT_WORDS.search(text):
        raise AuthError(raw_status, text)
    raise PermanentError(_reason_from_text(text), raw_status, text)


class PasseInfoClient(ProviderClient):
    name = "passeinfo"
    answers_status_queries = True
    sends_to_groups = True

    def __init__(
        self,
        secret: PasseInfoSecret,
        settings: PasseInfoSettings | None = None,
        session: requests.Session | None = None,
    ):
        self.secret = secret
        self.settings = settings or passeinfo_settings()
        self.session = session or make_session()
        self._base = secret.base_url.rstrip("/")
        self._timeout = (self.settings.connect_timeout, self.settings.read_timeout)

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> PasseInfoClient:
        return cls(PasseInfoSecret.model_validate(secret))

    def _request(self, method: str, path: str, json_body: Any = None) -> dict[str, Any]:
        headers = {
            "Api-Key": self.secret.api_key.get_secret_value(),
            "Client-Id": self.secret.client_id,
            "Accept": "application/json",
        }
        response = call(
            self.session, method, f"{self._base}/v1/{path}", timeout=self._timeout, headers=headers, json=json_body
        )
        return check_answer(response)

    def send(self, message: OutboundMessage) -> SendResult:
        if message.group_id is not None:
            return self.send_group(message.group_id, message.text, message.sender)
        body = {
            "message": message.text,
            "contact": format_contact(message.to, self.settings.phone_format),
            "senderName": message.sender or self.settings.default_sender,
        }
        answer = self._request("POST", "message/single_message", body)
        provider_id = answer.get("message_id") or answer.get("message")
        if provider_id is not None and (not str(provider_id).strip() or " " in str(provider_id).strip()):
            provider_id = None  # "message" holding prose ("Message sent") rather than the id
        return SendResult(str(provider_id).strip() if provider_id is not None else None, str(answer.get("status")))

    def send_group(self, group_id: str, text: str, sender: str | None = None) -> SendResult:
        """One message to every member of a PasseInfo group (`send_message_to_group`). The
        answer carries no message id: `{"status", "group_size", "messages_queued"}`."""
        if not group_id or not re.fullmatch(r"[A-Za-z0-9_-]+", group_id):
            raise PermanentError(Reason.REJECTED, detail="not a PasseInfo group id")
        body = {"message": text, "senderName": sender or self.settings.default_sender}
        answer = self._request("POST", f"message/send_message_to_group/{group_id}", body)
        return SendResult(None, f"group_size={answer.get('group_size')} queued={answer.get('messages_queued')}")

    def status(self, provider_message_id: str) -> DeliveryReport:
        answer = self._request("GET", f"message/get_single_status/{provider_message_id}")
        raw = str(answer.get("status", "")).lower()
        error_text = answer.get("error_message")
        status = _STATUSES.get(raw, "sending")  # an unknown word: still with the provider
        reason = _reason_from_text(str(error_text or "")) if status == "failed" else None
        return DeliveryReport(status, raw, reason, str(error_text)[:_MAX_RAW] if error_text else None)

    def balance(self) -> float | None:
        answer = self._request("GET", "user/get_solde")
        solde = answer.get("solde")
        try:
            return float(solde) if solde is not None else None
        except (TypeError, ValueError):
            return None

    def check_credentials(self) -> None:
        self.balance()  # GET user/get_solde: 401 on a refused key

    def renew_api_key(self) -> str:
        """Ask for a new key; this client uses it from now on. The old key may stop working at
        once (the docstring's claim), so the caller must store the returned key right away."""
        body = {} if self.settings.renew_method == "POST" else None
        answer = self._request(self.settings.renew_method, "user/renew_api_key", body)
        for key in self.settings.renew_response_keys:
            value = answer.get(key)
            if isinstance(value, str) and value:
                self.secret = self.secret.model_copy(update={"api_key": SecretStr(value)})
                return value
        # Never echo the body: it may hold the key under a name we did not expect.
        raise PermanentError(
            Reason.REJECTED, detail=f"renew answer has none of {self.settings.renew_response_keys}; keys: {sorted(answer)}"
        )
