"""A tenant's webhook endpoints and its message-callback secret: items of the one table, all in
the tenant's partition `WEP#<tenant id>` (docs/architecture.md, "Status callbacks"):

- sk `WEP#<endpoint id>`: an endpoint (url, event types, state, signing secret);
- sk `SECRET`: the secret that signs the callbacks of messages sent with a `callback_url`.

Every read names the tenant in the key, so another tenant's endpoint id is simply not found.
Secrets are `SecretStr` here (never in a repr or a log line) and leave the API only in the
answer that created or rolled them.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel, SecretStr

ENABLED, DISABLED = "enabled", "disabled"
ENDPOINT_SK_PREFIX = "WEP#"
SECRET_SK = "SECRET"  # noqa: S105 - a sort key, not a secret
MAX_ENDPOINTS = 20  # per tenant: the lifecycle fans each change out to all of them


class EndpointItem(BaseModel):
    id: str
    tenant_id: str
    url: str
    event_types: list[str]
    secret: SecretStr
    state: str = ENABLED
    disabled_reason: str | None = None  # gone: the receiver answered 410
    created_at: str
    updated_at: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> EndpointItem:
        return cls.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})

    def to_item(self) -> dict[str, Any]:
        item = self.model_dump(exclude_none=True)
        item["secret"] = self.secret.get_secret_value()
        return {**item, **endpoint_key(self.tenant_id, self.id)}


def partition(tenant_id: str) -> str:
    return f"WEP#{tenant_id}"


def endpoint_key(tenant_id: str, endpoint_id: str) -> dict[str, str]:
    return {"pk": partition(tenant_id), "sk": f"{ENDPOINT_SK_PREFIX}{endpoint_id}"}


def secret_key(tenant_id: str) -> dict[str, str]:
    return {"pk": partition(tenant_id), "sk": SECRET_SK}


def _condition_failed(exc: ClientError) -> bool:
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


def put_new(table: Any, endpoint: EndpointItem) -> None:
    table.put_item(Item=endpoint.to_item(), ConditionExpression="attribute_not_exists(pk)")


def list_for_tenant(table: Any, tenant_id: str, *, consistent: bool = False) -> list[EndpointItem]:
    """The tenant's endpoints, oldest first (ids sort by creation time)."""
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(partition(tenant_id)) & Key("sk").begins_with(ENDPOINT_SK_PREFIX),
        "ConsistentRead": consistent,
    }
    out: list[EndpointItem] = []
    while True:
        answer = table.query(**query)
        out += [EndpointItem.from_item(item) for item in answer.get("Items", [])]
        if "LastEvaluatedKey" not in answer:
            return out
        query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def get(table: Any, tenant_id: str, endpoint_id: str, *, consistent: bool = True) -> EndpointItem | None:
    item = table.get_item(Key=endpoint_key(tenant_id, endpoint_id), ConsistentRead=consistent).get("Item")
    return EndpointItem.from_item(item) if item else None


def delete(table: Any, tenant_id: str, endpoint_id: str) -> EndpointItem | None:
    """The endpoint deleted, or None when the tenant has no such endpoint."""
    try:
        answer = table.delete_item(Key=endpoint_key(tenant_id, endpoint_id), ConditionExpression="attribute_exists(pk)",
                                   ReturnValues="ALL_OLD")
    except ClientError as exc:
        if _condition_failed(exc):
            return None
        raise
    return EndpointItem.from_item(answer["Attributes"])


def roll_secret(table: Any, tenant_id: str, endpoint_id: str, secret: str, *, at: str) -> EndpointItem | None:
    """A new secret for the endpoint (the old one stops signing at once), or None when the
    tenant has no such endpoint."""
    try:
        answer = table.update_item(
            Key=endpoint_key(tenant_id, endpoint_id), ConditionExpression="attribute_exists(pk)",
            UpdateExpression="SET secret = :s, updated_at = :at", ExpressionAttributeValues={":s": secret, ":at": at},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if _condition_failed(exc):
            return None
        raise
    return EndpointItem.from_item(answer["Attributes"])


def disable(table: Any, tenant_id: str, endpoint_id: str, *, reason: str, at: str) -> bool:
    """Turn an enabled endpoint off; False when it is gone or already off."""
    try:
        table.update_item(
            Key=endpoint_key(tenant_id, endpoint_id), ConditionExpression="#st = :on",
            UpdateExpression="SET #st = :off, disabled_reason = :r, updated_at = :at",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues={":on": ENABLED, ":off": DISABLED, ":r": reason, ":at": at},
        )
    except ClientError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def get_callback_secret(table: Any, tenant_id: str, *, consistent: bool = True) -> SecretStr | None:
    item = table.get_item(Key=secret_key(tenant_id), ConsistentRead=consistent).get("Item")
    return SecretStr(str(item["secret"])) if item else None


def put_callback_secret(table: Any, tenant_id: str, secret: str, *, at: str) -> None:
    """The tenant's message-callback secret, replacing the previous one."""
    table.put_item(Item={**secret_key(tenant_id), "secret": secret, "tenant_id": tenant_id, "created_at": at})
