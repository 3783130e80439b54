"""SQS: which queue carries what, and sending to it."""

from __future__ import annotations

import json
from typing import Any

from tamtam.errors import ServiceUnavailable
from tamtam.settings import get_settings

TX = "tx"
BULK = "bulk"


def queue_url(key: str) -> str:
    urls = get_settings().queue_urls
    if key not in urls:
        raise ServiceUnavailable(f"queue {key!r} is not configured", code="queue_unavailable")
    return urls[key]


def provider_queue(provider: str, lane: str = TX) -> str:
    return queue_url(f"{provider}-{lane}")


def send(sqs: Any, url: str, body: dict[str, Any], *, delay_seconds: int = 0) -> str:
    answer = sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), DelaySeconds=delay_seconds)
    return str(answer["MessageId"])
