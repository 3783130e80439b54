"""Sender: SQS-triggered, one deployed function per provider (same code). Claims each record,
sends it through the provider client, records the outcome. The records of a batch are sent
concurrently (bulk records of the same text in one request, at a provider that takes lists);
a record to retry stays on the queue with a backoff (partial batch failure). Each record's body
is parsed once (tamtam.queue_bodies.QueueBody), before the batch's pacing pools and list gather
are formed from them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from sender import slot_pools
from tamtam import aws, health, pacing, queues
from tamtam.messaging import lists
from tamtam.messaging.clients import ClientCache
from tamtam.messaging.send import process
from tamtam.observability import capture_lambda_handler, logger, metrics
from tamtam.providers.registry import PROVIDER_NAMES, capabilities
from tamtam.queue_bodies import MalformedBody, QueueBody
from tamtam.secrets import provider_secret
from tamtam.settings import get_settings
from tamtam.sqs_records import SqsRecord, partial_response

_clients = ClientCache(provider_secret)
# A batch holds at most 10 records; the local stack runs several invocations in this process,
# and a paced record holds its worker while it waits for its slot.
_executor = ThreadPoolExecutor(max_workers=64)
_END_MARGIN_SECONDS = 1.0


class RetryLater(Exception):
    """The record goes back to its queue (its visibility already set to the backoff)."""


def _bodies(records: list[dict[str, Any]]) -> dict[str, QueueBody | MalformedBody]:
    """Each record's body by SQS message id, parsed once; one that does not parse is kept as its
    error, raised when its record runs (the record fails)."""
    parsed: dict[str, QueueBody | MalformedBody] = {}
    for record in records:
        try:
            parsed[record["messageId"]] = QueueBody.parse(record.get("body") or "")
        except MalformedBody as exc:
            parsed[record["messageId"]] = exc
    return parsed


def _gather(bodies: list[QueueBody | MalformedBody]) -> lists.Gather | None:
    """The bulk records of a batch bound for a provider that takes lists may share requests
    (tamtam.messaging.lists); None for any other batch, or one with a body that does not parse."""
    sendable = [b for b in bodies if isinstance(b, QueueBody)]
    if len(sendable) < 2 or len(sendable) != len(bodies):
        return None
    providers = {b.provider for b in sendable}
    if len(providers) != 1 or {b.lane for b in sendable} != {queues.BULK}:
        return None
    provider = providers.pop()
    caps = capabilities(provider) if provider in PROVIDER_NAMES else None
    return lists.Gather(len(sendable), caps.list_max) if caps is not None and caps.takes_lists else None


def _send_one(record: SqsRecord, body: QueueBody | MalformedBody, pools: dict[tuple[str, str], pacing.Pool],
              gather: lists.Gather | None, deadline: float) -> None:
    if isinstance(body, MalformedBody):
        raise body
    settings = get_settings()
    # waits for its slot before the call; may share the call with the batch's other recipients
    with pacing.turn(slot_pools.pool_for(pools, body)) as ticket, lists.taking_part(gather):
        outcome = process(body, table=aws.table(settings.table_name), sqs=aws.client("sqs"), clients=_clients,
                          sent_at=record.sent_at, deadline=deadline, ticket=ticket)
    metrics.add_metric(name=f"Send_{outcome.result}", unit="Count", value=1)
    if outcome.retry_after is not None:
        queue_url = settings.queue_urls.get(f"{body.provider}-{body.lane}")
        if queue_url:
            try:
                aws.client("sqs").change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=outcome.retry_after
                )
            except ClientError:  # the queue's own visibility timeout applies instead
                logger.warning("could not set the retry delay", extra={"message_id": body.message_id})
        raise RetryLater(outcome.result)


@metrics.log_metrics
@logger.inject_lambda_context
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    table = aws.table(get_settings().table_name)
    remaining = context.get_remaining_time_in_millis() / 1000
    bodies = _bodies(event.get("Records") or [])
    pools = slot_pools.pools(list(bodies.values()), table, remaining)
    gather = _gather(list(bodies.values()))
    deadline = time.monotonic() + remaining - _END_MARGIN_SECONDS  # no retried write sleeps past it

    def send(record: SqsRecord) -> None:
        _send_one(record, bodies[record.message_id], pools, gather, deadline)

    try:  # the batch's records at once, each on a worker of its own
        return partial_response(event, send, executor=_executor)
    finally:
        try:
            health.flush(aws.table(get_settings().table_name))
        except Exception:  # noqa: BLE001 - health counts are advisory; never fail a batch over them
            logger.exception("provider health not recorded")
