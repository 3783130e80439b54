"""What every SQS queue carries: one model per queue body, written one way (`to_json()`) and
read one way (`parse(raw)`; the fan-out queue, which carries two kinds: `parse_fanout(raw)`).

- `<provider>-tx`, `<provider>-bulk` (the five providers) and their DLQs: QueueBody. Written by
  the api, the scheduler, the fan-out, the sweeper, the bulk intake (groups) and the sender
  (failover, forward); read by the sender and the finalizer.
- `fanout` and its DLQ: ChunkBody, CancelBody. Written by the bulk intake and the batch cancel;
  read by the fanout and fanout_dlq functions.
- `callbacks` and its DLQ: DeliveryBody. Written by the lifecycle and the callbacks function
  (retry, dead letter); read by the callbacks function.

The wire forms are those the writers have always produced, key order and separators included
(events/ holds samples); the callbacks queue's retries and dead letters take the compact form of
its first delivery. A reader ignores the keys it does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tamtam.queues import TX

if TYPE_CHECKING:
    from tamtam.store.message_item import MessageItem


class MalformedBody(ValueError):
    """A provider queue's body that is not a QueueBody (its record fails: SQS delivers it again,
    then moves it to the dead-letter queue)."""


@dataclass(frozen=True)
class QueueBody:
    """Send this message: the body of the five providers' queues, both lanes (`tx`, `bulk`).
    `provider` is the one the record must still name for the sender to claim it; `lane` is the
    queue's lane (a failover or a forward stays in it)."""

    message_id: str
    provider: str
    tenant_id: str | None = None
    lane: str = TX

    @classmethod
    def for_message(cls, message: MessageItem, lane: str, provider: str | None = None) -> QueueBody:
        """The body that sends `message` through `provider` (default: the record's own)."""
        return cls(message_id=message.id, provider=provider or message.provider, tenant_id=message.tenant_id, lane=lane)

    def to_json(self) -> str:
        return json.dumps({"message_id": self.message_id, "tenant_id": self.tenant_id, "provider": self.provider,
                           "lane": self.lane})

    @classmethod
    def parse(cls, raw: str) -> QueueBody:
        """The body of a provider queue's message. Raises MalformedBody when it is not a JSON
        object naming at least `message_id` and `provider`."""
        try:
            data = json.loads(raw)
        except (TypeError, ValueError) as exc:
            raise MalformedBody(f"not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedBody("not a JSON object")
        known = {key: value for key, value in data.items() if key in _QUEUE_BODY_KEYS}
        missing = sorted({"message_id", "provider"} - known.keys())
        if missing:
            raise MalformedBody(f"without {', '.join(missing)}")
        return cls(**known)


_QUEUE_BODY_KEYS = frozenset(f.name for f in fields(QueueBody))


class ChunkBody(BaseModel):
    """Expand a chunk of a batch's recipients (tamtam.bulk.fanout). A body without `kind` is a
    chunk; the wire form leaves it out."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["chunk"] = "chunk"
    batch_id: str = Field(max_length=64)
    tenant_id: str = Field(max_length=64)
    chunk: int = Field(ge=0)
    recipients: list[list[Any]] = Field(min_length=1, max_length=1000)  # [index, +E.164(, {variables})]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude={"kind"}), separators=(",", ":"))


class CancelBody(BaseModel):
    """Continue a batch cancel from the listing's position, `cursor` (tamtam.bulk.cancel); a
    `status`, or a cursor of another form, is only in positions written by earlier versions
    (a listing through an index): such a cancel starts again from the first record."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["cancel"]
    batch_id: str = Field(max_length=64)
    tenant_id: str = Field(max_length=64)
    status: str | None = None
    cursor: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True))


def parse_fanout(raw: str) -> ChunkBody | CancelBody:
    """The body of a fan-out queue's message: a cancel when its `kind` says so, else a chunk.
    Raises ValueError (not JSON) or pydantic's ValidationError."""
    data = json.loads(raw)
    if isinstance(data, dict) and data.get("kind") == "cancel":
        return CancelBody.model_validate(data)
    return ChunkBody.model_validate(data)


class DeliveryBody(BaseModel):
    """POST one event to one receiver (tamtam.callbacks.delivery).

    The receiver is either a webhook endpoint (read again before every attempt: a deleted or
    disabled one gets nothing more, a rolled secret signs at once) or the message's own
    `callback_url` (signed with the tenant's callback secret). `attempt` counts the POSTs,
    `since` is when the first one was made (the retry window counts from it), `not_before` when
    the next one is due (a wait longer than SQS's 15-minute delay takes several hops on the
    queue)."""

    model_config = ConfigDict(extra="ignore")

    tenant_id: str = Field(min_length=1, max_length=64)
    endpoint_id: str | None = Field(None, max_length=64)
    url: str | None = Field(None, max_length=2048)  # a message's callback_url
    event: dict[str, Any]
    attempt: int = Field(1, ge=1)
    since: float | None = None
    not_before: float | None = None

    @model_validator(mode="after")
    def _one_receiver(self) -> DeliveryBody:
        if (self.endpoint_id is None) == (self.url is None):
            raise ValueError("a delivery names an endpoint_id or a url, not both")
        if not isinstance(self.event.get("id"), str):
            raise ValueError("the event has no id")
        return self

    @property
    def receiver(self) -> str:
        """For log lines: the endpoint id, or `callback_url` (a URL may hold a token: never logged)."""
        return self.endpoint_id or "callback_url"

    def to_json(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), separators=(",", ":"))

    @classmethod
    def parse(cls, raw: str) -> DeliveryBody:
        """Raises pydantic's ValidationError (not JSON included)."""
        return cls.model_validate_json(raw)
