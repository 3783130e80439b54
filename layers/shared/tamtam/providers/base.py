"""The one interface every provider client implements, and the errors it raises.

A client turns an `OutboundMessage` into one provider HTTP call and answers with a
`SendResult`, or raises one of the errors below. The sender decides what to do with each
error kind; clients never retry sends themselves (token renewal on a 401 is the exception:
that retry happens before the provider could have taken the message).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from tamtam.redact import redact


class Reason(StrEnum):
    """Stable failure reason codes, the same for every provider."""

    INVALID_NUMBER = "invalid_number"
    INSUFFICIENT_CREDIT = "insufficient_credit"
    AUTH_FAILED = "auth_failed"
    SENDER_NOT_APPROVED = "sender_not_approved"
    DEVICE_OFFLINE = "device_offline"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    TIMEOUT = "timeout"
    REJECTED = "rejected"


# Reasons that say something about the provider, not the recipient: a message failing with
# one of these may fail over to the next provider of its route.
PROVIDER_SIDE_REASONS = frozenset(
    {
        Reason.INSUFFICIENT_CREDIT,
        Reason.AUTH_FAILED,
        Reason.SENDER_NOT_APPROVED,
        Reason.DEVICE_OFFLINE,
        Reason.PROVIDER_UNAVAILABLE,
    }
)


@dataclass(frozen=True)
class OutboundMessage:
    """What the gateway asks a provider to send. `to` is always E.164 (`+224622000001`);
    each client formats it the way its provider wants."""

    message_id: str
    to: str
    text: str
    sender: str | None = None
    channel: str = "sms"  # "sms" or "whatsapp"
    # A provider-side group (PasseInfo group id, Message Pro group ids): one call reaches every
    # member, `to` is then only a label. Only the providers whose registry capabilities say
    # `groups` honour it.
    group_id: str | None = None
    # The id the provider is to know the message by, when the gateway chose it earlier (the
    # list request a recipient was dispatched in): a provider that refuses duplicate ids then
    # recognises a resend.
    provider_id: str | None = None


@dataclass(frozen=True)
class SendResult:
    """The provider took the message. `provider_message_id` may be None when the provider
    returns no id (old Zender versions)."""

    provider_message_id: str | None
    raw_status: str | None = None


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's answer to a status query, mapped to the gateway lifecycle.

    `status` is one of: "sending", "sent", "delivered", "failed" ("sending" when the
    provider still holds it). `raw_status` is the provider's own word for it.
    """

    status: str
    raw_status: str
    reason: Reason | None = None
    raw_text: str | None = None
    # The provider will say nothing more about it: a "sent" is then the message's final status
    # (Zender reports no delivery for WhatsApp chats, nor for SMS through a credits gateway).
    final: bool = False


@dataclass
class ProviderError(Exception):
    """Base of every client error. `raw_status`/`raw_text` keep the provider's own words
    (never a credential: `raw_text` is redacted here, once for every sink it reaches, the
    stored attempts, logs and a Lambda's error report alike)."""

    reason: Reason
    raw_status: str | None = None
    raw_text: str | None = None
    detail: str = field(default="")

    def __post_init__(self) -> None:
        self.raw_text = redact(self.raw_text)

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail or self.raw_text or self.raw_status or ''}"

    def log_keys(self) -> dict[str, Any]:
        """What a log line may say of this error (tamtam.redact.error_keys): its reason, the
        provider's status and its words, redacted."""
        return {"reason": self.reason.value, "raw_status": self.raw_status, "raw_text": redact(self.raw_text),
                "detail": redact(self.detail) or None}


class TransientError(ProviderError):
    """The provider certainly did not take the message (an error answer such as 5xx or
    429, a refused connection, a connect timeout). Safe to retry."""


class PermanentError(ProviderError):
    """The provider refused the message for good; `reason` says why."""


class AuthError(PermanentError):
    """Credentials refused (after any token renewal the client does itself). The caller
    may refetch the secret once and try again."""

    def __init__(self, raw_status: str | None = None, raw_text: str | None = None, detail: str = ""):
        super().__init__(Reason.AUTH_FAILED, raw_status, raw_text, detail)


class AmbiguousError(ProviderError):
    """The request went out but no answer came back (a read timeout, a dropped connection
    after sending): the provider may or may not have taken the message."""


class DuplicateError(ProviderError):
    """The provider already holds a message with our id (SMSGate answers 409): the earlier
    attempt went through, so this one counts as sent."""


class ProviderClient(ABC):
    """One provider's HTTP API. Instances are cached per warm Lambda (tokens live in memory)."""

    # What the provider can do (reports, duplicate ids, lists, groups, channels) is declared
    # once, in tamtam.providers.registry.
    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def from_secret(cls, secret: Mapping[str, Any]) -> ProviderClient:
        """Build a client from the provider's Secrets Manager JSON (validated by the client's
        own pydantic model; `base_url` lives there too so the local stack can point it at
        the sandbox)."""

    @abstractmethod
    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message, or raise a ProviderError subclass."""

    def send_list(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ProviderError]:
        """Send one text to several recipients in one request (only providers whose registry
        capabilities give `list_max` > 1): one answer per message, in order, or raise a
        ProviderError that holds for all of them."""
        raise NotImplementedError(f"{self.name} takes no lists")

    def status(self, provider_message_id: str, *, channel: str = "sms", recipient: str | None = None) -> DeliveryReport:
        """The provider's report on one message it took (`channel`: the message's channel,
        for providers that keep SMS and WhatsApp apart; `recipient`: the one recipient asked
        about, when the message was one request to a list)."""
        raise NotImplementedError(f"{self.name} answers no status queries")

    def list_id_for(self, message_id: str) -> str | None:
        """The id a list request starting with this message goes under, when the provider takes
        our ids (so each recipient's resend names it); None when the provider names it itself."""
        return None

    def provider_id_for(self, message_id: str) -> str | None:
        """The id the provider knows our message by when the client sends our own id (so a
        message whose send answer was lost can still be asked about); None otherwise."""
        return None

    def balance(self) -> float | None:
        """The account's remaining credit, or None when the provider does not say."""
        return None

    def check_credentials(self) -> None:
        """Make one harmless authenticated call (a login, a balance query) and raise AuthError
        when the provider refuses the credentials (the rotation function's test step)."""
        raise NotImplementedError(f"{self.name} has no credentials check")
