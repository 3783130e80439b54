"""The static timeout check, for machines without terraform: every SQS event source of
template.yaml, its function's timeout against the visibility timeout infra/ gives that queue.

AWS refuses an SQS event source mapping whose function timeout is longer than the queue's
visibility timeout, and recommends a visibility timeout of at least six times the function
timeout (Lambda developer guide, "Creating and configuring an Amazon SQS event source mapping").

The queue behind an event source is found the way CloudFormation finds it: the event's `Queue`
is an SSM-typed parameter, whose path infra/'s aws_ssm_parameter resources write with the ARN of
one queue. infra/ is evaluated with local.stack.hcl and its variables' defaults; resources are
not created, their attributes stand for themselves (`aws_sqs_queue.dlq["fanout"].arn`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.stack.hcl import Block, Config, HclError, Namespace, Scope, evaluate, load_config
from local.stack.template import SSM_PARAMETER_TYPE, load_template

VISIBILITY_RATIO = 6
SQS_DEFAULT_VISIBILITY = 30  # seconds, when aws_sqs_queue sets no visibility_timeout_seconds
SAM_DEFAULT_TIMEOUT = 3  # seconds, when neither the function nor Globals set Timeout
_ARN = re.compile(r'^(aws_sqs_queue\.[a-z0-9_]+(?:\["[^"]+"\])?)\.arn$')


@dataclass(frozen=True)
class EventSource:
    """One SQS event source: the function, its timeout, the queue and its visibility timeout."""

    function: str  # logical id
    event: str  # the event's name under Events
    timeout: int
    queue: str  # Terraform address of the queue instance
    visibility: int

    def problem(self) -> str | None:
        where = (
            f"{self.function}.{self.event} (timeout {self.timeout} s) "
            f"reads {self.queue} (visibility timeout {self.visibility} s)"
        )
        if self.timeout > self.visibility:
            return f"{where}: the timeout is longer, AWS refuses the event source mapping"
        if self.visibility < VISIBILITY_RATIO * self.timeout:
            return f"{where}: under the {VISIBILITY_RATIO} x AWS recommends ({self.visibility / self.timeout:.1f} x)"
        return None


class _Symbolic:
    """infra/ evaluated without creating anything: a resource attribute evaluates to its own
    address ("aws_sqs_queue.this[\"fanout\"].arn")."""

    def __init__(self, config: Config, variables: Mapping[str, Any]) -> None:
        self.config = config
        self.blocks = {b.address: b for b in config.resources}
        self.locals: dict[str, Any] = {}
        values = {name: spec.get("default") for name, spec in config.variables.items()}
        self.scope = Scope({**values, **variables}, self._local, self._resource, self._data)

    def _local(self, name: str) -> Any:
        if name not in self.locals:
            if name not in self.config.locals:
                raise HclError(f"local.{name} is not defined")
            self.locals[name] = evaluate(self.config.locals[name], self.scope)
        return self.locals[name]

    def _data(self, type_: str, name: str) -> Any:
        return Namespace(f"data.{type_}.{name}", lambda attribute: f"data.{type_}.{name}.{attribute}")

    def _resource(self, type_: str, name: str) -> Any:
        address = f"{type_}.{name}"
        if address not in self.blocks:
            raise HclError(f"{address} is not declared")
        keys = self.instances(self.blocks[address])
        if keys is None:
            return Namespace(address, lambda attribute: f"{address}.{attribute}")
        return {key: Namespace(f'{address}["{key}"]', lambda attribute, key=key: f'{address}["{key}"].{attribute}')
                for key in keys}

    def instances(self, block: Block) -> dict[str, Any] | None:
        """for_each key -> each.value, or None for a block without for_each."""
        if "for_each" not in block.body:
            return None
        items = evaluate(block.body["for_each"], self.scope)
        return dict(items) if isinstance(items, dict) else {str(item): item for item in items}

    def attribute(self, block: Block, key: str | None, name: str, default: Any = None) -> Any:
        if name not in block.body:
            return default
        scope = self.scope if key is None else self.scope.with_each(key, self.instances(block)[key])
        return evaluate(block.body[name], scope)


def infra_queues(config: Config, name: str, environment: str) -> tuple[dict[str, str], dict[str, int]]:
    """(SSM name -> the queue instance whose ARN it holds, queue instance -> visibility timeout)."""
    infra = _Symbolic(config, {"name": name, "environment": environment})
    visibility: dict[str, int] = {}
    ssm: dict[str, str] = {}
    for block in config.resources:
        if block.type not in ("aws_sqs_queue", "aws_ssm_parameter"):
            continue
        keys = infra.instances(block)
        for key in [None] if keys is None else sorted(keys):
            address = block.address if key is None else f'{block.address}["{key}"]'
            if block.type == "aws_sqs_queue":
                visibility[address] = int(
                    infra.attribute(block, key, "visibility_timeout_seconds", SQS_DEFAULT_VISIBILITY)
                )
            elif match := _ARN.match(str(infra.attribute(block, key, "value", ""))):
                ssm[str(infra.attribute(block, key, "name"))] = match.group(1)
    return ssm, visibility


def event_sources(template: Mapping[str, Any], config: Config) -> list[EventSource]:
    """Every SQS event source of the template with its figures. Raises HclError when an
    event's queue cannot be traced to a queue of infra/ (that is never skipped)."""
    parameters = template.get("Parameters") or {}
    ssm, visibility = infra_queues(config, parameters["Name"]["Default"], parameters["Environment"]["Default"])
    defaults = (template.get("Globals") or {}).get("Function") or {}
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **(resource.get("Properties") or {})}
        timeout = int(_value(properties.get("Timeout", SAM_DEFAULT_TIMEOUT), parameters, logical_id))
        for event_name, event in (properties.get("Events") or {}).items():
            if event.get("Type") != "SQS":
                continue
            queue = (event.get("Properties") or {}).get("Queue")
            reference = queue.get("Ref") if isinstance(queue, dict) else None
            spec = parameters.get(reference or "", {})
            if spec.get("Type") != SSM_PARAMETER_TYPE:
                raise HclError(
                    f"{logical_id}.{event_name}: Queue {queue!r} is not an SSM-typed parameter of infra/'s queues"
                )
            path = spec.get("Default")
            if path not in ssm:
                raise HclError(
                    f"{logical_id}.{event_name}: {reference} reads {path}, which infra/ does not write with a queue ARN"
                )
            found.append(EventSource(logical_id, event_name, timeout, ssm[path], visibility[ssm[path]]))
    return found


def _value(value: Any, parameters: Mapping[str, Any], where: str) -> Any:
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]["Default"]
    if isinstance(value, dict):
        raise HclError(f"{where}: Timeout {value!r} is not a number or a parameter with a default")
    return value


def check(template_path: Path, infra: Path) -> tuple[list[EventSource], list[str]]:
    """The event sources of `template_path` against `infra`, and the problems among them."""
    sources = event_sources(load_template(template_path), load_config(infra))
    return sources, [p for s in sources if (p := s.problem())]
