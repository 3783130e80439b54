"""template.yaml: cfn-lint clean, shaped as docs/architecture.md says, handlers that exist."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint_file

from local.stack.template import SSM_PARAMETER_TYPE, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
PROVIDERS = ("passeinfo", "messagepro", "flowsms", "ventis", "smsgate")
SENDERS = {f"{p.capitalize()}SenderFunction": p for p in PROVIDERS}
CONTRACT_ENV = {
    "TABLE_NAME",
    "QUEUE_URLS",
    "PROVIDER_SECRETS",
    "EVENT_BUS_NAME",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "OTP_KEY_ID",
    "OTP_PEPPER_SECRET",
    "PROVIDER_RATE_LIMITS",
    "STATUS_EVENTS",
    "INGEST_SOURCES_PARAMETER",
}


def test_cfn_lint_reports_nothing() -> None:
    matches = lint_file(ROOT / "template.yaml", config=ManualArgs(regions=["eu-west-1"]))
    assert [str(m) for m in matches] == []


def test_expected_functions_are_declared() -> None:
    assert set(FUNCTIONS) == {
        "AuthorizerFunction",
        "ApiFunction",
        "FinalizerFunction",
        "RotationFunction",
        "IngestFunction",
        "WebhooksFunction",
        "StatusPollerFunction",
        "BalanceCheckerFunction",
        "FanoutFunction",
        "FanoutDlqFunction",
        "LifecycleFunction",
        "SweeperFunction",
        "SchedulerFunction",
        "CallbacksFunction",
        "TenantAdminFunction",
        *SENDERS,
    }


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_handler_resolves_to_a_module_with_lambda_handler(logical_id: str) -> None:
    properties = {**TEMPLATE["Globals"]["Function"], **FUNCTIONS[logical_id]["Properties"]}
    module, _, function = properties["Handler"].rpartition(".")
    path = ROOT / properties["CodeUri"] / (module.replace(".", "/") + ".py")
    assert path.is_file(), f"{logical_id}: {path.relative_to(ROOT)} does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    names |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert function in names, f"{path.relative_to(ROOT)} defines no module-level {function}"


def test_globals_follow_the_runtime_and_environment_contract() -> None:
    function = TEMPLATE["Globals"]["Function"]
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Timeout"] == 30
    assert function["MemorySize"] == 256
    assert function["Layers"] == [{"Ref": "SharedLayer"}]
    assert set(function["Environment"]["Variables"]) == CONTRACT_ENV
    tracing = TEMPLATE["Parameters"][function["Tracing"]["Ref"]]
    assert tracing["Default"] != "Active", "tracing is opt-in"
    for logical_id, resource in FUNCTIONS.items():
        assert "Environment" not in resource["Properties"], f"{logical_id} must use the shared environment"


def test_shared_layer_builds_for_the_runtime() -> None:
    layer = RESOURCES["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"


def test_every_ssm_parameter_has_a_default_under_the_default_name_and_environment() -> None:
    parameters = TEMPLATE["Parameters"]
    prefix = f"/{parameters['Name']['Default']}/{parameters['Environment']['Default']}/"
    ssm = {k: v for k, v in parameters.items() if v["Type"] == SSM_PARAMETER_TYPE}
    assert ssm, "the template reads infra's names from SSM"
    assert all(v["Default"].startswith(prefix) for v in ssm.values()), ssm


def test_api_uses_the_tenant_authorizer_and_keys_from_it() -> None:
    api = RESOURCES["Api"]["Properties"]
    assert api["ApiKeySourceType"] == "AUTHORIZER"
    auth = api["Auth"]
    assert auth["DefaultAuthorizer"] == "TenantAuthorizer"
    authorizer = auth["Authorizers"]["TenantAuthorizer"]
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["Identity"]["Headers"] == ["Authorization"]
    assert RESOURCES["UsagePlan"]["Properties"]["ApiStages"][0]["ApiId"] == {"Ref": "Api"}


def test_a_revoked_tenant_key_is_refused_within_60_s() -> None:
    identity = RESOURCES["Api"]["Properties"]["Auth"]["Authorizers"]["TenantAuthorizer"]["Identity"]
    assert 0 < identity["ReauthorizeEvery"] <= 60  # API Gateway's cached answer for a key lasts this long


def _statements(logical_id: str) -> list[dict[str, Any]]:
    policies = FUNCTIONS[logical_id]["Properties"]["Policies"]
    assert all(set(p) == {"Statement"} for p in policies), f"{logical_id}: SAM policy templates grant the whole table"
    return [s for p in policies for s in p["Statement"]]


def test_the_authorizer_reads_key_items_and_writes_only_their_last_use() -> None:
    statements = {s["Sid"]: s for s in _statements("AuthorizerFunction")}
    assert {sid: s["Action"] for sid, s in statements.items()} == {"ReadKeyItems": "dynamodb:GetItem",
                                                                     "RecordKeyUse": "dynamodb:UpdateItem"}
    for statement in statements.values():
        assert statement["Condition"]["ForAllValues:StringLike"] == {"dynamodb:LeadingKeys": ["KEY#*"]}
    attributes = statements["RecordKeyUse"]["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
    assert attributes == ["pk", "sk", "last_used_at"]


def test_the_operator_routes_are_iam_authorized_and_served_by_a_function_limited_to_tenant_and_key_items() -> None:
    events = FUNCTIONS["TenantAdminFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"]["Auth"] for e in events}
    assert set(routes) == {("GET", "/admin/tenants/{tenant_id}/keys"), ("POST", "/admin/tenants/{tenant_id}/keys"),
                           ("POST", "/admin/tenants/{tenant_id}/keys/{key_id}/rotate"),
                           ("DELETE", "/admin/tenants/{tenant_id}/keys/{key_id}")}
    # AWS_IAM, never the tenant authorizer; no usage-plan key (only the tenant authorizer gives one);
    # API Gateway invokes the function itself, not with the caller's credentials
    assert all(
        auth == {"Authorizer": "AWS_IAM", "InvokeRole": "NONE", "ApiKeyRequired": False} for auth in routes.values()
    )
    [statement] = _statements("TenantAdminFunction")
    assert sorted(statement["Action"]) == ["dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:GetItem",
                                           "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
    assert statement["Resource"] == {"Ref": "TableArn"}
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["KEY#*", "TENANT#*"]}}
    other_routes = [
        e["Properties"]
        for f in FUNCTIONS
        for e in (FUNCTIONS[f]["Properties"].get("Events") or {}).values()
        if e["Type"] == "Api" and f != "TenantAdminFunction"
    ]
    assert not [r["Path"] for r in other_routes if r["Path"].startswith("/admin")]


@pytest.mark.parametrize(
    ("response_type", "status", "code"),
    [
        ("UNAUTHORIZED", 401, "unauthorized"),
        ("ACCESS_DENIED", 403, "forbidden"),
        ("INVALID_API_KEY", 403, "forbidden"),
        ("MISSING_AUTHENTICATION_TOKEN", 404, "route_not_found"),
        ("REQUEST_TOO_LARGE", 413, "payload_too_large"),
        ("THROTTLED", 429, "rate_limited"),
        ("QUOTA_EXCEEDED", 429, "rate_limited"),
        ("INTEGRATION_TIMEOUT", 504, "timeout"),
        ("DEFAULT_4XX", None, "bad_request"),
        ("DEFAULT_5XX", None, "internal_error"),
    ],
)
def test_gateway_responses_render_the_one_error_shape(response_type: str, status: int | None, code: str) -> None:
    response = RESOURCES["Api"]["Properties"]["GatewayResponses"][response_type]
    assert response.get("StatusCode") == status
    template = response["ResponseTemplates"]["application/json"]
    body = json.loads(template.replace("$context.error.messageString", '"boom"'))
    if response_type == "MISSING_AUTHENTICATION_TOKEN":
        # API Gateway's message for an unknown route can quote the Authorization header: the
        # tenant's key would be in a 404 body. This one answer has a fixed message.
        assert "$context" not in template
        assert body == {"error": {"code": code, "message": "no route for this method and path", "field": None}}
    else:
        assert body == {"error": {"code": code, "message": "boom", "field": None}}


def test_api_function_routes() -> None:
    events = FUNCTIONS["ApiFunction"]["Properties"]["Events"]
    routes = {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth", {}) for e in events.values()
    }
    assert routes[("ANY", "/v1/{proxy+}")] == {}
    assert routes[("GET", "/openapi.json")]["Authorizer"] == "NONE"
    assert routes[("GET", "/docs")]["Authorizer"] == "NONE"


@pytest.mark.parametrize("logical_id", sorted(SENDERS))
def test_sender_reads_its_two_queues_in_partial_batches(logical_id: str) -> None:
    provider = SENDERS[logical_id]
    properties = FUNCTIONS[logical_id]["Properties"]
    assert (properties["CodeUri"], properties["Handler"]) == ("functions", "sender.handler.lambda_handler")
    events = [e["Properties"] for e in properties["Events"].values()]
    assert all(e["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in events)
    assert all(e["BatchSize"] == 10 for e in events)
    # transactional records go at once; bulk records wait up to a second to fill a batch
    assert properties["Events"]["TxQueue"]["Properties"]["MaximumBatchingWindowInSeconds"] == 0
    assert properties["Events"]["BulkQueue"]["Properties"]["MaximumBatchingWindowInSeconds"] == 1
    concurrency = f"{provider.capitalize()}MaximumConcurrency"
    assert all(e["ScalingConfig"]["MaximumConcurrency"] == {"Ref": concurrency} for e in events)
    assert TEMPLATE["Parameters"][concurrency]["Default"] == 2
    queues = sorted(TEMPLATE["Parameters"][e["Queue"]["Ref"]]["Default"] for e in events)
    assert queues == [f"/tamtam/dev/queues/{provider}-bulk/arn", f"/tamtam/dev/queues/{provider}-tx/arn"]


def test_finalizer_reads_every_provider_dlq() -> None:
    events = [e["Properties"] for e in FUNCTIONS["FinalizerFunction"]["Properties"]["Events"].values()]
    assert all(e["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in events)
    queues = {TEMPLATE["Parameters"][e["Queue"]["Ref"]]["Default"] for e in events}
    assert queues == {f"/tamtam/dev/queues/{p}-{kind}-dlq/arn" for p in PROVIDERS for kind in ("tx", "bulk")}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_function_has_log_group_alarms_and_output(logical_id: str) -> None:
    log_group = FUNCTIONS[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert RESOURCES[log_group]["Type"] == "AWS::Logs::LogGroup"
    assert RESOURCES[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    metrics = {
        r["Properties"]["MetricName"]
        for r in RESOURCES.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": logical_id}}]
    }
    events = FUNCTIONS[logical_id]["Properties"].get("Events") or {}
    stream_triggered = any(e["Type"] == "DynamoDB" for e in events.values())
    assert metrics == {"Errors", "Throttles"} | ({"IteratorAge"} if stream_triggered else set())
    assert TEMPLATE["Outputs"][f"{logical_id}Arn"]["Value"] == {"Fn::GetAtt": [logical_id, "Arn"]}


def test_every_provider_secret_is_rotated_by_the_rotation_function() -> None:
    schedules = {
        k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::SecretsManager::RotationSchedule"
    }
    rotated = {TEMPLATE["Parameters"][p["SecretId"]["Ref"]]["Default"]: p for p in schedules.values()}
    assert set(rotated) == {f"/tamtam/dev/secrets/{p}/arn" for p in PROVIDERS}
    for properties in rotated.values():
        assert properties["RotationLambdaARN"] == {"Fn::GetAtt": ["RotationFunction", "Arn"]}
        assert properties["RotateImmediatelyOnUpdate"] is False  # a deployment never renews a key itself
    passeinfo = rotated["/tamtam/dev/secrets/passeinfo/arn"]["RotationRules"]["ScheduleExpression"]
    assert TEMPLATE["Parameters"][passeinfo["Ref"]]["Default"] == "rate(30 days)"
    others = {p["RotationRules"]["ScheduleExpression"]["Ref"] for k, p in rotated.items() if "passeinfo" not in k}
    assert [TEMPLATE["Parameters"][ref]["Default"] for ref in others] == ["rate(7 days)"]


def test_secrets_manager_may_invoke_the_rotation_function_which_may_only_rotate_provider_secrets() -> None:
    permissions = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert {"FunctionName": {"Fn::GetAtt": ["RotationFunction", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "secretsmanager.amazonaws.com", "SourceAccount": {"Ref": "AWS::AccountId"}} in permissions
    [statements] = [p["Statement"] for p in FUNCTIONS["RotationFunction"]["Properties"]["Policies"]]
    secrets = next(s for s in statements if s["Sid"] == "RotateTheProviderSecrets")
    assert sorted(secrets["Action"]) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                         "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"]
    assert {TEMPLATE["Parameters"][r["Ref"]]["Default"] for r in secrets["Resource"]} == {
        f"/tamtam/dev/secrets/{p}/arn" for p in PROVIDERS}


def test_ingest_reads_the_ingest_queue_in_partial_batches_and_may_dead_letter_to_its_dlq() -> None:
    properties = FUNCTIONS["IngestFunction"]["Properties"]
    [source] = [e["Properties"] for e in properties["Events"].values()]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert TEMPLATE["Parameters"][source["Queue"]["Ref"]]["Default"] == "/tamtam/dev/queues/ingest/arn"
    statements = [s for p in properties["Policies"] if "Statement" in p for s in p["Statement"]]
    dead_letter = next(s for s in statements if s["Sid"] == "DeadLetterRejectedRequests")
    assert TEMPLATE["Parameters"][dead_letter["Resource"]["Ref"]]["Default"] == "/tamtam/dev/queues/ingest-dlq/arn"
    assert "sqs:SendMessage" in dead_letter["Action"]


def test_the_dashboard_graphs_failures_by_reason_from_the_metric_the_code_emits() -> None:
    from tamtam.observability import FAILURE_METRIC, PROVIDER_DIMENSION, REASON_DIMENSION

    body, _variables = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = {w["properties"]["title"]: w["properties"] for w in json.loads(body)["widgets"]}
    assert {"Sends by outcome", "Failures by reason", "Provider latency (ms, p90)",
            "Queue depth (visible messages)", "Provider balances"} <= set(widgets)
    [[search]] = widgets["Failures by reason"]["metrics"]
    # Namespace and `service` dimension: what Powertools writes with the Globals environment.
    environment = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == environment["POWERTOOLS_SERVICE_NAME"] == {"Ref": "Name"}
    schema = "{${Name}," + f"{PROVIDER_DIMENSION},{REASON_DIMENSION},service" + "}"
    assert search["expression"] == f"SEARCH('{schema} MetricName=\"{FAILURE_METRIC}\"', 'Sum', 300)"


def test_the_table_stream_feeds_the_lifecycle_function_in_order_with_a_failure_destination() -> None:
    """Status events and batch counters come from the change stream: retried as the same batch
    (no bisecting, one batch per shard at a time), message items only, and what is given up on
    goes to a queue with an alarm."""
    [stream] = [e["Properties"] for f in FUNCTIONS.values() for e in f["Properties"].get("Events", {}).values()
                if e["Type"] == "DynamoDB"]
    assert FUNCTIONS["LifecycleFunction"]["Properties"]["Events"]["TableStream"]["Properties"] is stream
    assert stream["Stream"] == {"Ref": "TableStreamArn"}
    assert (stream["BisectBatchOnFunctionError"], stream["ParallelizationFactor"]) == (False, 1)
    assert stream["MaximumRetryAttempts"] > 0
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {"Ref": "LifecycleFailuresQueueArn"}
    assert json.loads(stream["FilterCriteria"]["Filters"][0]["Pattern"]) == {
        "dynamodb": {"Keys": {"sk": {"S": ["MSG"]}}}
    }


def test_no_change_is_still_in_the_stream_when_the_sweeper_may_recount() -> None:
    """The sweeper recounts a batch's counters once none of its records changed for
    SWEEP_QUIET_SECONDS; a change the stream still holds would then be counted twice. The
    stream gives up on a record older than MaximumRecordAgeInSeconds, so that age must be shorter
    than the quiet window (with room for the last invocation)."""
    from tamtam.settings import Settings

    stream = FUNCTIONS["LifecycleFunction"]["Properties"]["Events"]["TableStream"]["Properties"]
    quiet = Settings.model_fields["sweep_quiet_seconds"].default
    assert 0 < stream["MaximumRecordAgeInSeconds"] <= quiet - 120, (stream["MaximumRecordAgeInSeconds"], quiet)
