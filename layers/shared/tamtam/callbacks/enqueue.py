"""From the lifecycle: the status changes of a batch of stream records -> one message per
(event, receiver) on the `callbacks` queue. The receivers of a change are the tenant's enabled
endpoints that asked for its type, and the message's `callback_url`, if the send carried one.

The lifecycle only enqueues: a slow or dead receiver never holds a status write, a send or a
stream batch back. A batch of stream records delivered again enqueues its callbacks again (the
same event ids): deliveries are at least once, receivers dedupe on the event's `id`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tamtam import queues
from tamtam.bulk.sqs_batch import Entry, send_entries
from tamtam.callbacks.payload import RECEIVED, event_of, is_status_change, received_event, type_of
from tamtam.errors import ServiceUnavailable
from tamtam.queue_bodies import DeliveryBody
from tamtam.store import webhook_endpoints
from tamtam.store.webhook_endpoints import EndpointItem

if TYPE_CHECKING:
    from tamtam.lifecycle.changes import Change
    from tamtam.store.inbound import InboundItem

QUEUE = "callbacks"


def deliveries(changes: list[Change], endpoints_of: Callable[[str], list[EndpointItem]]) -> list[DeliveryBody]:
    """What to POST for `changes`; `endpoints_of(tenant)` is asked once per tenant."""
    known: dict[str, list[EndpointItem]] = {}
    out: list[DeliveryBody] = []
    for change in changes:
        if not is_status_change(change):
            continue
        if change.tenant_id not in known:
            known[change.tenant_id] = [
                e for e in endpoints_of(change.tenant_id) if e.state == webhook_endpoints.ENABLED
            ]
        event = event_of(change)
        wanted = type_of(change.new_status)
        out += [DeliveryBody(tenant_id=change.tenant_id, endpoint_id=e.id, event=event)
                for e in known[change.tenant_id] if wanted in e.event_types]
        if change.callback_url:
            out.append(DeliveryBody(tenant_id=change.tenant_id, url=change.callback_url, event=event))
    return out


def received_deliveries(received: list[InboundItem],
                        endpoints_of: Callable[[str], list[EndpointItem]]) -> list[DeliveryBody]:
    """What to POST for newly stored inbound messages: to the endpoints that asked for them."""
    known: dict[str, list[EndpointItem]] = {}
    out: list[DeliveryBody] = []
    for item in received:
        if item.tenant_id not in known:
            known[item.tenant_id] = [e for e in endpoints_of(item.tenant_id)
                                     if e.state == webhook_endpoints.ENABLED and RECEIVED in e.event_types]
        event = received_event(item)
        out += [DeliveryBody(tenant_id=item.tenant_id, endpoint_id=e.id, event=event) for e in known[item.tenant_id]]
    return out


def enqueue(changes: list[Change], *, table: Any, sqs: Any, received: list[InboundItem] | None = None) -> int:
    """Put the deliveries of `changes` (and of `received` inbound messages) on the callbacks
    queue; how many. Raises ServiceUnavailable when some could not be (the lifecycle fails, its
    records come back)."""
    endpoints_of: Callable[[str], list[EndpointItem]] = lambda tenant: webhook_endpoints.list_for_tenant(table, tenant)  # noqa: E731
    bodies = deliveries(changes, endpoints_of) + received_deliveries(received or [], endpoints_of)
    if not bodies:
        return 0
    entries = [Entry(id=str(i), body=b.to_json()) for i, b in enumerate(bodies)]
    unsent = send_entries(sqs, queues.queue_url(QUEUE), entries)
    if unsent:
        raise ServiceUnavailable(f"{len(unsent)} callbacks not queued", code="queue_unavailable")
    return len(entries)
