"""template.yaml's Fn::ForEach loops (AWS::LanguageExtensions) and their expansion here
(local.stack.language_extensions, through local.stack.template.load_template):

- the raw template defines the sender resources once: one function, one log group, one pair of
  alarms, one output, looped over the providers, per-provider values in Mappings.Senders;
- the expansion gives every provider the resources it had when they were written out five times,
  under the same logical ids, wired to its own queues, secret, log group and items;
- the expansion equals the one of aws-sam-cli's port of the transform (.tools/sam, `make tools`);
- expand() itself: substitution, nesting, mappings, Fn::Sub, and what it refuses.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.stack.language_extensions import LanguageExtensionError, expand, resolve
from local.stack.template import TemplateError, load_template, read_template
from tamtam.providers.registry import PROVIDER_NAMES

ROOT = Path(__file__).resolve().parents[2]
RAW = read_template(ROOT / "template.yaml")
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
SAM_PYTHON = ROOT / ".tools" / "sam" / "bin" / "python"
LOOPS = {
    "Fn::ForEach::SenderFunctions": "AWS::Serverless::Function",
    "Fn::ForEach::SenderLogGroups": "AWS::Logs::LogGroup",
    "Fn::ForEach::SenderAlarms": "AWS::CloudWatch::Alarm",
}
TITLES = {"passeinfo": "PasseInfo", "messagepro": "Message Pro", "flowsms": "FLOW SMS", "ventis": "Ventis",
          "smsgate": "SMSGate"}
# Partition keys each sender may put beyond its provider's PROVIDER# and RATE# items.
EXTRA_PUTS = {"passeinfo": [], "messagepro": ["LAST#messagepro#*"], "flowsms": ["LIST#flowsms#*"], "ventis": [],
              "smsgate": ["LAST#smsgate#*", "LIST#smsgate#*"]}


def _ref(name: str) -> dict[str, str]:
    return {"Ref": name}


# ---------------------------------------------------------------------------------------------
# The raw template: defined once
# ---------------------------------------------------------------------------------------------


def test_the_template_declares_the_language_extensions_before_sam() -> None:
    assert RAW["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    assert TEMPLATE["Transform"] == "AWS::Serverless-2016-10-31"


def test_the_sender_resources_are_defined_once() -> None:
    resources = RAW["Resources"]
    assert not [k for k in resources if "Sender" in k and not k.startswith("Fn::ForEach::")]
    senders = [k for k, v in resources.items() if not k.startswith("Fn::ForEach::")
               and v["Type"] == "AWS::Serverless::Function"
               and v["Properties"].get("Handler") == "sender.handler.lambda_handler"]
    assert senders == []
    for loop, type_ in LOOPS.items():
        identifier, collection, fragment = resources[loop]
        assert identifier == "Provider"
        assert collection == [p.capitalize() for p in PROVIDER_NAMES]
        assert {v["Type"] for v in fragment.values()} == {type_}
    assert list(resources["Fn::ForEach::SenderFunctions"][2]) == ["${Provider}SenderFunction"]
    assert list(RAW["Outputs"]["Fn::ForEach::SenderOutputs"][2]) == ["${Provider}SenderFunctionArn"]


def test_the_senders_mapping_has_a_row_per_provider() -> None:
    rows = RAW["Mappings"]["Senders"]
    assert {row["Key"]: name for name, row in rows.items()} == {p: p.capitalize() for p in PROVIDER_NAMES}


# ---------------------------------------------------------------------------------------------
# The expansion: the resources CloudFormation creates
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_each_provider_has_its_sender_function(provider: str) -> None:
    name = provider.capitalize()
    function = RESOURCES[f"{name}SenderFunction"]
    properties = function["Properties"]
    assert function["Type"] == "AWS::Serverless::Function"
    assert properties["Description"] == f"Sends the messages of the {TITLES[provider]} queues."
    assert (properties["CodeUri"], properties["Handler"]) == ("functions", "sender.handler.lambda_handler")
    assert properties["LoggingConfig"] == {"LogGroup": _ref(f"{name}SenderLogGroup")}
    assert function["Metadata"]["checkov"]["skip"] == RESOURCES["ApiFunction"]["Metadata"]["checkov"]["skip"]
    secret, tx_poller, bulk_poller, shared, own = properties["Policies"]
    assert secret == {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": _ref(f"{name}SecretArn")}}
    for poller, queue in ((tx_poller, "Tx"), (bulk_poller, "Bulk")):
        assert poller == {
            "SQSPollerPolicy": {"QueueName": {"Fn::Select": [5, {"Fn::Split": [":", _ref(f"{name}{queue}QueueArn")]}]}}
        }
    assert [s["Sid"] for s in shared["Statement"]] == ["UnsealOtpCodes", "FailOverToAnotherProvider", "UseTheStateKey",
                                                       "ClaimAndRecordMessages", "ReadTextSources"]
    own_items = [f"PROVIDER#{provider}", f"RATE#{provider}#*"]
    assert own["Statement"] == [
        {"Sid": f"PaceAndWatch{name}", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
         "Resource": _ref("TableArn"), "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": own_items}}},
        {"Sid": f"Record{name}Items", "Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": _ref("TableArn"),
         "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": own_items + EXTRA_PUTS[provider]}}},
    ]
    events = properties["Events"]
    assert set(events) == {"TxQueue", "BulkQueue"}
    for event, queue, window in (("TxQueue", "Tx", 0), ("BulkQueue", "Bulk", 1)):
        assert events[event] == {"Type": "SQS", "Properties": {
            "Queue": _ref(f"{name}{queue}QueueArn"), "BatchSize": 10, "MaximumBatchingWindowInSeconds": window,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": _ref(f"{name}MaximumConcurrency")}}}


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_each_provider_has_its_log_group_alarms_and_output(provider: str) -> None:
    name = provider.capitalize()
    assert RESOURCES[f"{name}SenderLogGroup"] == {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{Name}}-${{Environment}}-{provider}-sender"},
        "RetentionInDays": _ref("LogRetentionInDays"), "KmsKeyId": _ref("KmsKeyArn")}}
    for metric, what in (("Errors", "raised errors"), ("Throttles", "was throttled")):
        alarm = RESOURCES[f"{name}Sender{metric}Alarm"]
        assert alarm["Type"] == "AWS::CloudWatch::Alarm"
        assert alarm["Properties"]["AlarmDescription"] == f"The {TITLES[provider]} sender {what}."
        assert alarm["Properties"]["MetricName"] == metric
        assert alarm["Properties"]["Dimensions"] == [{"Name": "FunctionName", "Value": _ref(f"{name}SenderFunction")}]
        other = RESOURCES[f"Api{metric}Alarm"]["Properties"]
        assert {k: v for k, v in alarm["Properties"].items() if k not in ("AlarmDescription", "Dimensions")} == {
            k: v for k, v in other.items() if k not in ("AlarmDescription", "Dimensions")}
    assert TEMPLATE["Outputs"][f"{name}SenderFunctionArn"] == {
        "Value": {"Fn::GetAtt": [f"{name}SenderFunction", "Arn"]}
    }


def test_the_loops_write_their_resources_where_they_stand() -> None:
    """In the order the five blocks had: each kind together, providers in registry order."""
    ids = list(RESOURCES)
    for suffix in ("SenderFunction", "SenderLogGroup"):
        found = [i for i in ids if i.endswith(suffix)]
        assert found == [f"{p.capitalize()}{suffix}" for p in PROVIDER_NAMES]
        assert ids.index(found[-1]) - ids.index(found[0]) == len(found) - 1
    assert [i for i in ids if "SenderErrors" in i or "SenderThrottles" in i] == [
        f"{p.capitalize()}Sender{m}Alarm" for p in PROVIDER_NAMES for m in ("Errors", "Throttles")]
    assert not [k for section in ("Resources", "Outputs") for k in TEMPLATE[section] if k.startswith("Fn::")]


def test_the_expansion_is_the_one_of_aws_sam_cli() -> None:
    """aws-sam-cli's Fn::ForEach processor (its port of the transform) on the raw template, then
    the resolution of Fn::Sub and Fn::FindInMap that follows in both: the same resources."""
    assert SAM_PYTHON.exists(), f"{SAM_PYTHON.relative_to(ROOT)} is missing: run `make tools`"
    script = (
        "import json, sys\n"
        "from samcli.lib.cfn_language_extensions.models import TemplateProcessingContext\n"
        "from samcli.lib.cfn_language_extensions.processors.foreach import ForEachProcessor\n"
        "from samtranslator.yaml_helper import yaml_parse\n"
        "context = TemplateProcessingContext(fragment=yaml_parse(open(sys.argv[1], encoding='utf-8').read()))\n"
        "ForEachProcessor().process_template(context)\n"
        "print(json.dumps(context.fragment))\n"
    )
    result = subprocess.run(
        [str(SAM_PYTHON), "-c", script, str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": "", "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    theirs = json.loads(result.stdout)
    for section in ("Resources", "Outputs"):
        resolved = resolve(theirs[section], RAW["Mappings"])
        assert list(resolved) == list(TEMPLATE[section])
        assert resolved == TEMPLATE[section]


# ---------------------------------------------------------------------------------------------
# expand() itself
# ---------------------------------------------------------------------------------------------


def _template(resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"], "Resources": resources, **extra}


def test_substitution_in_keys_strings_and_refs() -> None:
    template = _template(
        {
            "Fn::ForEach::Topics": [
                "Name",
                ["a.b", "c"],
                {
                    "Topic&{Name}": {
                        "Type": "AWS::SNS::Topic",
                        "Properties": {
                            "TopicName": {"Ref": "Name"},
                            "DisplayName": "${Name}-topic",
                            "Tags": [{"Key": "k", "Value": "&{Name}"}],
                            "Other": {"Ref": "Elsewhere"},
                        },
                    }
                },
            ]
        }
    )
    assert expand(template)["Resources"] == {
        "Topicab": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": "a.b",
                "DisplayName": "a.b-topic",
                "Tags": [{"Key": "k", "Value": "ab"}],
                "Other": {"Ref": "Elsewhere"},
            },
        },
        "Topicc": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": "c",
                "DisplayName": "c-topic",
                "Tags": [{"Key": "k", "Value": "c"}],
                "Other": {"Ref": "Elsewhere"},
            },
        },
    }


def test_nested_loops_mappings_and_sub_resolution() -> None:
    template = _template(
        {
            "Before": {"Type": "T"},
            "Fn::ForEach::Outer": [
                "Env",
                ["Dev", "Prod"],
                {
                    "Fn::ForEach::Inner": [
                        "Kind",
                        ["Tx", "Bulk"],
                        {
                            "${Env}${Kind}Queue": {
                                "Type": "AWS::SQS::Queue",
                                "Properties": {
                                    "QueueName": {
                                        "Fn::Sub": [
                                            "${Name}-${Short}-${Kind}",
                                            {"Short": {"Fn::FindInMap": ["Envs", {"Ref": "Env"}, "Short"]}},
                                        ]
                                    },
                                    "Delay": {"Fn::FindInMap": ["Envs", {"Ref": "Env"}, "Delay", {"DefaultValue": 0}]},
                                    "Policy": {"Ref": {"Fn::Sub": "${Env}Policy"}},
                                    "Arn": {"Fn::GetAtt": [{"Fn::Sub": "${Env}Key"}, "Arn"]},
                                    "Literal": {"Fn::Sub": "${!Kind}-${Kind}"},
                                },
                            }
                        },
                    ]
                },
            ],
        },
        Mappings={"Envs": {"Dev": {"Short": "d", "Delay": 5}, "Prod": {"Short": "p"}}},
    )
    resources = expand(template)["Resources"]
    assert list(resources) == ["Before", "DevTxQueue", "DevBulkQueue", "ProdTxQueue", "ProdBulkQueue"]
    assert resources["ProdBulkQueue"]["Properties"] == {
        "QueueName": {"Fn::Sub": "${Name}-p-Bulk"}, "Delay": 0, "Policy": {"Ref": "ProdPolicy"},
        "Arn": {"Fn::GetAtt": ["ProdKey", "Arn"]}, "Literal": "${Kind}-Bulk"}
    assert resources["DevTxQueue"]["Properties"]["Delay"] == 5


def test_a_template_without_the_transform_is_left_as_it_is() -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {"A": {"Type": "T", "Properties": {"X": {"Fn::Sub": "x"}}}},
    }
    assert expand(template) == template
    assert expand(template) is not template


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            {"Resources": {"Fn::ForEach::L": ["X", ["a"], {"R${X}": {"Type": "T"}}]}},
            "needs the AWS::LanguageExtensions",
        ),
        (_template({"Fn::ForEach::L": ["X", ["a", "a"], {"R${X}": {"Type": "T"}}]}), "written twice"),
        (_template({"Ra": {"Type": "T"}, "Fn::ForEach::L": ["X", ["a"], {"R${X}": {"Type": "T"}}]}), "written twice"),
        (_template({"Fn::ForEach::L": ["X", ["a"], {"R": {"Type": "T"}}]}), "does not hold ${X}"),
        (_template({"Fn::ForEach::L": ["X", {"Ref": "Names"}, {"R${X}": {"Type": "T"}}]}), "list of strings"),
        (
            _template(
                {"Fn::ForEach::L": ["Names", ["a"], {"R${Names}": {"Type": "T"}}]},
                Parameters={"Names": {"Type": "String"}},
            ),
            "already a parameter",
        ),
        (
            _template(
                {
                    "Fn::ForEach::L": [
                        "X",
                        ["a"],
                        {"R${X}": {"Type": "T", "Properties": {"N": {"Fn::FindInMap": ["M", "a", "b"]}}}},
                    ]
                }
            ),
            "Mappings.M.a.b does not exist",
        ),
        (_template({"A": {"Type": "T", "Properties": {"N": {"Fn::Length": [1, 2]}}}}), "Fn::Length"),
        (_template({}, Parameters={"Fn::ForEach::L": ["X", ["a"], {"P${X}": {"Type": "String"}}]}), "only allowed in"),
    ],
)
def test_what_is_not_reproduced_is_refused(template: dict[str, Any], message: str) -> None:
    with pytest.raises(LanguageExtensionError, match=message.replace("$", r"\$").replace("{", r"\{")):
        expand(template)


def test_load_template_reports_a_refused_loop_as_a_template_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(_template({"Fn::ForEach::L": ["X", ["a"], {"R": {"Type": "T"}}]})), encoding="utf-8")
    with pytest.raises(TemplateError, match=r"template.yaml: .*does not hold"):
        load_template(path)
