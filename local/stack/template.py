"""Read template.yaml the way the local stack needs it: functions, their event sources, the API's
authorizer and gateway responses, and the Globals environment with every value resolved.

Values are resolved by a Resolver: `!Ref` to a template parameter (an SSM-typed one is looked up
in SSM, as CloudFormation does), pseudo parameters, `!Sub`, `!Select`, `!Split`, `!Join`.
Anything else raises TemplateError rather than being guessed.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local.stack.language_extensions import LanguageExtensionError, expand

SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<String>"
_RATE = re.compile(r"rate\((\d+) (second|minute|hour|day)s?\)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
IAM_AUTHORIZER = "AWS_IAM"  # SAM's name for IAM authorization of a route (no Authorizers entry)
API_METHODS = frozenset({"ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
# API Gateway's gateway response types (GatewayResponse.responseType in its API reference).
RESPONSE_TYPES = frozenset({
    "DEFAULT_4XX", "DEFAULT_5XX", "RESOURCE_NOT_FOUND", "UNAUTHORIZED", "INVALID_API_KEY", "ACCESS_DENIED",
    "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR", "INVALID_SIGNATURE", "EXPIRED_TOKEN",
    "MISSING_AUTHENTICATION_TOKEN", "INTEGRATION_FAILURE", "INTEGRATION_TIMEOUT", "API_CONFIGURATION_ERROR",
    "UNSUPPORTED_MEDIA_TYPE", "BAD_REQUEST_PARAMETERS", "BAD_REQUEST_BODY", "REQUEST_TOO_LARGE", "THROTTLED",
    "QUOTA_EXCEEDED", "WAF_FILTERED",
})


class TemplateError(Exception):
    """template.yaml holds something the local stack cannot reproduce."""


# ---------------------------------------------------------------------------------------------
# YAML with CloudFormation short tags
# ---------------------------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns `!Ref X` into {"Ref": "X"}, `!GetAtt A.B` into
    {"Fn::GetAtt": ["A", "B"]} and any other `!Tag v` into {"Fn::Tag": v}."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def read_template(path: Path) -> dict[str, Any]:
    """template.yaml as written: plain dicts, short tags turned into their long form, its
    Fn::ForEach loops as they are."""
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def load_template(path: Path) -> dict[str, Any]:
    """template.yaml as CloudFormation hands it to the SAM transform: read_template with the
    AWS::LanguageExtensions transform applied (every Fn::ForEach written out, the resources under
    the logical ids CloudFormation gives them). Everything in this repository that reads the
    template reads it through here."""
    try:
        return expand(read_template(path))
    except LanguageExtensionError as error:
        raise TemplateError(f"{path.name}: {error}") from error


# ---------------------------------------------------------------------------------------------
# What the local stack builds on
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SqsEventSource:
    """An SQS event source mapping: poll `queue_url` and invoke the function with batches."""

    name: str  # the event's name in the template (e.g. "TxQueue")
    queue_key: str  # key in Provisioned.queue_urls ("passeinfo-tx", "passeinfo-tx-dlq", ...)
    queue_url: str
    queue_arn: str
    batch_size: int
    maximum_batching_window_in_seconds: int
    report_batch_item_failures: bool  # FunctionResponseTypes has ReportBatchItemFailures
    maximum_concurrency: int | None  # ScalingConfig.MaximumConcurrency (None: unbounded)
    enabled: bool = True


@dataclass(frozen=True)
class StreamEventSource:
    """A DynamoDB stream event source mapping: read the stream's records in order, invoke the
    function with batches, retry a failed batch, then send its position to `on_failure_arn`."""

    name: str
    stream_arn: str
    batch_size: int
    maximum_batching_window_in_seconds: int
    starting_position: str  # TRIM_HORIZON | LATEST
    maximum_retry_attempts: int  # -1: until the records expire
    maximum_record_age_seconds: int  # -1: until the stream trims them (24 h)
    filter_patterns: tuple[str, ...]  # FilterCriteria.Filters[].Pattern (JSON)
    on_failure_arn: str | None


@dataclass(frozen=True)
class ApiEventSource:
    """A route of the REST API proxied to the function (Lambda proxy integration)."""

    name: str
    method: str  # upper case; "ANY" matches every method
    path: str  # API Gateway syntax: "/v1/{proxy+}", "/docs"
    authorizer: str | None  # name of the authorizer guarding it (AuthorizerSpec.name), "AWS_IAM" or None

    @property
    def iam(self) -> bool:
        """Auth AWS_IAM: the caller signs with AWS credentials (SigV4); no Lambda authorizer."""
        return self.authorizer == IAM_AUTHORIZER
    api_key_required: bool


@dataclass(frozen=True)
class ScheduleEventSource:
    """An EventBridge schedule invoking the function."""

    name: str
    kind: str  # "Schedule" (EventBridge rule) or "ScheduleV2" (EventBridge Scheduler)
    expression: str  # "rate(5 minutes)" or "cron(...)"
    rate_seconds: int | None  # the period of a rate() expression; None for cron()
    input: str | None  # the event JSON given to the function, if the template sets one
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Serverless::Function: where its code is and what invokes it."""

    logical_id: str
    code_dir: Path  # absolute: <repo>/functions (the CodeUri: every function is a package there)
    handler: str  # "<function>.handler.lambda_handler"
    timeout: int  # seconds
    memory_mb: int
    sqs_events: tuple[SqsEventSource, ...] = ()
    api_events: tuple[ApiEventSource, ...] = ()
    schedule_events: tuple[ScheduleEventSource, ...] = ()
    stream_events: tuple[StreamEventSource, ...] = ()

    @property
    def handler_file(self) -> Path:
        """The module file of the handler (code_dir/api/handler.py for "api.handler.lambda_handler")."""
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_function(self) -> str:
        return self.handler.rpartition(".")[2]

    @property
    def package(self) -> str:
        """The function's package, its directory under functions/ ("api" for "api.handler.lambda_handler")."""
        return self.handler.split(".", 1)[0]


@dataclass(frozen=True)
class AuthorizerSpec:
    """The API's Lambda REQUEST authorizer."""

    name: str  # "TenantAuthorizer"
    function_logical_id: str  # "AuthorizerFunction"
    payload_type: str  # "REQUEST"
    identity_headers: tuple[str, ...]  # ("Authorization",): missing -> 401 without invoking
    reauthorize_every: int  # seconds a decision is cached per identity; 0: every request

    @property
    def identity_header(self) -> str:
        """The header carrying the tenant's key (the first identity source)."""
        return self.identity_headers[0]


@dataclass(frozen=True)
class GatewayResponseSpec:
    """What API Gateway answers itself (authorizer denial, unknown route, integration failure)."""

    response_type: str  # one of RESPONSE_TYPES: "UNAUTHORIZED", "MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX"...
    status_code: int | None  # StatusCode; None: keep the status API Gateway chose (DEFAULT_4XX/5XX)
    body_template: str  # the application/json mapping template
    headers: Mapping[str, str] = field(default_factory=dict)

    def render(self, message: str) -> str:
        """The body with $context.error.messageString (a quoted JSON string) and
        $context.error.message filled in, as API Gateway renders it."""
        body = self.body_template.replace("$context.error.messageString", json.dumps(message))
        return body.replace("$context.error.message", message)


# ---------------------------------------------------------------------------------------------
# Resolving CloudFormation values
# ---------------------------------------------------------------------------------------------


@dataclass
class Resolver:
    """Resolves intrinsic functions against the template's parameters.

    overrides: parameter values (Name, Environment...); ssm: reads an SSM parameter's value;
    remap_ssm_path: turns a parameter's default SSM path into the one of this stack.
    """

    parameters: Mapping[str, Mapping[str, Any]]
    overrides: Mapping[str, Any]
    pseudo: Mapping[str, str]
    ssm: Callable[[str], str]
    remap_ssm_path: Callable[[str], str]

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name not in self.parameters:
            raise TemplateError(f"!Ref {name}: not a parameter; the local stack resolves parameters only")
        spec = self.parameters[name]
        value = self.overrides.get(name, spec.get("Default"))
        if value is None:
            raise TemplateError(f"parameter {name} has no default and no value was given")
        if spec.get("Type") == SSM_PARAMETER_TYPE:
            return self.ssm(self.remap_ssm_path(str(value)))
        if spec.get("Type") == "Number":
            return int(value)
        return value

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key.startswith("Fn::"):
                return self._function(key, argument)
        return {k: self.resolve(v) for k, v in value.items()}

    def _function(self, key: str, argument: Any) -> Any:
        if key == "Fn::Sub":
            template, variables = (argument, {}) if isinstance(argument, str) else argument
            return self._sub(template, {k: self.resolve(v) for k, v in variables.items()})
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text)).split(separator)
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        raise TemplateError(f"{key} is not supported by the local stack")

    def _sub(self, template: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                raise TemplateError(f"!Sub ${{{name}}}: attributes of resources cannot be resolved locally")
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, template)


# ---------------------------------------------------------------------------------------------
# Reading the specs
# ---------------------------------------------------------------------------------------------


def read_function(logical_id: str, resource: Mapping[str, Any], globals_: Mapping[str, Any], root: Path,
                  resolver: Resolver, queue_key_of_arn: Mapping[str, str], queue_urls: Mapping[str, str],
                  api: ApiDefaults) -> FunctionSpec:
    properties = {**globals_, **resource.get("Properties", {})}
    if "Environment" in resource.get("Properties", {}):
        raise TemplateError(f"{logical_id}: functions share the Globals environment (docs/architecture.md)")
    sqs, routes, schedules, streams = [], [], [], []
    for name, event in (properties.get("Events") or {}).items():
        kind, event_properties = event["Type"], event.get("Properties", {})
        if kind == "SQS":
            sqs.append(_sqs_event(logical_id, name, resolver.resolve(event_properties), queue_key_of_arn, queue_urls))
        elif kind == "Api":  # RestApiId refers to the Api resource: checked, not resolved
            routes.append(_api_event(logical_id, name, event_properties, api))
        elif kind in ("Schedule", "ScheduleV2"):
            schedules.append(_schedule_event(name, kind, resolver.resolve(event_properties)))
        elif kind == "DynamoDB":
            streams.append(_stream_event(name, resolver.resolve(event_properties)))
        else:
            raise TemplateError(f"{logical_id}.{name}: event type {kind} is not supported by the local stack")
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=(root / resolver.resolve(properties["CodeUri"])).resolve(),
        handler=resolver.resolve(properties["Handler"]),
        timeout=int(resolver.resolve(properties.get("Timeout", 3))),
        memory_mb=int(resolver.resolve(properties.get("MemorySize", 128))),
        sqs_events=tuple(sqs), api_events=tuple(routes), schedule_events=tuple(schedules),
        stream_events=tuple(streams),
    )


def _sqs_event(logical_id: str, name: str, properties: Mapping[str, Any], queue_key_of_arn: Mapping[str, str],
               queue_urls: Mapping[str, str]) -> SqsEventSource:
    arn = properties["Queue"]
    if arn not in queue_key_of_arn:
        raise TemplateError(f"{logical_id}.{name}: queue {arn} is not one of infra/'s queues")
    key = queue_key_of_arn[arn]
    return SqsEventSource(
        name=name, queue_key=key, queue_url=queue_urls[key], queue_arn=arn,
        batch_size=int(properties.get("BatchSize", 10)),
        maximum_batching_window_in_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
        maximum_concurrency=(properties.get("ScalingConfig") or {}).get("MaximumConcurrency"),
        enabled=bool(properties.get("Enabled", True)),
    )


def _stream_event(name: str, properties: Mapping[str, Any]) -> StreamEventSource:
    filters = ((properties.get("FilterCriteria") or {}).get("Filters")) or []
    on_failure = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return StreamEventSource(
        name=name, stream_arn=properties["Stream"],
        batch_size=int(properties.get("BatchSize", 100)),
        maximum_batching_window_in_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
        starting_position=str(properties.get("StartingPosition", "LATEST")),
        maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
        maximum_record_age_seconds=int(properties.get("MaximumRecordAgeInSeconds", -1)),
        filter_patterns=tuple(str(f["Pattern"]) for f in filters),
        on_failure_arn=on_failure,
    )


@dataclass(frozen=True)
class ApiDefaults:
    """The Api resource's logical id and its Auth defaults, applied to every Api event."""

    logical_id: str
    default_authorizer: str | None
    api_key_required: bool


def _api_event(logical_id: str, name: str, properties: Mapping[str, Any], api: ApiDefaults) -> ApiEventSource:
    if properties.get("RestApiId") != {"Ref": api.logical_id}:
        raise TemplateError(f"{logical_id}.{name}: RestApiId must be !Ref {api.logical_id}")
    auth = properties.get("Auth") or {}
    authorizer = auth.get("Authorizer", api.default_authorizer)
    method = str(properties["Method"]).upper()
    if method not in API_METHODS:
        raise TemplateError(f"{logical_id}.{name}: method {method} is not one API Gateway routes")
    if authorizer == IAM_AUTHORIZER and auth.get("InvokeRole", "CALLER_CREDENTIALS") != "NONE":
        # SAM's default makes API Gateway call the function with the caller's own credentials,
        # which then need lambda:InvokeFunction: not what the local stack (or this API) does.
        raise TemplateError(f"{logical_id}.{name}: an AWS_IAM route needs Auth.InvokeRole NONE")
    return ApiEventSource(
        name=name, method=method, path=properties["Path"],
        authorizer=None if authorizer in (None, "NONE") else authorizer,
        api_key_required=bool(auth.get("ApiKeyRequired", api.api_key_required)),
    )


def _schedule_event(name: str, kind: str, properties: Mapping[str, Any]) -> ScheduleEventSource:
    expression = properties["Schedule"] if "Schedule" in properties else properties["ScheduleExpression"]
    match = _RATE.fullmatch(expression)
    enabled = properties.get("Enabled", properties.get("State", "ENABLED") == "ENABLED")
    return ScheduleEventSource(
        name=name, kind=kind, expression=expression,
        rate_seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else None,
        input=properties.get("Input"), enabled=bool(enabled),
    )


def read_api(template: Mapping[str, Any]) -> tuple[ApiDefaults, AuthorizerSpec | None, dict[str, GatewayResponseSpec]]:
    """The one AWS::Serverless::Api: its auth defaults, its authorizer, its gateway responses."""
    apis = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Api"}
    if len(apis) != 1:
        raise TemplateError(f"expected one AWS::Serverless::Api, found {sorted(apis)}")
    (logical_id, api), = apis.items()
    properties = api["Properties"]
    auth = properties.get("Auth") or {}
    default = auth.get("DefaultAuthorizer")
    authorizer = None
    if default:
        spec = auth["Authorizers"][default]
        function_arn = spec["FunctionArn"]
        if "Fn::GetAtt" not in function_arn:
            raise TemplateError(f"authorizer {default}: FunctionArn must be !GetAtt <Function>.Arn")
        identity = spec.get("Identity") or {}
        if not identity.get("Headers"):
            raise TemplateError(f"authorizer {default}: the local stack needs Identity.Headers")
        authorizer = AuthorizerSpec(
            name=default, function_logical_id=function_arn["Fn::GetAtt"][0],
            payload_type=spec.get("FunctionPayloadType", "TOKEN"),
            identity_headers=tuple(identity.get("Headers", [])),
            reauthorize_every=int(identity.get("ReauthorizeEvery", 300)),
        )
    responses = {}
    for response_type, response in (properties.get("GatewayResponses") or {}).items():
        if response_type not in RESPONSE_TYPES:
            raise TemplateError(f"gateway response {response_type} is not an API Gateway response type")
        templates = response.get("ResponseTemplates") or {}
        if "application/json" not in templates:
            raise TemplateError(f"gateway response {response_type} has no application/json template")
        headers = (response.get("ResponseParameters") or {}).get("Headers") or {}
        responses[response_type] = GatewayResponseSpec(
            response_type=response_type,
            status_code=int(response["StatusCode"]) if "StatusCode" in response else None,
            body_template=templates["application/json"],
            headers={k: str(v).strip("'") for k, v in headers.items()},
        )
    defaults = ApiDefaults(logical_id, default, bool(auth.get("ApiKeyRequired", False)))
    return defaults, authorizer, responses


def main(argv: list[str]) -> int:
    """`python -m local.stack.template TEMPLATE`: the template as CloudFormation hands it to the
    SAM transform (load_template: its Fn::ForEach loops expanded) as JSON on stdout, for the
    tools that do not expand the loops themselves (sam build, checkov)."""
    if len(argv) != 1:
        print("usage: python -m local.stack.template TEMPLATE", file=sys.stderr)
        return 2
    try:
        print(json.dumps(load_template(Path(argv[0])), indent=1))
    except TemplateError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
