"""Request and response bodies of the /v1/otp routes (pydantic, so they enter the OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from api.model_base import ApiModel
from api.models import CallbackUrl, ErrorDetail, PhoneNumber, Reference, _provider


class OtpSendIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    to: PhoneNumber
    channel: Literal["sms", "whatsapp"] = "sms"
    length: int = Field(6, ge=4, le=10, description="digits of the code")
    ttl: int = Field(300, ge=60, le=1800, description="validity of the code, in seconds")
    template: str | None = Field(
        None, min_length=1, max_length=640,
        description="the message; must contain {{code}}; {{minutes}} becomes the validity in minutes",
        examples=["Your Acme code: {{code}}"],
    )
    sender: str | None = Field(None, min_length=1, max_length=11, description="sender name (provider-approved)")
    provider: Annotated[str | None, AfterValidator(_provider)] = Field(
        None, description="pin a provider instead of the route", examples=["smsgate"]
    )
    locale: Literal["fr", "en"] = Field("fr", description="language of the default template")
    callback_url: CallbackUrl = None
    reference: Reference = None


class OtpAccepted(ApiModel):
    id: str
    to: str
    channel: str
    expires_at: str = Field(description="ISO 8601, UTC")
    status: Literal["pending"] = "pending"


class OtpVerifyIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[0-9]{4,10}$", description="the code the user received")


class OtpVerified(ApiModel):
    id: str
    status: Literal["approved"] = "approved"


class OtpRejected(ApiModel):
    """422 for a wrong code: the one error answer that also carries a status."""

    status: Literal["rejected"] = "rejected"
    attempts_left: int
    error: ErrorDetail
