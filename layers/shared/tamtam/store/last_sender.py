"""Who last sent to a number through a provider: the tenant an inbound message from that number,
through that provider, belongs to (docs/architecture.md, "Inbound messages and opt-outs").

    pk `LAST#<provider>#<E.164>`  sk `LAST`  tenant_id, message_id, at, expires_at

Written by the provider's sender when it records a message `sent` (tamtam.messaging.outcomes),
only for the providers that deliver inbound messages (`INBOUND_PROVIDERS`): one PutItem per
message sent through them, conditional on `at` so that a late write of an older send never
replaces a newer one. Read by the webhooks function, one GetItem per inbound message. The item
expires with the messages (90 days): after that, an answer from the number belongs to nobody.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

SORT_KEY = "LAST"
INBOUND_PROVIDERS = frozenset({"smsgate", "messagepro"})  # the providers whose webhooks carry received messages


class LastSender(BaseModel):
    provider: str
    phone: str
    tenant_id: str
    message_id: str
    at: str  # tamtam.clock.iso: sorts by time
    expires_at: int | None = None


def key(provider: str, phone: str) -> dict[str, str]:
    return {"pk": f"LAST#{provider}#{phone}", "sk": SORT_KEY}


def record(table: Any, sender: LastSender) -> bool:
    """Remember `sender` unless a later send is already remembered; False when one was."""
    item = {**sender.model_dump(exclude_none=True), **key(sender.provider, sender.phone)}
    try:
        table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk) OR #at <= :at",
                       ExpressionAttributeNames={"#at": "at"}, ExpressionAttributeValues={":at": sender.at})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get(table: Any, provider: str, phone: str) -> LastSender | None:
    item = table.get_item(Key=key(provider, phone), ConsistentRead=True).get("Item")
    if not item:
        return None
    return LastSender.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})
