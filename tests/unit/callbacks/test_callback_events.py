"""Status changes -> the deliveries the lifecycle queues: one per (change, receiver), only real
status changes, only the types an endpoint asked for, never to a disabled endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from tamtam.callbacks.enqueue import deliveries
from tamtam.callbacks.payload import EVENT_TYPES, event_of
from tamtam.lifecycle.changes import Change
from tamtam.store.webhook_endpoints import DISABLED, EndpointItem

TENANT = "ten_a"


def change(seq: int, old: str | None, new: str, *, callback_url: str | None = None, tenant: str = TENANT) -> Change:
    return Change(stream_event_id="s1", message_id="msg_1", tenant_id=tenant, batch_id="bat_1", sequence=seq,
                  old_status=old, new_status=new, reason=None, provider="smsgate", at=f"2026-12-07T08:00:0{seq}.000Z",
                  created=old is None, callback_url=callback_url, reference="order-1042")


def endpoint(endpoint_id: str, types: list[str], state: str = "enabled") -> EndpointItem:
    return EndpointItem(id=endpoint_id, tenant_id=TENANT, url="https://hooks.example.com/", event_types=types,
                        secret="whsec_x", state=state, created_at="t", updated_at="t")  # type: ignore[arg-type]


def test_given_a_change_then_the_event_carries_ids_status_and_the_reference():
    event = event_of(change(3, "sent", "delivered"))
    assert event == {"id": "msg_1:3", "type": "message.delivered", "created_at": "2026-12-07T08:00:03.000Z",
                     "message_id": "msg_1", "sequence": 3, "status": "delivered", "previous_status": "sent",
                     "final": True, "reason": None, "provider": "smsgate", "batch_id": "bat_1",
                     "reference": "order-1042"}


def test_given_endpoints_then_each_gets_the_types_it_asked_for_and_a_disabled_one_nothing():
    endpoints = [endpoint("wep_sent", ["message.sent"]), endpoint("wep_all", list(EVENT_TYPES)),
                 endpoint("wep_off", list(EVENT_TYPES), state=DISABLED)]
    asked: list[str] = []

    def endpoints_of(tenant: str) -> list[EndpointItem]:
        asked.append(tenant)
        return endpoints

    changes = [change(0, None, "queued"), change(1, "queued", "sending"), change(2, "sending", "sent"),
               change(3, "sent", "sent")]  # 3: a history entry that is no status change
    got = [(d.endpoint_id, d.event["id"]) for d in deliveries(changes, endpoints_of)]
    assert got == [("wep_all", "msg_1:0"), ("wep_all", "msg_1:1"), ("wep_sent", "msg_1:2"), ("wep_all", "msg_1:2")]
    assert asked == [TENANT]  # one read per tenant and batch of changes


def test_given_a_callback_url_then_every_status_change_goes_to_it_too():
    url = "https://shop.example.com/status"
    got = deliveries([change(0, None, "queued", callback_url=url), change(1, "queued", "sending", callback_url=url)],
                     lambda tenant: [])
    assert [(d.url, d.endpoint_id, d.event["type"], d.attempt) for d in got] == [
        (url, None, "message.queued", 1), (url, None, "message.sending", 1)]


def test_given_the_api_document_then_the_event_types_it_takes_are_one_per_status_and_received():
    document = json.loads((Path(__file__).resolve().parents[3] / "functions/api/openapi.json").read_text())
    items = document["components"]["schemas"]["WebhookEndpointIn"]["properties"]["event_types"]["items"]
    assert set(items["enum"]) == set(EVENT_TYPES) == {f"message.{s}" for s in (
        "queued", "scheduled", "sending", "sent", "delivered", "failed", "expired", "cancelled", "unconfirmed",
        "received")}
