"""Idempotency records (tamtam.idempotency) on the one table, kept by Powertools' DynamoDB
persistence layer: pk `IDEMPOTENCY#<tenant>` (each tenant's keys one partition), sk
`<scope>#<sha256 of the key>` (Powertools writes it), TTL on `expires_at`.

Powertools' idempotency costs ~265 ms of imports, so it is imported on the first keyed call.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

PK_PREFIX = "IDEMPOTENCY#"


@lru_cache(maxsize=1024)
def persistence(table_name: str, tenant_id: str, client: Any) -> Any:
    """One persistence layer per tenant and client (each registers a hook on the client once)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer  # noqa: PLC0415

    return DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=f"{PK_PREFIX}{tenant_id}",
        expiry_attr="expires_at",
        boto3_client=client,
    )
