"""A fan-out chunk's message records (tamtam.bulk.records), each created by one conditional
PutItem (`attribute_not_exists(pk)`): of two deliveries racing for the same record, exactly one
creates it. Throttling and the table's transient errors are retried here, with backoff."""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError

from tamtam.errors import ServiceUnavailable

_RETRIED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                      "InternalServerError", "ServiceUnavailable", "TransactionConflictException"})
_TRIES = 8


def _backoff(attempt: int) -> None:
    time.sleep(min(0.05 * 2**attempt, 2.0) * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)


def put_once(table: Any, item: dict[str, Any]) -> bool:
    """True when this put created the record, False when it existed. A put the table kept
    refusing (`_TRIES` transient errors) raises ServiceUnavailable; any other error is raised."""
    client = table.meta.client
    for attempt in range(_TRIES):
        try:
            client.put_item(TableName=table.name, Item=item, ConditionExpression="attribute_not_exists(pk)")
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                return False
            if code not in _RETRIED:
                raise
        _backoff(attempt)
    raise ServiceUnavailable("the table kept refusing writes", code="table_unavailable")
