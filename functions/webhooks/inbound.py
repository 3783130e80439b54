"""A message a provider received (SMSGate `sms:received`, Message Pro's `sms`/`whatsapp`
webhooks), once its call is verified: whose it is, what it does, where it goes.

1. The sender's number, in E.164. A sender that is no phone number (an operator's name) or that
   no tenant sent to through this provider (tamtam.store.last_sender) belongs to nobody: it is
   acknowledged, not stored, and counted (`InboundUnmatched`, by provider).
2. A message already stored (the provider's retry: same provider id, same time) is
   acknowledged and nothing is done again.
3. An opt-out keyword puts the number on the tenant's list, an opt-in keyword takes it off
   (tamtam.opt_outs).
4. The `Inbound Message Received` event goes on the bus.
5. The record is stored last (tamtam.store.inbound), so a call that failed on the way is done
   again in full when the provider retries: steps 3 and 4 repeat harmlessly (the same list
   entry, the same event id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from tamtam import clock, events
from tamtam.observability import count, logger
from tamtam.opt_outs import keyword_action
from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.settings import get_settings
from tamtam.store import inbound, last_sender, opt_outs
from tamtam.store.inbound import InboundItem

UNMATCHED_METRIC = "InboundUnmatched"


@dataclass(frozen=True)
class Received:
    """A received message as a provider's webhook gives it."""

    provider: str
    provider_message_id: str
    sender: str  # as the provider wrote it
    text: str
    channel: str = "sms"
    to: str | None = None  # our own number, when the provider says it
    received_at: float | None = None  # epoch seconds; None: now


class InboundResult(BaseModel):
    """The answer to a verified inbound webhook."""

    event: str = Field(description="the provider's event: `sms:received`, `sms`, `whatsapp`")
    inbound_id: str | None = Field(None, description="the inbound message's id; absent when it was not stored")
    result: str = Field(description="`stored`, `duplicate` (already stored), `unmatched` (no tenant sent to that "
                        "number through this provider: dropped), or `ignored` (an event kind the gateway does not use)")
    keyword: str | None = Field(None, description="`opt_out` or `opt_in` when the text was a keyword")


def _e164(raw: str) -> str | None:
    try:
        return to_e164(raw, get_settings().phone_default_region)
    except InvalidPhoneNumber:
        return None


def _unmatched(event: str, received: Received, why: str) -> InboundResult:
    count(UNMATCHED_METRIC, dimensions={"Provider": received.provider})
    logger.info("inbound message belongs to no tenant; dropped",
                extra={"provider": received.provider, "provider_message_id": received.provider_message_id, "why": why})
    return InboundResult(event=event, result="unmatched")


def receive(event: str, received: Received, *, table: Any, bus_client: Any) -> InboundResult:
    sender = _e164(received.sender)
    if sender is None:
        return _unmatched(event, received, "sender_not_a_number")
    owner = last_sender.get(table, received.provider, sender)
    if owner is None:
        return _unmatched(event, received, "no_sender")
    moment = received.received_at if received.received_at is not None else clock.now()
    item = InboundItem(
        id=inbound.inbound_id(received.provider, received.provider_message_id, int(moment * 1000)),
        tenant_id=owner.tenant_id, provider=received.provider, provider_message_id=received.provider_message_id,
        **{"from": sender}, to=_e164(received.to) if received.to else None, text=received.text,
        channel=received.channel, received_at=clock.iso(moment), in_reply_to=owner.message_id,
        created_at=clock.iso(), expires_at=int(clock.now()) + inbound.RETENTION_SECONDS,
    )
    if inbound.get(table, item.tenant_id, item.received_at, item.id) is not None:
        return InboundResult(event=event, inbound_id=item.id, result="duplicate")
    action = keyword_action(received.text)
    if action is not None:
        item = item.model_copy(update={"keyword": action[0]})
        _apply_keyword(table, item, action[1])
    _publish(bus_client, item)
    stored = inbound.put_once(table, item)
    logger.info("inbound message received", extra={"inbound_id": item.id, "tenant_id": item.tenant_id,
                                                    "provider": item.provider, "keyword": item.keyword})
    return InboundResult(event=event, inbound_id=item.id, result="stored" if stored else "duplicate",
                         keyword=item.keyword)


def _apply_keyword(table: Any, item: InboundItem, word: str) -> None:
    if item.keyword == "opt_in":
        opt_outs.delete(table, item.tenant_id, item.from_)
        return
    opt_outs.put(table, opt_outs.OptOutItem(
        phone=item.from_, tenant_id=item.tenant_id, source=opt_outs.KEYWORD, keyword=word, provider=item.provider,
        inbound_id=item.id, created_at=item.created_at))


def event_detail(item: InboundItem) -> dict[str, Any]:
    """The bus event's detail (and the `message.received` callback's body, once callbacks take it)."""
    return {"event_id": item.id, "inbound_id": item.id, "tenant_id": item.tenant_id, "provider": item.provider,
            "provider_message_id": item.provider_message_id, "from": item.from_, "to": item.to, "text": item.text,
            "channel": item.channel, "received_at": item.received_at, "keyword": item.keyword,
            "in_reply_to": item.in_reply_to}


def _publish(bus_client: Any, item: InboundItem) -> None:
    bus = get_settings().event_bus_name
    if not bus:
        logger.warning("no event bus configured: inbound event not published", extra={"inbound_id": item.id})
        return
    events.publish(bus_client, [events.inbound_entry(event_detail(item), bus)])
