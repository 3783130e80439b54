"""A chunk's message records, each created once, and the orphans among them.

Message ids are deterministic (batch + request index), so two deliveries of one chunk (SQS is
at least once, and two can run at the same moment) race for the same keys. Each record is
created with a conditional PutItem (`attribute_not_exists(pk)`): exactly one delivery creates
it, and only that delivery enqueues it. Every put of a delivery carries the delivery's token,
so a put that the table applied but answered with an error (then retried, and refused as
existing) is still recognised as this delivery's own.

An orphan is a record still `queued` that was created longer ago than the window
(`FANOUT_ORPHAN_SECONDS`): the delivery that created it is certainly dead (no invocation of
the fan-out outlives its timeout), and may have died before it enqueued it. An orphan is
enqueued again; the sender's claim (`queued` -> `sending`) makes a second queue message for
the same record harmless.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tamtam import clock
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import batches, chunk_records, messages
from tamtam.store.message_item import FANOUT_TOKEN, MessageItem, message_pk

TOKEN = FANOUT_TOKEN  # the delivery that created the record (removed by the sender's claim)
_workers = ThreadPoolExecutor(max_workers=16)  # one slice's puts at once; the client is thread-safe


def orphan_seconds() -> int:
    return get_settings().fanout_orphan_seconds


def new_token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Stored:
    status: str
    provider: str
    created_at: str
    token: str | None


def read(table: Any, ids: list[str]) -> dict[str, Stored]:
    """The records among `ids` that exist (consistent reads), by id."""
    if not ids:
        return {}
    keys = [{"pk": message_pk(i), "sk": "MSG"} for i in ids]
    names = {"#s": "status", "#p": "provider", "#c": "created_at", "#t": TOKEN}
    return {
        item["pk"].split("#", 1)[1]: Stored(status=item["status"], provider=item.get("provider", ""),
                                            created_at=item.get("created_at", ""), token=item.get(TOKEN))
        for item in batches.get_many(table, keys, "pk, #s, #p, #c, #t", names)
    }


def write_once(table: Any, part: list[MessageItem], token: str, *, shared_text: bool = False,
               ) -> tuple[list[MessageItem], dict[str, Stored]]:
    """Create the records of `part` that do not exist yet. Returns the records this call created
    (in `part`'s order) and, for the others, what is stored. `shared_text`: every record has
    its batch's text, which is then not stored in them (tamtam.store.message_item)."""
    stored = read(table, [m.id for m in part])  # a redelivery rewrites nothing, not even a refused put
    todo = [m for m in part if m.id not in stored]
    items = [{**m.to_item(), **messages.index_keys(m), TOKEN: token} for m in todo]
    if shared_text:
        for item in items:
            item.pop("text", None)
    created = _workers.map(lambda item: chunk_records.put_once(table, item), items)
    won = dict(zip((m.id for m in todo), created, strict=True))
    lost = [i for i, ok in won.items() if not ok]
    if lost:  # another delivery created them since the read (or this one did, on a retried write)
        stored.update(read(table, lost))
        for message_id in lost:
            if message_id in stored and stored[message_id].token == token:
                won[message_id] = True
                del stored[message_id]
    return [m for m in part if won.get(m.id)], stored


def _epoch(iso: str) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def orphaned(record: Stored, now: float, window: int) -> bool:
    """Still `queued`, and created by a delivery that is certainly over."""
    created = _epoch(record.created_at)
    return record.status == Status.QUEUED and created is not None and now - created > window


def orphans(stored: dict[str, Stored], ids: list[str], tenant_id: str, window: int) -> list[tuple[str, str, str]]:
    """(message id, tenant, provider) of the orphans among `ids`, in their order."""
    now = clock.now()
    return [(i, tenant_id, stored[i].provider) for i in ids if i in stored and orphaned(stored[i], now, window)]
