"""Scheduler: an EventBridge schedule, rate(1 minute). Releases the scheduled messages due
within the next minute (tamtam.bulk.schedule, docs/scheduling.md) until its time is nearly
up; what is left is taken by the next run. Errors raise (the schedule retries)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.bulk.schedule import release_due
from tamtam.observability import logger, metrics
from tamtam.settings import get_settings

_MARGIN_SECONDS = 5.0


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    sweep = release_due(aws.table(get_settings().table_name), aws.client("sqs"), deadline=deadline)
    metrics.add_metric(name="ScheduledReleased", unit="Count", value=sweep.released)
    logger.info("scheduled messages released", extra=asdict(sweep))
    return asdict(sweep)
