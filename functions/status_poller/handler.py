"""Status poller (EventBridge schedule): asks the providers that answer status queries about
messages still `sent`, moves them to delivered/failed, and expires those past the window.
The window and the bounds come from the schedule's Input (`PollerInput`), defaults otherwise."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from status_poller.poll import PollerInput, run
from tamtam import aws
from tamtam.messaging.clients import ClientCache
from tamtam.observability import capture_lambda_handler, logger, metrics
from tamtam.secrets import provider_secret
from tamtam.settings import get_settings

_clients = ClientCache(provider_secret)
_SAFETY_SECONDS = 5.0  # stop asking providers this long before the function's timeout


@metrics.log_metrics
@logger.inject_lambda_context
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    inp = PollerInput.model_validate(event if isinstance(event, dict) else {})
    remaining = context.get_remaining_time_in_millis() / 1000
    deadline = time.monotonic() + max(remaining - _SAFETY_SECONDS, 1.0)
    summary = run(inp, table=aws.table(get_settings().table_name), clients=_clients, deadline=deadline)
    for outcome, count in summary.items():
        metrics.add_metric(name=f"StatusPoll_{outcome}", unit="Count", value=count)
    return summary
