"""Callbacks: SQS-triggered on the `callbacks` queue (fed by the lifecycle function), with
ReportBatchItemFailures. Each record is one event for one receiver (tamtam.callbacks.delivery):
the records of a batch are POSTed at once, each within its own 10 s, so a slow receiver holds
one thread, not the batch. A failed POST is not a failed record (its retry is a new queue
message with a delay); a record fails only when an AWS call failed, and then comes back."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from tamtam import aws
from tamtam.callbacks.delivery import Outcome, dead_letter, deliver
from tamtam.observability import capture_lambda_handler, logger, metrics
from tamtam.queue_bodies import DeliveryBody
from tamtam.settings import get_settings

_pool = ThreadPoolExecutor(max_workers=10, thread_name_prefix="callbacks")
METRICS = {Outcome.DELIVERED: "CallbacksDelivered", Outcome.RETRY: "CallbackAttemptsFailed",
           Outcome.DEAD: "CallbacksDeadLettered", Outcome.GONE: "CallbackEndpointsGone",
           Outcome.DROPPED: "CallbacksDropped"}


def _one(record: dict[str, Any]) -> Outcome:
    sqs = aws.client("sqs")
    try:
        body = DeliveryBody.parse(record["body"])
    except ValidationError:
        dead_letter(sqs, record["body"], "invalid_body")
        logger.error("callback body refused", extra={"sqs_message_id": record["messageId"]})
        return Outcome.DEAD
    result = deliver(body, table=aws.table(get_settings().table_name), sqs=sqs)
    if result.outcome in (Outcome.DEAD, Outcome.GONE, Outcome.DROPPED):
        logger.warning("callback ended undelivered", extra={"event_id": body.event["id"], "receiver": body.receiver,
                                                            "outcome": result.outcome.value, "reason": result.reason})
    return result.outcome


@metrics.log_metrics
@logger.inject_lambda_context
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    futures = [(record, _pool.submit(_one, record)) for record in records]
    failures, outcomes = [], Counter[Outcome]()
    for record, future in futures:
        try:
            outcomes[future.result()] += 1
        except Exception:  # noqa: BLE001  (an AWS call failed: this record comes back)
            logger.exception("callback record failed", extra={"sqs_message_id": record["messageId"]})
            failures.append({"itemIdentifier": record["messageId"]})
    for outcome, count in outcomes.items():
        if outcome in METRICS:
            metrics.add_metric(name=METRICS[outcome], unit="Count", value=count)
    logger.debug("callbacks handled", extra={"records": len(records), "outcomes": json.dumps(outcomes)})
    return {"batchItemFailures": failures}
