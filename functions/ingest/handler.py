"""Ingest: send requests from other services, SQS-triggered on the `ingest` queue (fed directly
and by the bus rule of infra/ingest.tf), with ReportBatchItemFailures.

Each record goes through tamtam.ingest (the API's validation, the tenant must exist, at most
once per idempotency key). A request that can never succeed is put on the ingest dead-letter
queue at once, with its reason in message attributes, and its record reported done: it is
never retried. A transient failure (DynamoDB, SQS) fails only that record: SQS delivers it
again, up to the queue's maxReceiveCount, then moves it to the same dead-letter queue."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws, ingest, queues
from tamtam.observability import capture_lambda_handler, logger, metrics
from tamtam.settings import get_settings


@cache
def _dead_letter_url(queue_url: str) -> str:
    """The dead-letter queue the queue's redrive policy names (infra/queues.tf)."""
    sqs = aws.client("sqs")
    policy = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    arn = json.loads(policy)["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":")
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value[:256]}


def _dead_letter(record: SQSRecord, rejected: ingest.Rejected) -> None:
    attributes = {"reason": _attribute(rejected.reason), "reason_message": _attribute(rejected.message or rejected.reason)}
    if rejected.field:
        attributes["field"] = _attribute(rejected.field)
    aws.client("sqs").send_message(
        QueueUrl=_dead_letter_url(queues.queue_url("ingest")), MessageBody=record.body, MessageAttributes=attributes
    )


def _record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    try:
        request = ingest.parse(record.body, message_id=record.message_id)
        accepted = ingest.accept(request, table=aws.table(get_settings().table_name), sqs=aws.client("sqs"),
                                 lambda_context=lambda_context)
    except ingest.Rejected as rejected:
        _dead_letter(record, rejected)  # if this fails, the record fails and comes back
        metrics.add_metric(name="IngestRejected", unit="Count", value=1)
        logger.warning("ingest request rejected", extra={"sqs_message_id": record.message_id, "reason": rejected.reason,
                                                         "field": rejected.field})
        return
    metrics.add_metric(name="IngestAccepted", unit="Count", value=1)
    logger.info("ingest request accepted", extra={"sqs_message_id": record.message_id, **accepted})


@metrics.log_metrics
@logger.inject_lambda_context
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per call: the local stack runs several calls in one process.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=_record_handler, processor=processor, context=context)
