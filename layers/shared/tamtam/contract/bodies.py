"""The bodies of the two send requests, the one definition every door validates with:
`SendMessageIn` (`POST /v1/messages`, ingest kind `message`) and `BulkSendIn`
(`POST /v1/messages/bulk`, ingest kind `bulk`). The class names are the schema titles of the
API's OpenAPI document (functions/api/openapi.json).

A bulk's recipients are plain strings here: the numbers are normalised, deduplicated and refused
one by one by tamtam.bulk (an invalid number is reported, never fatal to the request)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

from tamtam.contract.base import LazyModel
from tamtam.contract.fields import CallbackUrl, PhoneNumber, Reference, known_provider

MAX_RECIPIENTS = 100_000  # numbers in one bulk request (`to` or `recipients`)


class SendMessageIn(LazyModel):
    model_config = ConfigDict(extra="forbid")

    to: PhoneNumber
    text: str = Field(min_length=1, max_length=1600, description="the message; at most 10 SMS segments")
    sender: str | None = Field(None, min_length=1, max_length=11, description="sender name (provider-approved)")
    provider: Annotated[str | None, AfterValidator(known_provider)] = Field(
        None, description="pin a provider instead of the route", examples=["smsgate"]
    )
    channel: Literal["sms", "whatsapp"] = "sms"
    schedule_at: str | None = Field(
        None,
        max_length=40,
        json_schema_extra={"format": "date-time"},
        description="send later: ISO 8601 with an offset, at most 30 days ahead",
        examples=["2026-05-01T09:00:00+00:00"],
    )
    callback_url: CallbackUrl = None
    reference: Reference = None
    transactional: bool = Field(
        False, description="a message the person needs whatever they opted out of (an order update, a security "
        "alert): it reaches a number on the opt-out list unless the account turned that off",
    )


class Recipient(LazyModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(description="E.164 or national format of the default region", examples=["+224622000001"])
    vars: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=500)]] = Field(
        default_factory=dict, max_length=20, description="values of the text's {{name}} placeholders"
    )


class GroupTarget(LazyModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["passeinfo", "messagepro"]
    group_id: str = Field(
        min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$",
        description="the provider's group id (Message Pro: comma-separated group ids)", examples=["12"],
    )


class BulkSendIn(LazyModel):
    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(None, max_length=MAX_RECIPIENTS, description="the same text to each number")
    recipients: list[Recipient] | None = Field(
        None, max_length=MAX_RECIPIENTS, description="numbers with their {{vars}}"
    )
    group: GroupTarget | None = Field(None, description="a provider-side group: one provider call")
    text: str = Field(min_length=1, max_length=1600, description="the text, or a template with {{name}} placeholders")
    sender: str | None = Field(None, min_length=1, max_length=11, description="sender name (provider-approved)")
    provider: Annotated[str | None, AfterValidator(known_provider)] = Field(
        None, description="pin a provider instead of the routes"
    )
    channel: Literal["sms", "whatsapp"] = "sms"
    schedule_at: str | None = Field(
        None, max_length=40, json_schema_extra={"format": "date-time"},
        description="ISO 8601 with an offset, at most 30 days ahead", examples=["2026-05-01T09:00:00+00:00"],
    )
    callback_url: CallbackUrl = None
    reference: Reference = None
