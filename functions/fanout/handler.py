"""Fan-out: SQS-triggered on the `fanout` queue (ReportBatchItemFailures). A chunk job expands
recipients into message records and bulk-queue messages (tamtam.bulk.fanout); a cancel job
continues a batch cancellation (tamtam.bulk.cancel). A chunk of a batch still being accepted
comes back a few seconds later; any other failure leaves only that record on the queue."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from tamtam import aws
from tamtam.bulk.fanout import ChunkJob, NotReady, process_chunk
from tamtam.bulk.jobs import continue_cancel
from tamtam.observability import logger, metrics
from tamtam.queue_bodies import CancelBody, parse_fanout
from tamtam.settings import get_settings
from tamtam.sqs_records import SqsRecord, partial_response

_MARGIN_SECONDS = 5.0


def _retry_soon(record: SqsRecord, seconds: int) -> None:
    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=get_settings().queue_urls["fanout"], ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds
        )
    except (ClientError, KeyError):  # the queue's own visibility timeout applies instead
        logger.warning("could not shorten the retry delay", extra={"message_id": record.message_id})


def record_handler(record: SqsRecord, lambda_context: LambdaContext) -> None:
    body = parse_fanout(record.body)
    deadline = time.monotonic() + lambda_context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    if isinstance(body, CancelBody):
        continue_cancel(body, table=aws.table(get_settings().table_name), sqs=aws.client("sqs"), deadline=deadline)
        return
    job = ChunkJob(batch_id=body.batch_id, tenant_id=body.tenant_id, chunk=body.chunk, recipients=body.recipients)
    try:
        result = process_chunk(job, table=aws.table(get_settings().table_name), sqs=aws.client("sqs"))
    except NotReady as exc:  # the batch still being accepted, or the chunk in progress in another delivery
        _retry_soon(record, exc.retry_after)
        raise
    metrics.add_metric(name=f"Fanout_{result}", unit="Count", value=1)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(event, lambda record: record_handler(record, context))
