"""Ingest: send requests from other services, SQS-triggered on the `ingest` queue (fed directly
and by the bus rule of infra/ingest.tf), with ReportBatchItemFailures.

Each record goes through tamtam.ingest: who speaks for whom first (its sender or its event's
source must be configured, and that source allowed the request's tenant: ingest.door), then the
API's validation, the tenant must exist, at most once per idempotency key. A request that can
never succeed is put on the ingest dead-letter queue at once, with its reason in message
attributes (`reason`, `reason_message`, `field`, `source`, `sender_id`), and its record reported
done: it is never retried. A transient failure (DynamoDB, SQS, SSM) fails only that record: SQS
delivers it again, up to the queue's maxReceiveCount, then moves it to the same dead-letter
queue."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ingest import door
from tamtam import aws, ingest, queues
from tamtam.observability import capture_lambda_handler, logger, metrics
from tamtam.settings import get_settings
from tamtam.sqs_records import SqsRecord, partial_response


@cache
def _dead_letter_url(queue_url: str) -> str:
    """The dead-letter queue the queue's redrive policy names (infra/queues.tf)."""
    sqs = aws.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    policy = attributes["RedrivePolicy"]
    arn = json.loads(policy)["deadLetterTargetArn"]
    _, _, _, _, account, name = arn.split(":")
    return str(sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


def _attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value[:256]}


# Refused for who sent it, not for what it asks: counted apart (IngestRefused) from the others.
_REFUSALS = frozenset({"unknown_sender", "unknown_source", "source_mismatch", "tenant_not_allowed"})


def _sender_id(record: SqsRecord) -> str | None:
    """SQS's SenderId: the unique id of the IAM user, or of the role then `:<session>`, that sent it."""
    return (record.raw_event.get("attributes") or {}).get("SenderId")


def _dead_letter(record: SqsRecord, rejected: ingest.Rejected, source: str | None) -> None:
    attributes = {
        "reason": _attribute(rejected.reason),
        "reason_message": _attribute(rejected.message or rejected.reason),
    }
    if rejected.field:
        attributes["field"] = _attribute(rejected.field)
    if rejected.source or source:
        attributes["source"] = _attribute(str(rejected.source or source))
    if _sender_id(record):
        attributes["sender_id"] = _attribute(str(_sender_id(record)))
    aws.client("sqs").send_message(
        QueueUrl=_dead_letter_url(queues.queue_url("ingest")), MessageBody=record.body, MessageAttributes=attributes
    )


def _record_handler(record: SqsRecord, lambda_context: LambdaContext | None = None) -> None:
    source = None
    try:
        request = ingest.parse(record.body, message_id=record.message_id)
        source = ingest.speaker(request, _sender_id(record), door.door())
        accepted = ingest.accept(request, table=aws.table(get_settings().table_name), sqs=aws.client("sqs"),
                                 lambda_context=lambda_context)
    except ingest.Rejected as rejected:
        _dead_letter(record, rejected, source)  # if this fails, the record fails and comes back
        refused = rejected.reason in _REFUSALS
        metrics.add_metric(name="IngestRefused" if refused else "IngestRejected", unit="Count", value=1)
        logger.warning("ingest request rejected", extra={"sqs_message_id": record.message_id, "reason": rejected.reason,
                                                         "field": rejected.field, "source": rejected.source or source,
                                                         "sender_id": _sender_id(record)})
        return
    metrics.add_metric(name="IngestAccepted", unit="Count", value=1)
    logger.info("ingest request accepted", extra={"sqs_message_id": record.message_id, "source": source, **accepted})


@metrics.log_metrics
@logger.inject_lambda_context
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(event, lambda record: _record_handler(record, context))
