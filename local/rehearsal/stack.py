"""The application stack in the emulated account: its parameters checked the way CloudFormation
checks them, the translated template created through moto's CloudFormation, what moto skips
created through the API (skipped.py), and what moto cannot represent at all left out, by name.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from local.rehearsal.findings import Finding, StepFailed
from local.rehearsal.intrinsics import StackValues, Unresolvable
from local.rehearsal.package import upload
from local.rehearsal.server import Account
from local.rehearsal.skipped import HANDLERS, Created
from local.rehearsal.skipped import remove as remove_created

SSM_TYPE = "AWS::SSM::Parameter::Value<String>"
# Moto ignores a RestApi's Body (the OpenAPI document SAM writes the routes, the authorizer and
# the gateway responses into): the API exists without a method, and what needs methods fails.
UNREPRESENTABLE = {
    "AWS::ApiGateway::Deployment": "moto ignores the RestApi's Body, so the API has no method to deploy",
    "AWS::ApiGateway::Stage": "a stage needs the API's deployment",
    "AWS::ApiGateway::UsagePlan": "its ApiStages need the API's stage",
}


@dataclass
class Deployment:
    """The stack as created in the emulated account."""

    stack_name: str
    template: dict[str, Any]  # translated, as submitted to CloudFormation
    physical_ids: dict[str, str] = field(default_factory=dict)  # logical id -> physical id
    parameters: dict[str, str] = field(default_factory=dict)  # as the stack resolved them
    by_stack: int = 0  # resources moto's CloudFormation created
    created: Created = field(default_factory=Created)  # what the rehearsal created through the API
    left_out: list[tuple[str, str, str]] = field(default_factory=list)  # (logical id, type, why)
    notes: list[str] = field(default_factory=list)  # what exists but is less than AWS would make

    @property
    def types(self) -> dict[str, str]:
        return {k: r["Type"] for k, r in self.template["Resources"].items()}


def check_parameters(account: Account, parameters: Mapping[str, Any], values: Mapping[str, str],
                     origin: str) -> list[Finding]:
    """What CloudFormation refuses before it creates anything: unknown or missing parameters,
    values outside AllowedValues / MinValue / MaxValue / AllowedPattern, and SSM-typed
    parameters naming an SSM parameter that does not exist (moto's server fails with a 500 there)."""
    findings = [Finding(origin, f"parameter_overrides sets {name}, which the template does not declare")
                for name in sorted(set(values) - set(parameters))]
    ssm_paths: dict[str, str] = {}
    for name, spec in parameters.items():
        value = values.get(name, spec.get("Default"))
        where = f"template.yaml Parameters.{name}"
        if value is None:
            findings.append(Finding(where, "has no default and no value in parameter_overrides"))
        elif spec.get("Type") == SSM_TYPE:
            ssm_paths[name] = str(value)
        else:
            findings += _constraints(where, spec, str(value))
    missing = _missing_ssm(account, set(ssm_paths.values()))
    written = sorted(_ssm_names(account)) if missing else []
    for name, path in sorted(ssm_paths.items()):
        if path in missing:
            closest = difflib.get_close_matches(path, written, n=1, cutoff=0.8)
            findings.append(Finding(f"template.yaml Parameters.{name}", f"reads the SSM parameter {path}, which "
                                    f"does not exist (infra/ did not write it): CloudFormation refuses the stack"
                                    + (f"; infra/ wrote {closest[0]}" if closest else "")))
    return findings


def _constraints(where: str, spec: Mapping[str, Any], value: str) -> list[Finding]:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in {str(a) for a in allowed}:
        return [Finding(where, f"{value!r} is not one of its AllowedValues {allowed}")]
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return [Finding(where, f"{value!r} is not a number")]
        if ("MinValue" in spec and number < float(spec["MinValue"])) or (
            "MaxValue" in spec and number > float(spec["MaxValue"])
        ):
            return [Finding(where, f"{value} is outside [{spec.get('MinValue')}, {spec.get('MaxValue')}]")]
    pattern = spec.get("AllowedPattern")
    if pattern and not re.fullmatch(pattern, value):
        return [Finding(where, f"{value!r} does not match its AllowedPattern {pattern}")]
    return []


def _missing_ssm(account: Account, paths: set[str]) -> set[str]:
    ordered, missing = sorted(paths), set()
    for i in range(0, len(ordered), 10):
        answer = account.client("ssm").get_parameters(Names=ordered[i:i + 10])
        missing |= set(answer.get("InvalidParameters", []))
    return missing


def _ssm_names(account: Account) -> set[str]:
    return {p["Name"] for p in account.pages("ssm", "describe_parameters", "Parameters")}


def represent(template: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The template without what moto cannot create (UNREPRESENTABLE, and whatever refers to
    it, outputs included); the left-out resources with their reason."""
    resources = dict(template["Resources"])
    left_out = [
        (k, r["Type"], UNREPRESENTABLE[r["Type"]]) for k, r in resources.items() if r["Type"] in UNREPRESENTABLE
    ]
    dropped = {k for k, _, _ in left_out}
    while True:
        more = [(k, r["Type"], f"refers to {min(_references(r) & dropped)}, left out")
                for k, r in resources.items() if k not in dropped and _references(r) & dropped]
        if not more:
            break
        left_out += more
        dropped |= {k for k, _, _ in more}
    kept = {k: r for k, r in resources.items() if k not in dropped}
    outputs = {k: o for k, o in (template.get("Outputs") or {}).items() if not _references(o) & dropped}
    left_out += [(f"Outputs.{k}", "Output", "refers to a left-out resource")
                 for k in sorted(set(template.get("Outputs") or {}) - set(outputs))]
    return {**template, "Resources": kept, "Outputs": outputs}, left_out


def _references(node: Any) -> set[str]:
    """Logical ids a resource or output refers to: Ref, Fn::GetAtt, ${X} in Fn::Sub, DependsOn."""
    found: set[str] = set()
    for key, value in _walk(node):
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value.split(".", 1)[0] if isinstance(value, str) else value[0])
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
        elif key == "DependsOn":
            found |= {value} if isinstance(value, str) else set(value)
    return found


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def create(account: Account, template: dict[str, Any], stack_name: str, values: Mapping[str, str],
           capabilities: list[str], bucket: str, prefix: str) -> Deployment:
    """Create the stack from the translated `template`, then what moto skipped."""
    submitted, left_out = represent(template)
    deployment = Deployment(stack_name, submitted, left_out=left_out, notes=_api_notes(template))
    body = json.dumps(submitted).encode("utf-8")
    key = f"{prefix}/{stack_name}.template"
    upload(account, bucket, key, body)
    cfn = account.client("cloudformation")
    try:  # a template over 51,200 bytes goes by URL, as `sam deploy` sends it
        cfn.create_stack(StackName=stack_name, TemplateURL=f"https://{bucket}.s3.{account.region}.amazonaws.com/{key}",
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
                         Capabilities=capabilities)
    except ClientError as error:
        raise StepFailed("create stack", [Finding(f"stack {stack_name}", str(error))]) from error
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = account.pages("cloudformation", "describe_stack_events", "StackEvents", StackName=stack_name)
        failed = [Finding(e["LogicalResourceId"], e.get("ResourceStatusReason", e["ResourceStatus"]))
                  for e in events if e["ResourceStatus"].endswith("FAILED")]
        raise StepFailed("create stack", failed or [Finding(f"stack {stack_name}", stack["StackStatus"])])
    deployment.parameters = {
        p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"]) for p in stack["Parameters"]
    }
    summaries = account.pages("cloudformation", "list_stack_resources", "StackResourceSummaries", StackName=stack_name)
    listed = {s["LogicalResourceId"]: s for s in summaries if s["LogicalResourceId"]}
    deployment.physical_ids = {k: s["PhysicalResourceId"] for k, s in listed.items()}
    deployment.by_stack = len(listed)
    findings = _create_skipped(account, deployment, stack, set(submitted["Resources"]) - set(listed))
    if findings:
        raise StepFailed("resources moto's CloudFormation skipped", findings)
    return deployment


def _create_skipped(
    account: Account, deployment: Deployment, stack: Mapping[str, Any], skipped: set[str]
) -> list[Finding]:
    values = stack_values(account, deployment, stack)
    findings: list[Finding] = []
    for logical_id in sorted(skipped):
        resource = deployment.template["Resources"][logical_id]
        if "Condition" in resource and not values.condition(resource["Condition"]):
            continue
        handler = HANDLERS.get(resource["Type"])
        if handler is None:
            findings.append(Finding(logical_id, f"moto's CloudFormation did not create this {resource['Type']} "
                                    "and the rehearsal does not know how to (local/rehearsal/skipped.py)"))
            continue
        try:
            findings += handler(account, values, deployment.stack_name, logical_id, resource.get("Properties") or {},
                                deployment.created)
        except (Unresolvable, ClientError) as error:
            findings.append(Finding(logical_id, f"could not be created through the API: {error}"))
    deployment.notes += deployment.created.notes
    return findings


def stack_values(account: Account, deployment: Deployment, stack: Mapping[str, Any]) -> StackValues:
    account_id = account.client("sts").get_caller_identity()["Account"]
    resources = deployment.template["Resources"]

    def get_att(logical_id: str, attribute: str) -> Any:
        kind = resources.get(logical_id, {}).get("Type")
        if kind == "AWS::Lambda::Function" and attribute == "Arn":
            name = deployment.physical_ids[logical_id]
            return account.client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"]
        raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not resolved by the rehearsal")

    return StackValues(
        parameters=deployment.parameters, physical_ids=deployment.physical_ids,
        pseudo={"AWS::Region": account.region, "AWS::AccountId": account_id, "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": deployment.stack_name,
                "AWS::StackId": stack["StackId"]},
        conditions=deployment.template.get("Conditions") or {}, get_att=get_att)


def _api_notes(template: Mapping[str, Any]) -> list[str]:
    notes = []
    for logical_id, resource in template["Resources"].items():
        body = (resource.get("Properties") or {}).get("Body")
        if resource["Type"] != "AWS::ApiGateway::RestApi" or not isinstance(body, dict):
            continue
        paths = body.get("paths") or {}
        methods = sum(len([m for m in p if not m.startswith("x-") or m == "x-amazon-apigateway-any-method"])
                      for p in paths.values())
        authorizers = sorted(k for k, v in (body.get("securityDefinitions") or {}).items()
                             if "x-amazon-apigateway-authorizer" in v)
        responses = len(body.get("x-amazon-apigateway-gateway-responses") or {})
        notes.append(f"{logical_id} (AWS::ApiGateway::RestApi) exists without its Body, which moto ignores: "
                     f"{len(paths)} paths / {methods} methods, authorizers {authorizers}, {responses} gateway "
                     "responses are not in the emulated API")
    return notes


def remove(account: Account, deployment: Deployment) -> None:
    """Delete the stack and what the rehearsal created through the API for it."""
    account.client("cloudformation").delete_stack(StackName=deployment.stack_name)
    remove_created(account, deployment.created)
