"""template.yaml through aws-sam-cli: `sam validate --lint`, and the SAM transform itself (which
cfn-lint 1.x no longer runs) producing the wiring the application relies on.

Both run from the tool's own virtualenv (`make tools`), offline, with dummy credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from local.stack.template import load_template

ROOT = Path(__file__).resolve().parents[2]
SAM_BIN = ROOT / ".tools" / "sam" / "bin"
OFFLINE_ENV = {
    "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true", "SAM_CLI_TELEMETRY": "0",
}

# Runs in the sam virtualenv: transform the template (local code URIs replaced by S3 ones, as
# `sam package` would) and print the resulting CloudFormation template as JSON. It is given
# template.yaml after the AWS::LanguageExtensions transform (local.stack.template.load_template),
# as CloudFormation gives it to the SAM transform: the translator knows nothing of Fn::ForEach.
TRANSFORM = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open(sys.argv[1], encoding="utf-8").read())
for resource in template["Resources"].values():
    for key in ("CodeUri", "ContentUri"):
        if key in resource.get("Properties", {}):
            resource["Properties"][key] = "s3://bucket/key"
class NoManagedPolicies:
    def load(self):
        return {}
print(json.dumps(transform(template, {}, NoManagedPolicies())))
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    assert (SAM_BIN / "sam").exists(), f"{SAM_BIN.relative_to(ROOT)}/sam is missing: run `make tools`"
    return subprocess.run(list(args), check=False, cwd=ROOT, env={**os.environ, **OFFLINE_ENV},
                          capture_output=True, text=True, timeout=300)


def test_sam_validate_lint() -> None:
    result = _run(str(SAM_BIN / "sam"), "validate", "--lint", "--region", "eu-west-1",
                  "--template-file", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    expanded = tmp_path_factory.mktemp("sam") / "template.expanded.json"
    expanded.write_text(json.dumps(load_template(ROOT / "template.yaml")), encoding="utf-8")
    result = _run(str(SAM_BIN / "python"), "-c", TRANSFORM, str(expanded))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_transform_makes_one_event_source_mapping_per_queue(transformed: dict) -> None:
    mappings = _of_type(transformed, "AWS::Lambda::EventSourceMapping")
    sqs = {k: m for k, m in mappings.items() if "StartingPosition" not in m["Properties"]}
    # senders: tx + bulk each; finalizer: every provider DLQ; ingest; fanout; fan-out DLQ; callbacks
    assert len(sqs) == 5 * 2 + 10 + 1 + 1 + 1 + 1
    for mapping in sqs.values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    [stream] = [m["Properties"] for k, m in mappings.items() if k not in sqs]
    assert stream["FunctionName"] == {"Ref": "LifecycleFunction"}
    assert stream["DestinationConfig"]["OnFailure"]["Destination"] == {"Ref": "LifecycleFailuresQueueArn"}


def test_transform_wires_the_request_authorizer(transformed: dict) -> None:
    (api,) = _of_type(transformed, "AWS::ApiGateway::RestApi").values()
    body = api["Properties"]["Body"]
    authorizer = body["securityDefinitions"]["TenantAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "request"
    assert authorizer["identitySource"] == "method.request.header.Authorization"
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    assert body["paths"]["/docs"]["get"]["security"] == []
    assert body["paths"]["/v1/webhooks/smsgate"]["post"]["security"] == []  # signed, no tenant key
    proxy = body["paths"]["/v1/{proxy+}"]["x-amazon-apigateway-any-method"]["security"]
    assert {"TenantAuthorizer": []} in proxy and {"api_key": []} in proxy
    assert authorizer["authorizerResultTtlInSeconds"] <= 60  # a revoked key is refused within 60 s
    for path in ("/admin/tenants/{tenant_id}/keys", "/admin/tenants/{tenant_id}/keys/{key_id}",
                 "/admin/tenants/{tenant_id}/keys/{key_id}/rotate"):
        for operation in body["paths"][path].values():  # IAM only: no tenant key, no usage-plan key
            assert operation["security"] == [{"AWS_IAM": []}]
            assert "credentials" not in operation["x-amazon-apigateway-integration"]  # not the caller's
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert {k: v.get("statusCode") for k, v in responses.items()} == {
        "UNAUTHORIZED": "401", "ACCESS_DENIED": "403", "INVALID_API_KEY": "403", "MISSING_AUTHENTICATION_TOKEN": "404",
        "REQUEST_TOO_LARGE": "413", "THROTTLED": "429", "QUOTA_EXCEEDED": "429", "INTEGRATION_TIMEOUT": "504",
        "DEFAULT_4XX": None, "DEFAULT_5XX": None,
    }


def test_transform_gives_every_function_a_role(transformed: dict) -> None:
    functions = _of_type(transformed, "AWS::Lambda::Function")
    roles = _of_type(transformed, "AWS::IAM::Role")
    declared = [k for k, v in load_template(ROOT / "template.yaml")["Resources"].items()
                if v["Type"] == "AWS::Serverless::Function"]
    assert sorted(functions) == sorted(declared) and len(declared) >= 19
    assert {f"{name}Role" for name in functions} <= set(roles)
