"""The stored shape of a message (pk `MSG#<id>`, sk `MSG`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from tamtam.redact import redact


class HistoryEntry(BaseModel):
    status: str
    at: str
    reason: str | None = None
    provider: str | None = None


class Attempt(BaseModel):
    provider: str
    at: str
    # sent | retry | failed | unconfirmed | duplicate | ambiguous (the provider may have taken
    # it: an answer lost at a provider that refuses duplicate ids, or a sender that died after
    # its dispatch mark; such a message never ends `failed` and never fails over)
    outcome: str
    reason: str | None = None
    raw_status: str | None = None
    raw_text: str | None = None  # the provider's words, tenants read them: credentials taken out

    @field_validator("raw_text")
    @classmethod
    def _redacted(cls, value: str | None) -> str | None:
        return redact(value)


class MessageItem(BaseModel):
    id: str
    tenant_id: str
    to: str
    # Empty in a stored bulk record whose batch is not a template: every recipient has the batch's
    # text, read from the batch item when sending (tamtam.messaging.texts). Kept once, not in each
    # record: a 160-character text is a sixth of a record, and a record over 1 KB costs two write
    # units a write (tests/integration/test_record_size.py).
    text: str = ""
    sender: str | None = None
    channel: str = "sms"
    provider: str
    route: list[str]
    status: str
    segments: int
    encoding: str
    created_at: str
    updated_at: str
    history: list[HistoryEntry] = Field(default_factory=list)
    attempts: list[Attempt] = Field(default_factory=list)
    provider_message_id: str | None = None
    reason: str | None = None
    tries: int = 0
    claim_at: float | None = None  # when the current `sending` claim was written
    # Set (conditional on this claim) right before the provider call: a `sending` record
    # without it was certainly not sent. Cleared, with claim_at, when the record leaves `sending`.
    dispatched_at: float | None = None
    batch_id: str | None = None
    otp_id: str | None = None  # set for a one-time code: `text` is then the template, never the code
    expires_at: int | None = None
    schedule_at: str | None = None  # ISO time (UTC) a `scheduled` message is due
    group_id: str | None = None  # a provider-side group: one provider call reaches all its members
    # The provider id of the list request this message was dispatched in (written with the
    # dispatch mark): a resend carries it, so a provider refusing duplicates recognises it.
    list_id: str | None = None
    # Status callbacks (tamtam.callbacks): the send's own receiver, and the tenant's reference
    # for the message, carried in every callback. Both written once, at creation.
    callback_url: str | None = None
    reference: str | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> MessageItem:
        data = {k: v for k, v in item.items() if not k.startswith(("pk", "sk", "gsi"))}
        for key in ("segments", "tries", "expires_at"):
            if data.get(key) is not None:
                data[key] = int(data[key])
        for key in ("claim_at", "dispatched_at"):
            if data.get(key) is not None:
                data[key] = float(data[key])
        if not data.get("attempts"):
            data["attempts"] = implicit_attempts(data)
        return cls.model_validate(data)

    def to_item(self) -> dict[str, Any]:
        from decimal import Decimal  # noqa: PLC0415

        item = self.model_dump(exclude_none=True)
        for key in ("claim_at", "dispatched_at"):
            if item.get(key) is not None:
                item[key] = Decimal(str(item[key]))
        item["pk"] = message_pk(self.id)
        item["sk"] = "MSG"
        return item


def implicit_attempts(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A message sent at its first try stores no attempt (tamtam.messaging.outcomes.record_sent):
    its `sent` history entry says all of it (provider, time, outcome), and the 72 bytes it would
    take push a full-length record over 1 KB (tests/integration/test_record_size.py). Read back,
    the attempt is that entry."""
    for entry in data.get("history") or []:
        if entry.get("status") == "sent":
            return [{"provider": entry.get("provider") or data.get("provider"), "at": entry.get("at"),
                     "outcome": "sent"}]
    return []


# The fan-out delivery that created a bulk record (tamtam.bulk.records), kept while the record is
# `queued`: the sender's claim removes it, which keeps a sent record within 1 KB (one write unit a
# write; tests/integration/test_record_size.py).
FANOUT_TOKEN = "fanout_token"  # noqa: S105 - an attribute name


def message_pk(message_id: str) -> str:
    return f"MSG#{message_id}"
