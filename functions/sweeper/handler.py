"""Sweeper: an EventBridge schedule, rate(5 minutes). Walks the open batches and resolves what
the pipeline left behind: counters that disagree with the records (recounted), records still
`queued` or `sending` in a batch that stopped moving (enqueued again), batches whose records
are all final (completed). tamtam.bulk.sweep, docs/lifecycle.md. Each resolution is a metric."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tamtam import aws
from tamtam.bulk.sweep import sweep
from tamtam.observability import logger, metrics
from tamtam.settings import get_settings

_MARGIN_SECONDS = 5.0


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    result = sweep(aws.table(get_settings().table_name), aws.client("sqs"), deadline=deadline)
    metrics.add_metric(name="SweepStalledBatches", unit="Count", value=result.stalled)
    metrics.add_metric(name="SweepRecountedBatches", unit="Count", value=result.recounted)
    metrics.add_metric(name="SweepReenqueuedMessages", unit="Count", value=result.reenqueued)
    metrics.add_metric(name="SweepCompletedBatches", unit="Count", value=result.completed)
    metrics.add_metric(name="SweepAbortedBatches", unit="Count", value=result.aborted)
    logger.info("open batches swept", extra=asdict(result))
    if result.errors:  # every batch was tried; the errors still fail the run (its alarm)
        raise RuntimeError(f"{len(result.errors)} batches not swept: {', '.join(result.errors[:5])}")
    return asdict(result)
