"""Finalizer: consumes the provider queues' dead-letter queues. A message that exhausted its
deliveries is finalised (never left `queued` or `sending`), and counted for the alarm."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.messaging.finalize import finalize
from tamtam.observability import logger, metrics
from tamtam.queue_bodies import QueueBody
from tamtam.settings import get_settings
from tamtam.sqs_records import SqsRecord, partial_response


def _record_handler(record: SqsRecord) -> None:
    body = QueueBody.parse(record.body)
    result = finalize(body.message_id, table=aws.table(get_settings().table_name))
    metrics.add_metric(name="DeadLettered", unit="Count", value=1)
    logger.info("dead letter handled", extra={"message_id": body.message_id, "result": result})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(event, _record_handler)
