"""Driving the bulk pipeline in tests: api events, draining queues, invoking the fan-out and
the senders with what the queues hold (batches of 10, as the event source mappings would)."""

from __future__ import annotations

import json
from typing import Any

from tamtam import aws
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.settings import get_settings
from tests.integration import seed
from tests.integration.lambdas import event, invoke


def api(method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
        tenant: str = seed.EVENTS_TENANT) -> tuple[int, dict]:
    ev = event("api/bulk_send")
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = method
    ev["path"] = path
    ev["pathParameters"] = {"proxy": path.removeprefix("/v1/")}
    ev["body"] = json.dumps(body) if body is not None else None
    ev["queryStringParameters"] = query
    ev["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant
    answer = invoke("api", ev)
    return answer["statusCode"], json.loads(answer["body"])


def drain(key: str) -> list[dict[str, Any]]:
    """Every message visible on queue `key`, deleted from it, as parsed bodies."""
    sqs, url = aws.client("sqs"), get_settings().queue_urls[key]
    bodies: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return bodies
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        )
        bodies += [json.loads(m["Body"]) for m in got]


def drain_all(lane: str = "bulk") -> list[dict[str, Any]]:
    return [b for p in PROVIDER_NAMES for b in drain(f"{p}-{lane}")]


def fan_out(batch_id: str, *, then_send: bool = False) -> list[dict[str, Any]]:
    """The fan-out invoked with each of this batch's chunks from the fanout queue, and with
    `then_send`, the senders after each chunk (as they would run meanwhile); its failures."""
    chunks = [b for b in drain("fanout") if b.get("batch_id") == batch_id]
    failures = []
    for chunk in chunks:
        failures += invoke("fanout", seed.sqs_event([chunk]))["batchItemFailures"]
        if then_send:
            send_all()
    return failures


def send_all(lane: str = "bulk", *, rounds: int = 5) -> int:
    """The senders invoked, 10 records a call, until the provider queues of `lane` are empty
    (failovers put messages on other queues). Returns how many records were handled."""
    handled = 0
    for _ in range(rounds):
        bodies = drain_all(lane)
        if not bodies:
            break
        for start in range(0, len(bodies), 10):
            invoke("sender", seed.sqs_event(bodies[start : start + 10]))
        handled += len(bodies)
    return handled
