"""Finalizer: consumes the provider queues' dead-letter queues. A message that exhausted its
deliveries is finalised (never left `queued` or `sending`), and counted for the alarm."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.messaging.finalize import finalize
from tamtam.observability import logger, metrics
from tamtam.queue_bodies import QueueBody
from tamtam.settings import get_settings


def _record_handler(record: SQSRecord) -> None:
    body = QueueBody.parse(record.body)
    result = finalize(body.message_id, table=aws.table(get_settings().table_name))
    metrics.add_metric(name="DeadLettered", unit="Count", value=1)
    logger.info("dead letter handled", extra={"message_id": body.message_id, "result": result})


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)
