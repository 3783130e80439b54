"""SQS: which queue carries what, and sending to it. What each queue's body is:
tamtam.queue_bodies."""

from __future__ import annotations

from typing import Any, Protocol

from tamtam.errors import ServiceUnavailable
from tamtam.settings import get_settings

TX = "tx"
BULK = "bulk"


class Body(Protocol):
    """A queue body of tamtam.queue_bodies."""

    def to_json(self) -> str: ...


def queue_url(key: str) -> str:
    urls = get_settings().queue_urls
    if key not in urls:
        raise ServiceUnavailable(f"queue {key!r} is not configured", code="queue_unavailable")
    return urls[key]


def provider_queue(provider: str, lane: str = TX) -> str:
    return queue_url(f"{provider}-{lane}")


def send(sqs: Any, url: str, body: Body, *, delay_seconds: int = 0) -> str:
    """Send one message (a body of tamtam.queue_bodies, as its `to_json()`); its SQS message id."""
    answer = sqs.send_message(QueueUrl=url, MessageBody=body.to_json(), DelaySeconds=delay_seconds)
    return str(answer["MessageId"])
