"""PasseInfo (passinfo-sdk wire protocol, docs/providers.md section 1).

Static `Api-Key` + `Client-Id` headers, JSON bodies. The official SDK (`client.py`
`_make_request`) returns `response.json()` whatever the HTTP status, so an error answered 200
looks like any other dict to it. This client decides from the body instead:

- a send succeeded only when `status` is a success word (README: `{"status": "success",
  "message": "123"}`) and the answer names a message id (`message_id`, the docstring's key, or
  `message`, the README's); a success word without an id, or a 2xx answer that cannot be read
  (not JSON, or no `status` at all), is ambiguous: the provider may hold the message;
- any other answer is an error: `status` not a success word (the failure word is not
  documented), `success: false` (the key `models.py` reads), or a 4xx/5xx status. The HTTP
  status then only sharpens the kind (401/403 credentials, 429/5xx transient), and the words of
  `message` give the reason (the real error texts are not documented).

What the docs leave open (phone format, renew method and answer key, the success words) is a
setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tamtam.env_settings import EnvSettings
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
# get_single_status: "pending|sent|failed|delivered" (client.py get_message_status docstring).
_STATUSES = {"pending": "sending", "sent": "sent", "delivered": "delivered", "failed": "failed"}
_MAX_RAW = 300


class PasseInfoSecret(BaseModel):
    """The provider secret's JSON (hidden from validation errors: their text would quote it)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    base_url: str = "https://api.passinfo.net"
    client_id: str
    api_key: SecretStr


class PasseInfoSettings(EnvSettings):
    """Non-secret client settings (environment, prefix `TAMTAM_PASSEINFO_`)."""

    env_prefix: ClassVar[str] = "TAMTAM_PASSEINFO_"

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    # "national": 622000001 (the npm SDK: "without +224"); "international_digits": 224622000001.
    phone_format: Literal["national", "international_digits"] = "national"
    # GET: the SDK's only working renewal (models.py PassInfoAPI.renew_api_key); POST with `{}`:
    # the npm SDK and the client.py docstring (whose own POST call never goes out).
    renew_method: Literal["GET", "POST"] = "GET"
    # The renew answer's key: models.py says new_api_key, the README api_key. First found wins.
    renew_response_keys: list[str] = Field(default_factory=lambda: ["new_api_key", "api_key"])
    # `status` words meaning success (README: "success"; nothing else is documented).
    success_words: list[str] = Field(default_factory=lambda: ["success"])
    # senderName is mandatory on the wire; used when a message names no sender.
    default_sender: str = "TAMTAM"


@lru_cache(maxsize=1)
def passeinfo_settings() -> PasseInfoSettings:
    return PasseInfoSettings.from_env()


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


# --- reading answers ---------------------------------------------------------------------


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


def _word(body: dict[str, Any]) -> str:
    return str(body.get("status", "")).strip().lower()


def _ok(response: requests.Response) -> bool:
    return 200 <= response.status_code < 300


def says_failure(response: requests.Response, body: Any, success_words: list[str] | None = None) -> bool:
    """True when the answer reports an error: a 4xx/5xx status, `success: false`, or (when
    `success_words` is given: a send, a renewal) a `status` word that is not one of them."""
    if not _ok(response) or not isinstance(body, dict) or body.get("success") is False:
        return True
    if success_words is None:
        return _word(body) in ("error", "failure", "fail")
    return "status" in body and _word(body) not in {w.lower() for w in success_words}


def answer_error(response: requests.Response, body: Any) -> ProviderError:
    """The error an answer that says failure (or cannot be read) means."""
    status, raw_status = response.status_code, str(response.status_code)
    text = (body.get("message") or body.get("error") or body.get("detail") or "") if isinstance(body, dict) else ""
    text = str(text)[:_MAX_RAW] if text else response.text[:_MAX_RAW]
    if status in (401, 403):
        return AuthError(raw_status, text)
    if status == 429 or status >= 500:
        return TransientError(Reason.PROVIDER_UNAVAILABLE, raw_status, text)
    if not isinstance(body, dict):  # an HTML error page, a proxy's answer: not the API speaking
        return PermanentError(Reason.PROVIDER_UNAVAILABLE, raw_status, text, detail="answer is not the API's JSON")
    if status == 402:
        return PermanentError(Reason.INSUFFICIENT_CREDIT, raw_status, text)
    if status != 404 and _AUTH_WORDS.search(text) and not _CREDIT_WORDS.search(text):
        return AuthError(raw_status, text)
    return PermanentError(_reason_from_text(text), raw_status, text)


def message_id_of(body: Mapping[str, Any]) -> str | None:
    """`message_id` (docstring), else `message` (README) when it holds an id, not prose."""
    for key in ("message_id", "message"):
        value = body.get(key)
        if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
            continue
        text = str(value).strip()
        if text and not any(ch.isspace() for ch in text):
            return text
    return None


def read_send(response: requests.Response, success_words: list[str], *, needs_id: bool = True) -> dict[str, Any]:
    """The body of a send answer that is a success (with a message id when `needs_id`), or
    the error it means; AmbiguousError when the provider may have taken the message."""
    body = _json(response)
    says_something = isinstance(body, dict) and ("status" in body or body.get("success") is False)
    if _ok(response) and not says_something:
        raise AmbiguousError(
            Reason.PROVIDER_UNAVAILABLE, str(response.status_code), response.text[:_MAX_RAW],
            detail="unreadable answer to a send",
        )
    if says_failure(response, body, success_words):
        raise answer_error(response, body)
    if needs_id and message_id_of(body) is None:
        raise AmbiguousError(
            Reason.PROVIDER_UNAVAILABLE, str(response.status_code), response.text[:_MAX_RAW],
            detail="success answer without a message id",
        )
    answer: dict[str, Any] = body  # says_failure() is True for anything but a JSON object
    return answer


def read_answer(
    response: requests.Response, success_words: list[str] | None = None, *, changes_state: bool = False
) -> dict[str, Any]:
    """The body of a non-send answer (status query, balance, renewal), or the error it means.
    A 2xx answer that cannot be read is transient (ask again), except for a call that changes
    state (the renewal): the key may have changed, so it is ambiguous, and its text is never
    repeated (it may be the new key)."""
    body = _json(response)
    if _ok(response) and not isinstance(body, dict):
        if changes_state:
            raise AmbiguousError(Reason.PROVIDER_UNAVAILABLE, str(response.status_code), detail="unreadable answer")
        raise TransientError(
            Reason.PROVIDER_UNAVAILABLE, str(response.status_code), response.text[:_MAX_RAW],
            detail="answer is not JSON",
        )
    if says_failure(response, body, success_words):
        raise answer_error(response, body)
    answer: dict[str, Any] = body  # says_failure() is True for anything but a JSON object
    return answer


# --- the client --------------------------------------------------------------------------


class PasseInfoClient(ProviderClient):
    name = "passeinfo"

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

    def _request(self, method: str, path: str, json_body: Any = None) -> requests.Response:
        headers = {
            "Api-Key": self.secret.api_key.get_secret_value(),
            "Client-Id": self.secret.client_id,
            "Accept": "application/json",
        }
        return call(
            self.session, method, f"{self._base}/v1/{path}", timeout=self._timeout, headers=headers, json=json_body
        )

    def send(self, message: OutboundMessage) -> SendResult:
        if message.group_id is not None:
            return self.send_group(message.group_id, message.text, message.sender)
        body = {
            "message": message.text,
            "contact": format_contact(message.to, self.settings.phone_format),
            "senderName": message.sender or self.settings.default_sender,
        }
        answer = read_send(self._request("POST", "message/single_message", body), self.settings.success_words)
        return SendResult(message_id_of(answer), str(answer.get("status")))

    def send_group(self, group_id: str, text: str, sender: str | None = None) -> SendResult:
        """One message to every member of a PasseInfo group (`send_message_to_group`). The
        answer carries no message id: `{"status", "group_size", "messages_queued"}`."""
        if not group_id or not re.fullmatch(r"[A-Za-z0-9_-]+", group_id):
            raise PermanentError(Reason.REJECTED, detail="not a PasseInfo group id")
        body = {"message": text, "senderName": sender or self.settings.default_sender}
        response = self._request("POST", f"message/send_message_to_group/{group_id}", body)
        answer = read_send(response, self.settings.success_words, needs_id=False)
        return SendResult(None, f"group_size={answer.get('group_size')} queued={answer.get('messages_queued')}")

    def status(
        self, provider_message_id: str, *, channel: str = "sms", recipient: str | None = None
    ) -> DeliveryReport:
        answer = read_answer(self._request("GET", f"message/get_single_status/{provider_message_id}"))
        raw = _word(answer)
        error_text = answer.get("error_message")
        status = _STATUSES.get(raw, "sending")  # an unknown word: still with the provider
        reason = _reason_from_text(str(error_text or "")) if status == "failed" else None
        return DeliveryReport(status, raw, reason, str(error_text)[:_MAX_RAW] if error_text else None)

    def balance(self) -> float | None:
        answer = read_answer(self._request("GET", "user/get_solde"))
        solde = answer.get("solde")
        try:
            return float(solde) if solde is not None and not isinstance(solde, bool) else None
        except (TypeError, ValueError):
            return None

    def check_credentials(self) -> None:
        self.balance()  # GET user/get_solde: a refused key is an error answer, whatever its HTTP status

    def renew_api_key(self) -> str:
        """Ask for a new key; this client uses it from now on. The old key may stop working at
        once (the docstring's claim), so the caller must store the returned key right away.
        GET by default (models.py, the SDK's only path that sends anything); POST with `{}` as
        the npm SDK does when `renew_method` says so."""
        method = self.settings.renew_method
        response = self._request(method, "user/renew_api_key", {} if method == "POST" else None)
        answer = read_answer(response, self.settings.success_words, changes_state=True)
        for key in self.settings.renew_response_keys:
            value = answer.get(key)
            if isinstance(value, str) and value:
                self.secret = self.secret.model_copy(update={"api_key": SecretStr(value)})
                return value
        # Never echo the body: it may hold the key under a name we did not expect.
        raise PermanentError(
            Reason.REJECTED,
            detail=f"renew answer has none of {self.settings.renew_response_keys}; keys: {sorted(answer)}",
        )
