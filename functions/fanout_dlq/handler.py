"""Fan-out DLQ: SQS-triggered on the fan-out queue's dead-letter queue (ReportBatchItemFailures).
A chunk that exhausted its deliveries is resolved (tamtam.bulk.dead_chunks): its recipients
without a record are written `failed/fanout_failed`, its orphans enqueued again, the chunk
completed, so its batch completes. A dead cancel job is continued once more. Each resolution is
a metric; a failure leaves only that record on the DLQ (and its alarm)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.bulk.dead_chunks import resolve
from tamtam.bulk.fanout import ChunkJob
from tamtam.bulk.jobs import continue_cancel
from tamtam.observability import logger, metrics
from tamtam.queue_bodies import CancelBody, parse_fanout
from tamtam.settings import get_settings
from tamtam.sqs_records import SqsRecord, partial_response

_MARGIN_SECONDS = 5.0


def record_handler(record: SqsRecord, lambda_context: LambdaContext) -> None:
    body = parse_fanout(record.body)
    table = aws.table(get_settings().table_name)
    if isinstance(body, CancelBody):
        deadline = time.monotonic() + lambda_context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
        continue_cancel(body, table=table, sqs=aws.client("sqs"), deadline=deadline)
        metrics.add_metric(name="FanoutDeadCancel", unit="Count", value=1)
        return
    job = ChunkJob(batch_id=body.batch_id, tenant_id=body.tenant_id, chunk=body.chunk, recipients=body.recipients)
    resolution = resolve(job, table=table, sqs=aws.client("sqs"))
    metrics.add_metric(name="FanoutDeadChunk", unit="Count", value=1)
    metrics.add_metric(name="FanoutDeadRecipients", unit="Count", value=resolution.failed)
    logger.info(
        "dead chunk handled", extra={"batch_id": body.batch_id, "chunk": body.chunk, "result": resolution.result}
    )


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return partial_response(event, lambda record: record_handler(record, context))
