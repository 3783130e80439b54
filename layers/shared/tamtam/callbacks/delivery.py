"""One message of the `callbacks` queue: POST the event to its receiver, or say why not.

- 2xx: delivered. 410 Gone: the endpoint is turned off (a `callback_url` just stops).
- Anything else (another status, a 3xx: redirects are never followed, a timeout, a refused
  connection, an address that is no longer public) is a failed attempt: the delivery goes back
  on the queue with `attempt + 1`, due after an exponential backoff (tamtam.callbacks.settings:
  base x 2^(attempt-1), at most the maximum, each wait drawn between 75 % and 100 % of that),
  until an attempt fails at or after `retry_window_seconds` (24 h) past the first one: then it
  goes to the queue's dead-letter queue (which alarms).
- A delivery not due yet (a wait longer than SQS's 15-minute DelaySeconds) hops on the queue.
- An endpoint deleted or disabled meanwhile gets nothing more (dropped).

Errors of AWS calls raise: the record fails and SQS delivers it again (at least once).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tamtam import clock, queues
from tamtam.callbacks import http, signing
from tamtam.callbacks.enqueue import QUEUE
from tamtam.callbacks.settings import CallbackSettings, get_callback_settings
from tamtam.callbacks.urls import InvalidCallbackUrl, Resolver, check_url
from tamtam.observability import logger
from tamtam.queue_bodies import DeliveryBody
from tamtam.store import webhook_endpoints as store

SQS_MAX_DELAY = 900
EVENT_ID_HEADER = "Tamtam-Event-Id"
_dead_letter_urls: dict[str, str] = {}

Post = Callable[..., http.Answer]


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # this attempt failed; the next one is queued
    DEAD = "dead_lettered"
    DEFERRED = "deferred"  # not due yet
    GONE = "gone"  # 410: the endpoint is off now
    DROPPED = "dropped"  # the endpoint was deleted or disabled


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None  # the receiver's HTTP status, if it answered
    reason: str | None = None


def backoff(attempt: int, settings: CallbackSettings) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, ...)."""
    factor: float = 2 ** min(attempt - 1, 30)  # int ** int is Any to mypy (a negative power is a float)
    ceiling = min(settings.backoff_base_seconds * factor, settings.backoff_max_seconds)
    return ceiling * random.uniform(0.75, 1.0)  # noqa: S311 (jitter)


def dead_letter_url(sqs: Any, queue_url: str) -> str:
    """The dead-letter queue the queue's redrive policy names (infra/queues.tf)."""
    if queue_url not in _dead_letter_urls:
        policy = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
        arn = json.loads(policy["RedrivePolicy"])["deadLetterTargetArn"]
        _, _, _, _, account, name = arn.split(":")
        _dead_letter_urls[queue_url] = str(
            sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        )
    return _dead_letter_urls[queue_url]


def dead_letter(sqs: Any, body: str, reason: str) -> None:
    """`body`: a DeliveryBody's to_json(), or the raw body of a record that is none."""
    url = dead_letter_url(sqs, queues.queue_url(QUEUE))
    sqs.send_message(QueueUrl=url, MessageBody=body,
                     MessageAttributes={"reason": {"DataType": "String", "StringValue": reason}})


def _requeue(sqs: Any, body: DeliveryBody, wait: float) -> None:
    delay = max(0, min(SQS_MAX_DELAY, math.ceil(wait)))
    queues.send(sqs, queues.queue_url(QUEUE), body, delay_seconds=delay)


def _receiver(table: Any, body: DeliveryBody) -> tuple[str, str] | Result:
    """(url, secret) to deliver to, or the Result of a delivery that has none any more."""
    if body.endpoint_id is not None:
        endpoint = store.get(table, body.tenant_id, body.endpoint_id, consistent=False)
        if endpoint is None:
            return Result(Outcome.DROPPED, reason="endpoint_deleted")
        if endpoint.state != store.ENABLED:
            return Result(Outcome.DROPPED, reason="endpoint_disabled")
        return endpoint.url, endpoint.secret.get_secret_value()
    secret = store.get_callback_secret(table, body.tenant_id, consistent=False)
    if secret is None:
        return Result(Outcome.DEAD, reason="callback_secret_missing")
    return str(body.url), secret.get_secret_value()


def _attempt(url: str, secret: str, body: DeliveryBody, *, now: float, post: Post, resolve: Resolver | None,
             settings: CallbackSettings) -> http.Answer:
    try:
        target = check_url(url, allow_loopback=settings.allow_loopback, resolve=resolve)
    except InvalidCallbackUrl:
        return http.Answer(status=None, error="address_refused")
    raw = json.dumps(body.event, separators=(",", ":")).encode()
    headers = {signing.HEADER: signing.header(secret, int(now), raw), EVENT_ID_HEADER: str(body.event["id"])}
    return post(target, raw, headers, timeout=settings.timeout_seconds)


def _failed(body: DeliveryBody, answer: http.Answer, *, table: Any, sqs: Any, now: float,
            settings: CallbackSettings) -> Result:
    since = body.since if body.since is not None else now
    if answer.status == 410:
        if body.endpoint_id is not None:
            store.disable(table, body.tenant_id, body.endpoint_id, reason="gone", at=clock.iso(now))
        return Result(Outcome.GONE, status=410)
    reason = f"http_{answer.status}" if answer.status is not None else (answer.error or "no_answer")
    if now - since >= settings.retry_window_seconds:
        dead = body.model_copy(update={"since": since, "not_before": None})
        dead_letter(sqs, dead.to_json(), "retries_exhausted")
        return Result(Outcome.DEAD, status=answer.status, reason=reason)
    wait = backoff(body.attempt, settings)
    _requeue(sqs, body.model_copy(update={"attempt": body.attempt + 1, "since": since, "not_before": now + wait}), wait)
    return Result(Outcome.RETRY, status=answer.status, reason=reason)


def deliver(body: DeliveryBody, *, table: Any, sqs: Any, post: Post = http.post, resolve: Resolver | None = None,
            now: float | None = None) -> Result:
    settings = get_callback_settings()
    now = clock.now() if now is None else now
    if body.not_before is not None and now < body.not_before - 0.5:
        _requeue(sqs, body, body.not_before - now)
        return Result(Outcome.DEFERRED)
    receiver = _receiver(table, body)
    if isinstance(receiver, Result):
        if receiver.outcome == Outcome.DEAD:
            dead_letter(sqs, body.to_json(), receiver.reason or "")
        return receiver
    url, secret = receiver
    answer = _attempt(url, secret, body, now=now, post=post, resolve=resolve, settings=settings)
    if answer.status is not None and 200 <= answer.status < 300:
        return Result(Outcome.DELIVERED, status=answer.status)
    result = _failed(body, answer, table=table, sqs=sqs, now=now, settings=settings)
    logger.info("callback attempt failed", extra={"event_id": body.event["id"], "receiver": body.receiver,
                                                  "attempt": body.attempt, "answer": result.reason,
                                                  "outcome": result.outcome.value})
    return result
