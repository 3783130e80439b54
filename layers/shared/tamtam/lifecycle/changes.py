"""DynamoDB stream records of message items -> the history entries they added (and of inbound
messages -> the ones stored for the first time, `received_of`).

A write to a message record appends one entry to its `history` (a status transition, a
failover to another provider, a claim taken over): each new entry is one `Change`, numbered by
its index in the history. The number is stable however often the stream record is delivered,
so `<message id>:<index>` identifies the change for every consumer (the event id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from tamtam.store.inbound import InboundItem, partition

_deserializer = TypeDeserializer()
MESSAGE_SK = "MSG"
INBOUND_PREFIX = partition("")


@dataclass(frozen=True)
class Change:
    stream_event_id: str  # the stream record it came from
    message_id: str
    tenant_id: str
    batch_id: str | None
    sequence: int  # index of the history entry
    old_status: str | None
    new_status: str
    reason: str | None
    provider: str | None
    at: str
    created: bool  # the record was created by this write (a recipient refused at fan-out, ...)
    callback_url: str | None = None  # the send's own receiver of status callbacks (tamtam.callbacks)
    reference: str | None = None  # the tenant's reference of the send, carried in its callbacks

    @property
    def event_id(self) -> str:
        return f"{self.message_id}:{self.sequence}"


def _image(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    raw = (record.get("dynamodb") or {}).get(name) or {}
    return {key: _deserializer.deserialize(value) for key, value in raw.items()}


def _is_message(record: Mapping[str, Any]) -> bool:
    keys = (record.get("dynamodb") or {}).get("Keys") or {}
    return (keys.get("sk") or {}).get("S") == MESSAGE_SK


def changes_of(record: Mapping[str, Any]) -> list[Change]:
    """The history entries a stream record added (none for removals, other items, or a write
    that added no entry)."""
    if record.get("eventName") not in ("INSERT", "MODIFY") or not _is_message(record):
        return []
    new = _image(record, "NewImage")
    old = _image(record, "OldImage")
    history: list[dict[str, Any]] = list(new.get("history") or [])
    first = len(old.get("history") or []) if old else 0
    out = []
    for index in range(first, len(history)):
        entry = history[index]
        previous = history[index - 1]["status"] if index > 0 else None
        out.append(Change(
            stream_event_id=str(record.get("eventID", "")),
            message_id=str(new["id"]),
            tenant_id=str(new.get("tenant_id", "")),
            batch_id=new.get("batch_id"),
            sequence=index,
            old_status=previous,
            new_status=str(entry["status"]),
            reason=entry.get("reason"),
            provider=entry.get("provider"),
            at=str(entry.get("at", "")),
            created=not old,
            callback_url=new.get("callback_url"),
            reference=new.get("reference"),
        ))
    return out


def all_changes(records: Iterable[Mapping[str, Any]]) -> list[Change]:
    return [change for record in records for change in changes_of(record)]


def received_of(records: Iterable[Mapping[str, Any]]) -> list[InboundItem]:
    """Inbound messages the records stored for the first time (tamtam.store.inbound)."""
    out: list[InboundItem] = []
    for record in records:
        keys = (record.get("dynamodb") or {}).get("Keys") or {}
        if record.get("eventName") != "INSERT" or not str((keys.get("pk") or {}).get("S", "")).startswith(
            INBOUND_PREFIX
        ):
            continue
        out.append(InboundItem.from_item(_image(record, "NewImage")))
    return out
