"""Polling the providers that answer status queries about messages still `sent`.

Messages in `sent` are indexed on gsi1 (tamtam.store.status_index, written by
`tamtam.store.messages.transition`). One run:
1. expires those sent before the window (72 h by default): no final report will come now;
2. asks the providers about up to `max_messages` of the others, concurrently, and applies the
   delivered/failed answers (forward moves only, and only while that provider still holds
   the message).
A run resumes after the last message the previous run reached (a cursor item), so a backlog
larger than one run's bound is walked through over several runs instead of the same oldest
messages being asked about every time.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tamtam import clock
from tamtam.messaging.clients import ClientCache
from tamtam.messaging.reports import REPORTED, apply_report, expire, final_sent
from tamtam.observability import logger
from tamtam.providers.base import AuthError, DeliveryReport, ProviderClient, ProviderError, Reason
from tamtam.providers.registry import POLL, PROVIDER_NAMES, capabilities
from tamtam.redact import error_keys
from tamtam.store import poller_cursor, status_index
from tamtam.store.message_item import MessageItem

_PAGE = 100


class PollerInput(BaseModel):
    """The schedule's Input (a plain scheduled event gives the defaults)."""

    model_config = ConfigDict(extra="ignore")

    window_hours: float = Field(72.0, gt=0, description="messages sent longer ago than this expire")
    max_messages: int = Field(500, ge=1, le=5000, description="messages asked about per run (and expired per run)")
    concurrency: int = Field(10, ge=1, le=50, description="provider calls at once")


def pollable_providers() -> frozenset[str]:
    return frozenset(p for p in PROVIDER_NAMES if POLL in capabilities(p).reports)


def expire_old(table: Any, cutoff: str, limit: int) -> int:
    """Messages sent before `cutoff` (iso time) -> `expired`; how many moved."""
    items = status_index.sent_before(table, cutoff, limit=limit, page=_PAGE)
    moved = sum(1 for item in items if expire(table, str(item["id"])) is not None)
    if moved:
        logger.info("sent messages expired", extra={"count": moved, "cutoff": cutoff})
    return moved


def due_messages(table: Any, cutoff: str, limit: int) -> list[MessageItem]:
    """Up to `limit` messages sent after `cutoff`, continuing after the previous run's cursor."""
    cursor = poller_cursor.get(table)
    after = max(cutoff, cursor)
    items = status_index.sent_after(table, after, limit=limit, page=_PAGE)
    if len(items) >= limit:
        poller_cursor.put(table, items[-1]["gsi1sk"])
    elif cursor:
        poller_cursor.delete(table)  # reached the newest: the next run starts over
    return [MessageItem.from_item(item) for item in items]


def _provider_id(client: ProviderClient, message: MessageItem) -> str | None:
    """The provider's id for the message: the one its send answered, else (a duplicate answer,
    a resend after a lost answer) the one derived from ours at providers that take our id."""
    return message.provider_message_id or message.list_id or client.provider_id_for(message.id)


def _ask(clients: ClientCache, client: ProviderClient, provider_id: str, message: MessageItem) -> DeliveryReport:
    # A message sent in a list request is asked about as that request's recipient.
    kwargs: dict[str, Any] = {"channel": message.channel}
    if message.list_id is not None and message.list_id == provider_id:
        kwargs["recipient"] = message.to
    try:
        return client.status(provider_id, **kwargs)
    except AuthError:
        logger.info("auth failed; refetching the provider secret", extra={"provider": client.name})
        return clients.refresh(client.name).status(provider_id, **kwargs)


def _apply(table: Any, message: MessageItem, report: DeliveryReport) -> str:
    status = REPORTED.get(report.status)
    if report.status == "sent" and report.final:
        moved = final_sent(table, message.id, provider=message.provider, raw_status=report.raw_status)
        return "final_sent" if moved is not None else "unchanged"
    if status is None or report.status == "sent":
        return "unchanged"
    failed = report.status == "failed"
    moved = apply_report(
        table,
        message.id,
        status,
        provider=message.provider,
        raw_status=report.raw_status,
        reason=(report.reason or Reason.REJECTED).value if failed else None,
        raw_text=report.raw_text if failed else None,
        only_if_provider=True,
    )
    return status.value if moved is not None else "unchanged"


def poll_one(table: Any, clients: ClientCache, client: ProviderClient, message: MessageItem, deadline: float) -> str:
    """Ask about one message and apply the answer; the outcome's name."""
    provider_id = _provider_id(client, message)
    if provider_id is None:
        return "no_provider_id"
    if time.monotonic() > deadline:
        return "skipped"
    try:
        report = _ask(clients, client, provider_id, message)
    except ProviderError as exc:
        logger.warning(
            "status query failed",
            extra={"message_id": message.id, "provider": message.provider, "reason": exc.reason.value},
        )
        return "error"
    except Exception:  # noqa: BLE001 - one bad answer must not end the run for every other message
        logger.exception("status query failed", extra={"message_id": message.id, "provider": message.provider})
        return "error"
    return _apply(table, message, report)


def _clients_for(clients: ClientCache, providers: set[str]) -> dict[str, ProviderClient]:
    """Clients built one by one before the threads start (secret reads are not shared work)."""
    built: dict[str, ProviderClient] = {}
    for provider in sorted(providers):
        try:
            built[provider] = clients.get(provider)
        except Exception as exc:  # noqa: BLE001 - one provider's client never stops the run; never logged with its text (it may quote the secret)
            logger.error("no client for a provider; its messages wait for the next run",
                         extra={"provider": provider, **error_keys(exc)})
    return built


def poll(
    table: Any, clients: ClientCache, messages: list[MessageItem], *, concurrency: int, deadline: float
) -> Counter[str]:
    pollable = pollable_providers()
    asked = [m for m in messages if m.provider in pollable]
    outcomes: Counter[str] = Counter(not_asked=len(messages) - len(asked))
    built = _clients_for(clients, {m.provider for m in asked})
    outcomes["error"] += sum(1 for m in asked if m.provider not in built)
    asked = [m for m in asked if m.provider in built]
    if not asked:
        return outcomes
    with ThreadPoolExecutor(max_workers=min(concurrency, len(asked))) as pool:
        results = pool.map(lambda m: poll_one(table, clients, built[m.provider], m, deadline), asked)
        outcomes.update(results)
    return outcomes


def run(inp: PollerInput, *, table: Any, clients: ClientCache, deadline: float) -> dict[str, int]:
    """One poller run; answers counts by outcome."""
    cutoff = clock.iso(clock.now() - inp.window_hours * 3600)
    summary: Counter[str] = Counter(expired=expire_old(table, cutoff, inp.max_messages))
    due = due_messages(table, cutoff, inp.max_messages)
    summary.update(poll(table, clients, due, concurrency=inp.concurrency, deadline=deadline))
    summary["considered"] = len(due)
    result = {key: int(value) for key, value in sorted(summary.items())}
    logger.info("status poll done", extra=result)
    return result
