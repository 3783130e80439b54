"""Provision the local stack in a running moto server from the same definitions that deploy it.

`provision()` creates exactly the resources declared in infra/*.tf (evaluated by local.stack.hcl,
created by the handlers below), then reads template.yaml (local.stack.template) and returns a
Provisioned: the functions' shared environment, each function's code and triggers, the API's
authorizer and gateway responses, and the names of what was created. Nothing is listed twice:
adding a queue in infra/ or a function in template.yaml is all the local stack needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from local.stack.hcl import Block, Config, HclError, Scope, evaluate, load_config
from local.stack.resources_wiring import HANDLERS as WIRING_HANDLERS
from local.stack.template import (
    ApiEventSource,
    AuthorizerSpec,
    FunctionSpec,
    GatewayResponseSpec,
    Resolver,
    ScheduleEventSource,
    SqsEventSource,
    TemplateError,
    load_template,
    read_api,
    read_function,
)

__all__ = [
    "ApiEventSource", "AuthorizerSpec", "FunctionSpec", "GatewayResponseSpec", "HclError", "Provisioned",
    "ScheduleEventSource", "SqsEventSource", "TemplateError", "provision",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
# The Terraform outputs Provisioned is built from (infra/outputs.tf).
REQUIRED_OUTPUTS = ("sqs_queue_urls", "sqs_queue_arns", "sqs_dlq_urls", "sqs_dlq_arns", "secretsmanager_secret_arns",
                    "otp_pepper_secret_arn", "dynamodb_table_name", "cloudwatch_event_bus_name")
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass(frozen=True)
class Provisioned:
    """What provision() created and what the local gateway, pollers and schedules need.

    function_env: the Globals environment of template.yaml, resolved (TABLE_NAME, QUEUE_URLS,
        PROVIDER_SECRETS, EVENT_BUS_NAME, POWERTOOLS_*): every function runs with it.
    functions: logical id -> FunctionSpec (code, handler, SQS/Api/Schedule event sources).
    authorizer: the API's REQUEST authorizer (None if the API has none).
    gateway_responses: response type ("UNAUTHORIZED", "DEFAULT_4XX"...) -> status and body.
    queue_urls: queue key -> URL, main queues ("passeinfo-tx", "fanout"...) and their DLQs
        ("passeinfo-tx-dlq"...); queue_arns: the same keys -> ARN.
    secret_ids: provider -> secret ARN (created empty: put the values before use).
    otp_pepper_secret_id: ARN of the OTP pepper secret (created empty).
    table_name, bus_name: the DynamoDB table and the EventBridge bus.
    ssm_parameters: SSM name -> value of every parameter infra/ publishes.
    outputs: infra/'s Terraform outputs, evaluated.
    """

    function_env: dict[str, str]
    functions: dict[str, FunctionSpec]
    authorizer: AuthorizerSpec | None
    gateway_responses: dict[str, GatewayResponseSpec]
    queue_urls: dict[str, str]
    queue_arns: dict[str, str]
    secret_ids: dict[str, str]
    otp_pepper_secret_id: str
    table_name: str
    bus_name: str
    ssm_parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


def provision(endpoint_url: str, region: str, name: str = "tamtam", environment: str = "local", *,
              infra_dir: Path | None = None, template_path: Path | None = None,
              variables: Mapping[str, Any] | None = None) -> Provisioned:
    """Create infra/'s resources in the moto server at `endpoint_url` and read template.yaml.

    `name` and `environment` are infra/'s var.name / var.environment and the template's Name /
    Environment parameters; the template's SSM parameter defaults (written for its own defaults)
    are remapped to /<name>/<environment>/..., as `sam deploy --parameter-overrides` would be.
    `variables`: other infra/ variables, as `terraform apply -var` would give them.
    """
    session = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service, endpoint_url=endpoint_url)
        return clients[service]

    config = load_config(infra_dir or REPO_ROOT / "infra")
    infra = _Terraform(config, client, region, {**(variables or {}), "name": name, "environment": environment})
    infra.apply()
    outputs = infra.outputs()
    template = load_template(template_path or REPO_ROOT / "template.yaml")
    return _read_application(template, outputs, infra.ssm_values(), client, region, name, environment,
                             (template_path or REPO_ROOT / "template.yaml").parent)


class _Terraform:
    """Evaluates infra/ lazily: a resource is created the first time something refers to it."""

    def __init__(self, config: Config, client: Callable[[str], Any], region: str, variables: Mapping[str, Any]):
        self.config = config
        self.client = client
        self.region = region
        self.variables = self._variables(variables)
        self.blocks = {b.address: b for b in config.resources}
        self.data_blocks = {b.address: b for b in config.data}
        self.values: dict[str, Any] = {}
        self.pending: set[str] = set()
        self.scope = Scope(self.variables, self._local, self._resource, self._data)

    def _variables(self, given: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(given) - set(self.config.variables)
        if unknown:
            raise HclError(f"variables {sorted(unknown)} are not declared in infra/")
        values = {}
        for variable, spec in self.config.variables.items():
            if variable not in given and "default" not in spec:
                raise HclError(f"var.{variable} has no default and no value was given")
            values[variable] = given.get(variable, spec.get("default"))
        return values

    def _once(self, key: str, compute: Callable[[], Any]) -> Any:
        if key in self.values:
            return self.values[key]
        if key in self.pending:
            raise HclError(f"{key} depends on itself")
        self.pending.add(key)
        self.values[key] = compute()
        self.pending.discard(key)
        return self.values[key]

    def _local(self, local: str) -> Any:
        if local not in self.config.locals:
            raise HclError(f"local.{local} is not defined")
        return self._once(f"local.{local}", lambda: evaluate(self.config.locals[local], self.scope))

    def _data(self, type_: str, data_name: str) -> Any:
        address = f"data.{type_}.{data_name}"
        if f"{type_}.{data_name}" not in self.data_blocks:
            raise HclError(f"{address} is not declared")
        body = evaluate(self.data_blocks[f"{type_}.{data_name}"].body, self.scope)
        return self._once(address, lambda: read_data(self.client, self.region, type_, address, body))

    def _resource(self, type_: str, resource_name: str) -> Any:
        address = f"{type_}.{resource_name}"
        if address not in self.blocks:
            raise HclError(f"{address} is not declared")
        return self._once(address, lambda: self._create(self.blocks[address]))

    def _create(self, block: Block) -> Any:
        if block.type not in RESOURCE_HANDLERS:
            raise HclError(
                f"{block.address} ({block.file}): resource type {block.type} is not supported by the local stack"
            )
        handler = RESOURCE_HANDLERS[block.type]
        body = dict(block.body)
        for meta in ("count", "provider", "depends_on", "lifecycle"):
            if meta in body:
                raise HclError(f"{block.address}: meta-argument {meta} is not supported by the local stack")
        if "for_each" not in body:
            return handler(self.client, block.address, evaluate(body, self.scope))
        items = evaluate(body.pop("for_each"), self.scope)
        pairs = items.items() if isinstance(items, dict) else ((item, item) for item in items)
        instances = {}
        for key, value in pairs:
            scope = self.scope.with_each(key, value)
            instances[key] = handler(self.client, f"{block.address}[{key!r}]", evaluate(body, scope))
        return instances

    def apply(self) -> None:
        for block in self.config.resources:
            self._resource(block.type, block.name)

    def outputs(self) -> dict[str, Any]:
        result = {}
        for output, spec in self.config.outputs.items():
            if "value" not in spec:
                raise HclError(f"output.{output} has no value")
            result[output] = evaluate(spec["value"], self.scope)
        return result

    def ssm_values(self) -> dict[str, str]:
        """Name -> value of every aws_ssm_parameter created."""
        values: dict[str, str] = {}
        for block in self.config.resources:
            if block.type != "aws_ssm_parameter":
                continue
            created = self.values[block.address]
            for instance in (created.values() if "for_each" in block.body else [created]):
                values[instance["name"]] = instance["value"]
        return values


def _read_application(template: Mapping[str, Any], outputs: Mapping[str, Any], ssm_values: dict[str, str],
                      client: Callable[[str], Any], region: str, name: str, environment: str,
                      root: Path) -> Provisioned:
    missing = [o for o in REQUIRED_OUTPUTS if o not in outputs]
    if missing:
        raise HclError(f"infra/ must declare the outputs {missing}: the local stack reads them")
    parameters = template.get("Parameters", {})
    prefix = f"/{parameters['Name']['Default']}/{parameters['Environment']['Default']}/"

    def remap(path: str) -> str:
        if not path.startswith(prefix):
            raise TemplateError(f"SSM parameter default {path} is not under {prefix}")
        return f"/{name}/{environment}/" + path[len(prefix):]

    def read_ssm(path: str) -> str:
        if path not in ssm_values:
            raise TemplateError(f"template.yaml reads the SSM parameter {path}, which infra/ does not write")
        return client("ssm").get_parameter(Name=path)["Parameter"]["Value"]

    account = client("sts").get_caller_identity()["Account"]
    resolver = Resolver(
        parameters=parameters, overrides={"Name": name, "Environment": environment},
        pseudo={"AWS::Region": region, "AWS::AccountId": account, "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": f"{name}-{environment}"},
        ssm=read_ssm, remap_ssm_path=remap,
    )
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    env = resolver.resolve((globals_.get("Environment") or {}).get("Variables") or {})
    queue_urls = {**outputs["sqs_queue_urls"], **{f"{k}-dlq": u for k, u in outputs["sqs_dlq_urls"].items()}}
    queue_arns = {**outputs["sqs_queue_arns"], **{f"{k}-dlq": a for k, a in outputs["sqs_dlq_arns"].items()}}
    key_of_arn = {arn: key for key, arn in queue_arns.items()}
    api, authorizer, responses = read_api(template)
    function_globals = {k: v for k, v in globals_.items() if k != "Environment"}
    functions = {
        logical_id: read_function(logical_id, resource, function_globals, root, resolver, key_of_arn, queue_urls, api)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    return Provisioned(
        function_env={k: v if isinstance(v, str) else json.dumps(v) for k, v in env.items()},
        functions=functions, authorizer=authorizer, gateway_responses=responses,
        queue_urls=queue_urls, queue_arns=queue_arns,
        secret_ids=dict(outputs["secretsmanager_secret_arns"]),
        otp_pepper_secret_id=outputs["otp_pepper_secret_arn"],
        table_name=outputs["dynamodb_table_name"], bus_name=outputs["cloudwatch_event_bus_name"],
        ssm_parameters=ssm_values, outputs=dict(outputs),
    )


# ---------------------------------------------------------------------------------------------
# One handler per resource type of infra/. Each refuses arguments it does not know (a new
# argument in infra/ must be taught here, never dropped), creates the resource through boto3 and
# returns the attributes expressions may read (`aws_sqs_queue.this["x"].url`).
# ---------------------------------------------------------------------------------------------

Clients = Callable[[str], Any]  # service name -> boto3 client
Attributes = dict[str, Any]


def _take(address: str, body: dict[str, Any], allowed: set[str], required: set[str]) -> dict[str, Any]:
    unknown = set(body) - allowed
    if unknown:
        raise HclError(f"{address}: arguments {sorted(unknown)} are not supported by the local stack")
    missing = required - set(body)
    if missing:
        raise HclError(f"{address}: missing arguments {sorted(missing)}")
    return body


def _one_block(address: str, body: dict[str, Any], name: str) -> dict[str, Any] | None:
    blocks = body.get(name)
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) != 1:
        raise HclError(f"{address}: expected one {name} block, got {blocks!r}")
    return blocks[0]


def _tag_list(tags: dict[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: str(v)} for k, v in sorted((tags or {}).items())]


def kms_key(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    allowed = {"description", "enable_key_rotation", "deletion_window_in_days", "policy", "tags"}
    _take(address, body, allowed, set())
    kms = clients("kms")
    arguments: dict[str, Any] = {
        "Description": body.get("description", ""),
        "Tags": _tag_list(body.get("tags"), "TagKey", "TagValue"),
    }
    if "policy" in body:
        arguments["Policy"] = body["policy"]
    metadata = kms.create_key(**arguments)["KeyMetadata"]
    if body.get("enable_key_rotation"):
        kms.enable_key_rotation(KeyId=metadata["KeyId"])
    return {"arn": metadata["Arn"], "key_id": metadata["KeyId"], "id": metadata["KeyId"]}


def kms_alias(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"name", "target_key_id"}, {"name", "target_key_id"})
    clients("kms").create_alias(AliasName=body["name"], TargetKeyId=body["target_key_id"])
    return {"name": body["name"], "id": body["name"], "target_key_id": body["target_key_id"]}


def dynamodb_table(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    allowed = {"name", "billing_mode", "hash_key", "range_key", "deletion_protection_enabled", "attribute",
               "global_secondary_index", "ttl", "point_in_time_recovery", "server_side_encryption", "tags",
               "stream_enabled", "stream_view_type"}
    _take(address, body, allowed, {"name", "hash_key", "attribute", "billing_mode"})
    if body["billing_mode"] != "PAY_PER_REQUEST":
        raise HclError(f"{address}: only billing_mode PAY_PER_REQUEST is supported")
    key_schema = [{"AttributeName": body["hash_key"], "KeyType": "HASH"}]
    if "range_key" in body:
        key_schema.append({"AttributeName": body["range_key"], "KeyType": "RANGE"})
    arguments: dict[str, Any] = {
        "TableName": body["name"],
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": key_schema,
        "AttributeDefinitions": [{"AttributeName": a["name"], "AttributeType": a["type"]} for a in body["attribute"]],
        "DeletionProtectionEnabled": bool(body.get("deletion_protection_enabled", False)),
        "Tags": _tag_list(body.get("tags")),
    }
    indexes = [_global_index(address, index) for index in body.get("global_secondary_index", [])]
    if indexes:
        arguments["GlobalSecondaryIndexes"] = indexes
    sse = _one_block(address, body, "server_side_encryption")
    if sse and sse.get("enabled"):
        arguments["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": sse["kms_key_arn"]}
    if body.get("stream_enabled"):
        arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": body["stream_view_type"]}
    dynamodb = clients("dynamodb")
    table = dynamodb.create_table(**arguments)["TableDescription"]
    ttl = _one_block(address, body, "ttl")
    if ttl and ttl.get("enabled"):
        dynamodb.update_time_to_live(
            TableName=body["name"], TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attribute_name"]})
    pitr = _one_block(address, body, "point_in_time_recovery")
    if pitr and pitr.get("enabled"):
        dynamodb.update_continuous_backups(
            TableName=body["name"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return {"name": body["name"], "id": body["name"], "arn": table["TableArn"],
            "stream_arn": table.get("LatestStreamArn", "")}


def _global_index(address: str, index: dict[str, Any]) -> dict[str, Any]:
    allowed = {"name", "hash_key", "range_key", "projection_type", "non_key_attributes"}
    _take(f"{address} global_secondary_index", index, allowed, {"name", "hash_key", "projection_type"})
    schema = [{"AttributeName": index["hash_key"], "KeyType": "HASH"}]
    if "range_key" in index:
        schema.append({"AttributeName": index["range_key"], "KeyType": "RANGE"})
    return {"IndexName": index["name"], "KeySchema": schema, "Projection": _projection(address, index)}


def _projection(address: str, index: dict[str, Any]) -> dict[str, Any]:
    kind, attributes = index["projection_type"], index.get("non_key_attributes")
    if kind not in ("ALL", "KEYS_ONLY", "INCLUDE"):
        raise HclError(f"{address}: projection_type {kind!r} is not a DynamoDB projection")
    if (kind == "INCLUDE") != bool(attributes):
        raise HclError(f"{address}: non_key_attributes go with projection_type INCLUDE, and only with it")
    return {"ProjectionType": kind, **({"NonKeyAttributes": list(attributes)} if attributes else {})}


_QUEUE_ATTRIBUTES = {
    "visibility_timeout_seconds": "VisibilityTimeout",
    "message_retention_seconds": "MessageRetentionPeriod",
    "kms_master_key_id": "KmsMasterKeyId",
    "kms_data_key_reuse_period_seconds": "KmsDataKeyReusePeriodSeconds",
    "redrive_policy": "RedrivePolicy",
}


def sqs_queue(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"name", "tags", *_QUEUE_ATTRIBUTES}, {"name"})
    attributes = {_QUEUE_ATTRIBUTES[k]: str(v) for k, v in body.items() if k in _QUEUE_ATTRIBUTES}
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName=body["name"], Attributes=attributes,
                           tags={k: str(v) for k, v in (body.get("tags") or {}).items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"name": body["name"], "url": url, "id": url, "arn": arn}


def secretsmanager_secret(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"name", "description", "kms_key_id", "recovery_window_in_days", "tags"}, {"name"})
    arguments: dict[str, Any] = {"Name": body["name"], "Description": body.get("description", ""),
                                 "Tags": _tag_list(body.get("tags"))}
    if "kms_key_id" in body:
        arguments["KmsKeyId"] = body["kms_key_id"]
    arn = clients("secretsmanager").create_secret(**arguments)["ARN"]  # no value: the caller sets it
    return {"name": body["name"], "arn": arn, "id": arn}


def event_bus(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"name", "tags"}, {"name"})
    arn = clients("events").create_event_bus(Name=body["name"], Tags=_tag_list(body.get("tags")))["EventBusArn"]
    return {"name": body["name"], "arn": arn, "id": body["name"]}


def sns_topic(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"name", "kms_master_key_id", "tags"}, {"name"})
    attributes = {"KmsMasterKeyId": body["kms_master_key_id"]} if "kms_master_key_id" in body else {}
    arn = clients("sns").create_topic(Name=body["name"], Attributes=attributes, Tags=_tag_list(body.get("tags")))[
        "TopicArn"
    ]
    return {"name": body["name"], "arn": arn, "id": arn}


def sns_topic_subscription(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"topic_arn", "protocol", "endpoint"}, {"topic_arn", "protocol", "endpoint"})
    arn = clients("sns").subscribe(TopicArn=body["topic_arn"], Protocol=body["protocol"], Endpoint=body["endpoint"])[
        "SubscriptionArn"]
    return {"arn": arn, "id": arn}


_ALARM_ARGUMENTS = {
    "alarm_name": "AlarmName", "alarm_description": "AlarmDescription", "namespace": "Namespace",
    "metric_name": "MetricName", "statistic": "Statistic", "period": "Period",
    "evaluation_periods": "EvaluationPeriods", "threshold": "Threshold",
    "comparison_operator": "ComparisonOperator", "treat_missing_data": "TreatMissingData",
    "alarm_actions": "AlarmActions", "ok_actions": "OKActions",
}


def metric_alarm(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"dimensions", "tags", *_ALARM_ARGUMENTS}, {"alarm_name", "comparison_operator"})
    arguments = {_ALARM_ARGUMENTS[k]: v for k, v in body.items() if k in _ALARM_ARGUMENTS}
    arguments["Dimensions"] = [{"Name": k, "Value": str(v)} for k, v in (body.get("dimensions") or {}).items()]
    arguments["Tags"] = _tag_list(body.get("tags"))
    cloudwatch = clients("cloudwatch")
    cloudwatch.put_metric_alarm(**arguments)
    arn = cloudwatch.describe_alarms(AlarmNames=[body["alarm_name"]])["MetricAlarms"][0]["AlarmArn"]
    return {"alarm_name": body["alarm_name"], "arn": arn, "id": body["alarm_name"]}


def ssm_parameter(clients: Clients, address: str, body: dict[str, Any]) -> Attributes:
    _take(address, body, {"name", "type", "tier", "value", "tags"}, {"name", "type", "value"})
    value = body["value"] if isinstance(body["value"], str) else json.dumps(body["value"])
    ssm = clients("ssm")
    ssm.put_parameter(Name=body["name"], Type=body["type"], Tier=body.get("tier", "Standard"), Value=value,
                      Tags=_tag_list(body.get("tags")))
    arn = ssm.get_parameter(Name=body["name"])["Parameter"]["ARN"]
    return {"name": body["name"], "arn": arn, "value": value, "id": body["name"]}


RESOURCE_HANDLERS: dict[str, Callable[[Clients, str, dict[str, Any]], Attributes]] = {
    "aws_kms_key": kms_key,
    "aws_kms_alias": kms_alias,
    "aws_dynamodb_table": dynamodb_table,
    "aws_sqs_queue": sqs_queue,
    "aws_secretsmanager_secret": secretsmanager_secret,
    "aws_cloudwatch_event_bus": event_bus,
    "aws_sns_topic": sns_topic,
    "aws_sns_topic_subscription": sns_topic_subscription,
    "aws_cloudwatch_metric_alarm": metric_alarm,
    "aws_ssm_parameter": ssm_parameter,
    **WIRING_HANDLERS,
}


def read_data(clients: Clients, region: str, type_: str, address: str, body: dict[str, Any]) -> Attributes:
    """The data sources infra/ reads: who am I, which partition, which region."""
    if body:
        raise HclError(f"{address}: arguments {sorted(body)} are not supported by the local stack")
    if type_ == "aws_caller_identity":
        identity = clients("sts").get_caller_identity()
        return {"account_id": identity["Account"], "arn": identity["Arn"], "user_id": identity["UserId"],
                "id": identity["Account"]}
    if type_ == "aws_partition":
        return {"partition": "aws", "dns_suffix": "amazonaws.com", "id": "aws"}
    if type_ == "aws_region":
        return {"name": region, "id": region}
    raise HclError(f"{address}: data source {type_} is not supported by the local stack")
