"""Items of the one-time codes' own limits (tamtam.otp.limits has the limits), sk `OTPLIMIT`:

- pk `OTPLIMIT#PHONE#<tenant id>#<E.164>`: a short log of send times to one number, `sends`,
  rewritten whole under an optimistic lock on `version`;
- pk `OTPLIMIT#TENANT#<tenant id>#<UTC day index>`: the tenant's codes of the day, `sends`.

Both carry the TTL attribute `expires_at`. (The limits across tenants are tamtam.store.limits'
fixed-window counters.)"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

SK = "OTPLIMIT"


def _conditional_failed(exc: ClientError) -> bool:
    code: str | None = exc.response.get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException"


def phone_key(tenant_id: str, to: str) -> dict[str, str]:
    return {"pk": f"OTPLIMIT#PHONE#{tenant_id}#{to}", "sk": SK}


@dataclass(frozen=True)
class PhoneLog:
    sends: list[float]  # epoch seconds, as stored (older ones included)
    version: int


def phone_log(table: Any, tenant_id: str, to: str) -> PhoneLog | None:
    """The tenant's log of sends to `to` (consistent read); None when there is none."""
    item = table.get_item(Key=phone_key(tenant_id, to), ConsistentRead=True).get("Item")
    if not item:
        return None
    return PhoneLog(sends=[float(t) for t in item.get("sends", [])], version=int(item["version"]))


def replace_phone_log(table: Any, tenant_id: str, to: str, sends: list[float], *, read: PhoneLog | None,
                      expires_at: int) -> bool:
    """Write the log as `sends` (version one past `read`'s), if it is still the log `read` (None:
    there was none). False when another write came first."""
    version = read.version if read else 0
    item = {**phone_key(tenant_id, to), "sends": [Decimal(str(t)) for t in sends], "version": version + 1,
            "expires_at": expires_at}
    try:
        if read is None:
            table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        else:
            table.put_item(Item=item, ConditionExpression="#v = :v",
                           ExpressionAttributeNames={"#v": "version"}, ExpressionAttributeValues={":v": version})
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
        return False
    return True


def take_tenant_day(table: Any, tenant_id: str, day: int, *, limit: int, expires_at: int) -> bool:
    """Count one code of the tenant on UTC day `day` if fewer than `limit` are counted; False
    when refused (nothing counted)."""
    try:
        table.update_item(
            Key={"pk": f"OTPLIMIT#TENANT#{tenant_id}#{day}", "sk": SK},
            UpdateExpression="ADD #n :one SET #e = :ttl",
            ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
            ExpressionAttributeNames={"#n": "sends", "#e": "expires_at"},
            ExpressionAttributeValues={":one": 1, ":limit": limit, ":ttl": expires_at},
        )
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
        return False
    return True
