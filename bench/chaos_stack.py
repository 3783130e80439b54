"""How the chaos run's local stack differs from `make run`'s, beyond its environment
(bench.chaos `Plan.env`): a provision() that gives the main queues a short visibility timeout
and the dead-letter queues 30 s (infra's 180 s would make a killed batch wait three minutes; the
DLQs' consumers, the finalizer and fanout_dlq, are killed too). Only this run's emulated queues
change; infra/ and its defaults do not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DLQ_SECONDS = 30  # the DLQs' consumers run longer batches of fewer records


def short_visibility(seconds: int) -> Callable[[str, str, str, str], Any]:
    from local.stack.resources import provision

    def provision_short(endpoint_url: str, region: str, name: str, environment: str) -> Any:
        import boto3

        provisioned = provision(endpoint_url, region, name, environment)
        sqs = boto3.client("sqs", endpoint_url=endpoint_url, region_name=region)
        for key, url in provisioned.queue_urls.items():
            timeout = max(seconds, DLQ_SECONDS) if key.endswith("-dlq") else seconds
            sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(timeout)})
        return provisioned

    return provision_short
