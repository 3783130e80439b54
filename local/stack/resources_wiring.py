"""The local stack's handlers for infra/'s wiring between the bus and the queues: event rules,
their targets, queue policies (registered in local.stack.resources.RESOURCE_HANDLERS, same
contract: refuse unknown arguments, create through boto3, return the readable attributes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from local.stack.hcl import HclError

Clients = Callable[[str], Any]


def _check(address: str, body: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    unknown, missing = set(body) - allowed, required - set(body)
    if unknown:
        raise HclError(f"{address}: arguments {sorted(unknown)} are not supported by the local stack")
    if missing:
        raise HclError(f"{address}: missing arguments {sorted(missing)}")


def event_rule(clients: Clients, address: str, body: dict[str, Any]) -> dict[str, Any]:
    _check(address, body, {"name", "description", "event_bus_name", "event_pattern", "tags"}, {"name", "event_pattern"})
    arguments: dict[str, Any] = {
        "Name": body["name"], "EventPattern": body["event_pattern"], "State": "ENABLED",
        "Tags": [{"Key": k, "Value": str(v)} for k, v in sorted((body.get("tags") or {}).items())],
    }
    if "description" in body:
        arguments["Description"] = body["description"]
    if "event_bus_name" in body:
        arguments["EventBusName"] = body["event_bus_name"]
    arn = clients("events").put_rule(**arguments)["RuleArn"]
    return {"name": body["name"], "arn": arn, "id": body["name"]}


def event_target(clients: Clients, address: str, body: dict[str, Any]) -> dict[str, Any]:
    _check(address, body, {"rule", "event_bus_name", "target_id", "arn"}, {"rule", "arn"})
    target_id = body.get("target_id") or body["rule"]
    arguments: dict[str, Any] = {"Rule": body["rule"], "Targets": [{"Id": target_id, "Arn": body["arn"]}]}
    if "event_bus_name" in body:
        arguments["EventBusName"] = body["event_bus_name"]
    answer = clients("events").put_targets(**arguments)
    if answer.get("FailedEntryCount"):
        raise HclError(f"{address}: the target was refused: {answer.get('FailedEntries')}")
    return {"rule": body["rule"], "target_id": target_id, "arn": body["arn"], "id": f"{body['rule']}-{target_id}"}


def sqs_queue_policy(clients: Clients, address: str, body: dict[str, Any]) -> dict[str, Any]:
    _check(address, body, {"queue_url", "policy"}, {"queue_url", "policy"})
    policy = body["policy"] if isinstance(body["policy"], str) else json.dumps(body["policy"])
    clients("sqs").set_queue_attributes(QueueUrl=body["queue_url"], Attributes={"Policy": policy})
    return {"queue_url": body["queue_url"], "policy": policy, "id": body["queue_url"]}


HANDLERS = {
    "aws_cloudwatch_event_rule": event_rule,
    "aws_cloudwatch_event_target": event_target,
    "aws_sqs_queue_policy": sqs_queue_policy,
}
