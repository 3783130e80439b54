"""Lifecycle: DynamoDB-stream-triggered. Turns each batch of the table's changes into status
events, status callbacks to deliver (put on the callbacks queue), batch counters and failure
counts (tamtam.lifecycle.derive). An error fails the whole invocation: the stream source retries
the same records (every step is safe to repeat), and after its retries sends their position to
the lifecycle-failures queue, which has an alarm."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.lifecycle.derive import derive
from tamtam.observability import logger, metrics
from tamtam.settings import get_settings


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    settings = get_settings()
    records = event.get("Records") or []
    derived = derive(records, table=aws.table(settings.table_name), events_client=aws.client("events"),
                     bus=settings.event_bus_name or None, sqs=aws.client("sqs"),
                     status_events=settings.status_events)
    metrics.add_metric(name="StatusEvents", unit="Count", value=derived.events)
    metrics.add_metric(name="CallbacksQueued", unit="Count", value=derived.callbacks)
    logger.debug("changes derived", extra={"records": len(records), "changes": derived.changes,
                                           "batches": derived.batches_moved})
    return {"records": len(records), "changes": derived.changes, "events": derived.events}
