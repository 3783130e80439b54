"""Least privilege per function, read from template.yaml (docs/architecture.md, "Least privilege").

- No function reaches the whole table: no SAM DynamoDB policy template (DynamoDBCrudPolicy...),
  no `dynamodb:*`, no Scan; every item action on the table is limited to partition key prefixes
  (`ForAllValues:StringLike` on `dynamodb:LeadingKeys`), and an index is queried by name only.
- What each function may do on the table is exactly the docs/architecture.md table.
- The webhooks function (no API key) cannot touch tenants, keys, OTPs or their limits.
- Provider secrets are read only by the functions that call a provider, each its own providers'.
- Only the api may encrypt one-time codes; the senders may only decrypt them.
- Only the lifecycle function (its status events) and the webhooks function (its inbound events)
  may put events on the bus, each only its own: no role of this stack can put a `Send Message
  Requested` / `Send Bulk Requested` event.

The checks are functions of a template, so that the last tests can show they catch a function
given DynamoDBCrudPolicy.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from local.stack.template import load_template
from tamtam.events import INBOUND_DETAIL_TYPE, STATUS_DETAIL_TYPES
from tamtam.events import SOURCE as STATUS_SOURCE
from tamtam.ingest import DETAIL_TYPES as REQUEST_DETAIL_TYPES
from tamtam.providers.registry import POLL, PROVIDER_NAMES, capabilities

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
DOCS = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
FUNCTION_TYPE = "AWS::Serverless::Function"
TABLE = {"Ref": "TableArn"}
STREAM = {"Ref": "TableStreamArn"}
OTP_KEY = {"Ref": "OtpKeyArn"}
ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
STREAM_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"}

Grant = tuple[str, str]  # (action, "pk:<LeadingKeys pattern>" | "index:<name>" | "stream" | "table")


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == FUNCTION_TYPE}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for p in function["Properties"].get("Policies") or [] if "Statement" in p for s in _listed(p["Statement"])
    ]


def policy_templates(function: dict[str, Any]) -> list[str]:
    return [name for p in function["Properties"].get("Policies") or [] if isinstance(p, dict) for name in p
            if name != "Statement"] + [p for p in function["Properties"].get("Policies") or [] if isinstance(p, str)]


def _index_of(resource: Any) -> str | None:
    """`!Sub ${TableArn}/index/<name>` -> name."""
    sub = resource.get("Fn::Sub") if isinstance(resource, dict) else None
    match = re.fullmatch(r"\$\{TableArn\}/index/(.+)", sub) if isinstance(sub, str) else None
    return match.group(1) if match else None


def _leading_keys(statement: dict[str, Any]) -> list[str] | None:
    condition = (statement.get("Condition") or {}).get("ForAllValues:StringLike") or {}
    keys = condition.get("dynamodb:LeadingKeys")
    return None if keys is None else _listed(keys)


def violations(template: dict[str, Any]) -> list[str]:
    """Everything that lets a function reach beyond its items: [] when nothing does."""
    found = []
    for logical_id, function in sorted(functions(template).items()):
        found += [f"{logical_id}: SAM policy template {name} grants whole tables"
                  for name in policy_templates(function) if name.startswith("DynamoDB")]
        for statement in statements(function):
            actions = [str(a) for a in _listed(statement.get("Action", []))]
            if statement.get("Effect") != "Allow" or not any(a.startswith("dynamodb:") or a == "*" for a in actions):
                continue
            sid = statement.get("Sid", "?")
            wild = [a for a in actions if a == "*" or "*" in a.removeprefix("dynamodb:")]
            found += [f"{logical_id}/{sid}: wildcard action {a}" for a in wild]
            found += [f"{logical_id}/{sid}: dynamodb:Scan reads every item" for a in actions if a == "dynamodb:Scan"]
            unknown = [a for a in actions if a.startswith("dynamodb:")
                       and a not in ITEM_ACTIONS | STREAM_ACTIONS | {"dynamodb:Scan"} and a not in wild]
            found += [f"{logical_id}/{sid}: {a} is not an item action of this project" for a in unknown]
            for resource in _listed(statement.get("Resource")):
                if resource == STREAM:
                    found += [f"{logical_id}/{sid}: {a} on the stream" for a in actions if a not in STREAM_ACTIONS]
                elif _index_of(resource) is not None:
                    if "*" in _index_of(resource):
                        found.append(f"{logical_id}/{sid}: every index")
                    found += [
                        f"{logical_id}/{sid}: {a} on an index (only Query)" for a in actions if a != "dynamodb:Query"
                    ]
                elif resource == TABLE:
                    keys = _leading_keys(statement)
                    if not keys:
                        found.append(f"{logical_id}/{sid}: the whole table (no dynamodb:LeadingKeys condition)")
                    elif any(k.strip("*?") == "" for k in keys):
                        found.append(f"{logical_id}/{sid}: a LeadingKeys pattern that matches every key")
                else:
                    found.append(f"{logical_id}/{sid}: dynamodb actions on {resource!r}")
    return found


def grants(function: dict[str, Any]) -> set[Grant]:
    """The DynamoDB access the function's policies give, as (action, target) pairs. A SAM
    DynamoDB policy template counts as every action on every item and index."""
    given: set[Grant] = set()
    if any(name.startswith("DynamoDB") for name in policy_templates(function)):
        given |= {(a, t) for a in ITEM_ACTIONS for t in ("pk:*", "index:*")}
    for statement in statements(function):
        if statement.get("Effect") != "Allow":
            continue
        actions = [str(a) for a in _listed(statement.get("Action", []))]
        actions = sorted(ITEM_ACTIONS) if "*" in actions or "dynamodb:*" in actions else actions
        for resource in _listed(statement.get("Resource")):
            if resource == TABLE:
                targets = [f"pk:{k}" for k in (_leading_keys(statement) or ["*"])]
            elif resource == STREAM:
                targets = ["stream"]
            elif _index_of(resource) is not None:
                targets = [f"index:{_index_of(resource)}"]
            else:
                continue
            given |= {(a, t) for a in actions if a.startswith("dynamodb:") for t in targets}
    return given


def _like(pattern: str, value: str) -> bool:
    """IAM StringLike: `*` any run of characters, `?` one character."""
    return (
        re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), value)
        is not None
    )


def reaches(function: dict[str, Any], key: str) -> list[str]:
    """The actions the function may take on an item whose partition key is `key`."""
    return sorted({a for a, t in grants(function) if t.startswith("pk:") and _like(t[3:], key)})


# ---------------------------------------------------------------------------------------------
# The docs/architecture.md table
# ---------------------------------------------------------------------------------------------


def documented(docs: str) -> dict[str, set[Grant]]:
    """Rows of the table under "## Least privilege": function -> (action, target) pairs."""
    section = docs.split("\n## Least privilege", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table: dict[str, set[Grant]] = {}
    for row in rows:
        function, actions, targets = (cell.strip() for cell in row.strip("|").split("|")[:3])
        entry = table.setdefault(function.strip("`"), set())
        if actions == "none":
            continue
        names = re.findall(r"`([^`]+)`", targets)
        parsed = [f"index:{n.removeprefix('index ')}" if n.startswith("index ") else n if n == "stream" else f"pk:{n}"
                  for n in names]
        entry |= {(f"dynamodb:{a.strip()}", t) for a in actions.split(",") for t in parsed}
    return table


def provider_secrets(function: dict[str, Any]) -> set[str]:
    """The providers whose secret the function may read."""
    refs = [
        p["AWSSecretsManagerGetSecretValuePolicy"]["SecretArn"]
        for p in function["Properties"].get("Policies") or []
        if isinstance(p, dict) and "AWSSecretsManagerGetSecretValuePolicy" in p
    ]
    refs += [r for s in statements(function) if {"secretsmanager:GetSecretValue", "secretsmanager:*", "*"}
             & set(_listed(s.get("Action"))) for r in _listed(s.get("Resource"))]
    secret_of = {f"{p.capitalize()}SecretArn": p for p in PROVIDER_NAMES}
    found = set()
    for ref in refs:
        if ref == "*":
            found |= set(PROVIDER_NAMES)
        elif isinstance(ref, dict) and ref.get("Ref") in secret_of:
            found.add(secret_of[ref["Ref"]])
    return found


def kms_on_otp_key(function: dict[str, Any]) -> set[str]:
    """The KMS actions the function may take with the OTP key."""
    return {str(a) for s in statements(function) if s.get("Effect") == "Allow"
            for r in _listed(s.get("Resource")) if r in (OTP_KEY, "*")
            for a in _listed(s.get("Action")) if str(a).startswith("kms:") or a == "*"}


def event_puts(function: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements that let the function put events (and SAM's unconditioned template)."""
    puts = [s for s in statements(function) if s.get("Effect") == "Allow"
            and {"events:PutEvents", "events:*", "*"} & {str(a) for a in _listed(s.get("Action"))}]
    return puts + [{"template": n} for n in policy_templates(function) if n == "EventBridgePutEventsPolicy"]


FUNCTIONS = functions(TEMPLATE)
SENDERS = {f"{p.capitalize()}SenderFunction": p for p in PROVIDER_NAMES}
# Who calls a provider, and so reads its secret: each sender its own provider's; the status
# poller the providers it asks; the balance checker the two that publish a balance; the rotation
# every one; the webhooks SMSGate's (its webhook signing key is in it).
PROVIDER_CALLERS = {
    **{logical_id: {provider} for logical_id, provider in SENDERS.items()},
    "StatusPollerFunction": {p for p in PROVIDER_NAMES if POLL in capabilities(p).reports},
    "BalanceCheckerFunction": {"passeinfo", "messagepro"},
    "RotationFunction": set(PROVIDER_NAMES),
    "WebhooksFunction": {"smsgate", "messagepro"},  # SMSGate's signing key, Message Pro's webhook secret
}


# ---------------------------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------------------------


def test_no_function_reaches_beyond_its_item_kinds() -> None:
    assert violations(TEMPLATE) == []


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_the_table_access_is_the_documented_one(logical_id: str) -> None:
    table = documented(DOCS)
    assert logical_id in table, f"{logical_id} has no row in docs/architecture.md, \"Least privilege\""
    assert grants(FUNCTIONS[logical_id]) == table[logical_id]


def test_the_documented_functions_exist() -> None:
    assert set(documented(DOCS)) <= set(FUNCTIONS)


@pytest.mark.parametrize("key", ["TENANT#ten_1", "KEY#0123abcd", "OTP#otp_1", "OTPLIMIT#PHONE#ten_1#+224622000001",
                                 "IDEMPOTENCY#ten_1", "LIMIT#SEND#ten_1#29000000"])
def test_the_webhooks_function_cannot_touch_tenants_keys_or_otps(key: str) -> None:
    webhooks = FUNCTIONS["WebhooksFunction"]
    assert reaches(webhooks, key) == []
    assert not [t for _, t in grants(webhooks) if t.startswith("index:")]  # gsi3 lists a tenant's messages


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_only_the_functions_that_call_a_provider_read_provider_secrets(logical_id: str) -> None:
    assert provider_secrets(FUNCTIONS[logical_id]) == PROVIDER_CALLERS.get(logical_id, set())


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_only_the_api_may_encrypt_otp_codes_and_only_the_senders_decrypt_them(logical_id: str) -> None:
    expected = {"kms:Encrypt"} if logical_id == "ApiFunction" else {"kms:Decrypt"} if logical_id in SENDERS else set()
    assert kms_on_otp_key(FUNCTIONS[logical_id]) == expected
    for statement in statements(FUNCTIONS[logical_id]):
        if OTP_KEY in _listed(statement.get("Resource")):  # a code sealed for one OTP record only
            assert statement["Condition"] == {"StringEquals": {"kms:EncryptionContext:purpose": "tamtam-otp"}}


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_no_function_may_put_a_send_request_on_the_bus(logical_id: str) -> None:
    puts = event_puts(FUNCTIONS[logical_id])
    own = {"LifecycleFunction": list(STATUS_DETAIL_TYPES), "WebhooksFunction": INBOUND_DETAIL_TYPE}
    if logical_id not in own:
        assert puts == []
        return
    [statement] = puts  # its own events, nothing else
    assert statement["Condition"] == {"StringEquals": {"events:source": STATUS_SOURCE,
                                                       "events:detail-type": own[logical_id]}}
    assert not set(_listed(own[logical_id])) & set(REQUEST_DETAIL_TYPES)


# ---------------------------------------------------------------------------------------------
# The checks catch what they are for
# ---------------------------------------------------------------------------------------------


def _with_crud(logical_id: str) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    functions(template)[logical_id]["Properties"]["Policies"].append(
        {"DynamoDBCrudPolicy": {"TableName": {"Ref": "TableName"}}}
    )
    return template


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_a_function_given_dynamodb_crud_policy_is_caught(logical_id: str) -> None:
    template = _with_crud(logical_id)
    assert f"{logical_id}: SAM policy template DynamoDBCrudPolicy grants whole tables" in violations(template)
    assert grants(functions(template)[logical_id]) != documented(DOCS)[logical_id]
    assert reaches(functions(template)[logical_id], "KEY#0123abcd") == sorted(ITEM_ACTIONS)


def test_a_statement_on_the_whole_table_is_caught() -> None:
    template = copy.deepcopy(TEMPLATE)
    functions(template)["WebhooksFunction"]["Properties"]["Policies"].append(
        {"Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Scan"],
                        "Resource": TABLE}]})
    assert violations(template) == ["WebhooksFunction/Everything: dynamodb:Scan reads every item",
                                    "WebhooksFunction/Everything: the whole table (no dynamodb:LeadingKeys condition)"]
    assert reaches(functions(template)["WebhooksFunction"], "TENANT#ten_1") == ["dynamodb:GetItem", "dynamodb:Scan"]
