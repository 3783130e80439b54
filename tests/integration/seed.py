"""Putting records in place for a handler test (the ids the events/ files use)."""

from __future__ import annotations

import json
from typing import Any

from tamtam import aws
from tamtam.messaging.accept import SendRequest, build_message
from tamtam.settings import get_settings
from tamtam.store import messages
from tamtam.store.message_item import MessageItem
from tamtam.tenants import NewTenant, create_tenant

EVENTS_TENANT = "ten_events0000000000000000demo"
EVENTS_KEY = "tt_events_demo_key_0123456789abcdef"
EVENTS_MESSAGE = "msg_events00000000000000000001"


def table() -> Any:
    return aws.table(get_settings().table_name)


def message(to: str = "+224622000001", text: str = "Hello", *, provider: str | None = None,
            message_id: str | None = None, tenant_id: str = EVENTS_TENANT) -> MessageItem:
    item = build_message(SendRequest(to=to, text=text, provider=provider), tenant_id)
    if message_id:
        item = item.model_copy(update={"id": message_id})
    messages.put_new(table(), item)
    return item


def events_tenant() -> NewTenant:
    """The tenant whose key events/authorizer/valid_key.json carries."""
    return create_tenant("events", table(), api_key=EVENTS_KEY)


def sqs_event(
    bodies: list[dict[str, Any]], *, queue_arn: str = "arn:aws:sqs:eu-west-1:123456789012:q"
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"id-{i}",
                "receiptHandle": f"rh-{i}",
                "body": json.dumps(b),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795346400000"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-1",
            }
            for i, b in enumerate(bodies)
        ]
    }
