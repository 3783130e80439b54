"""Writes that must not be lost to a passing AWS fault: a status written after the provider
answered (the message went out, or certainly did not), a record written after its enqueue.

`retried(call)` runs the call again on throttling, a 5xx or a lost connection, with a short
exponential backoff, a bounded number of times and never past the invocation's `deadline`;
then it raises (the SQS message comes back, and the claim's stale path resolves it honestly).
A conditional check that failed is an answer, not a fault: it is never retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from tamtam.observability import logger

TRIES = 6
BASE_SECONDS = 0.05
MAX_SECONDS = 1.0
RETRIED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "TransactionConflict",
        "TransactionConflictException",
    }
)


def retriable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error.get("Code") in RETRIED_CODES or status >= 500
    return isinstance(exc, (BotoConnectionError, HTTPClientError))


def retried[T](call: Callable[[], T], *, what: str, deadline: float | None = None, tries: int = TRIES) -> T:
    """`call()`, again after an AWS-side fault. `deadline`: a time.monotonic() value not to
    sleep past (the invocation's end)."""
    for attempt in range(1, tries + 1):
        try:
            return call()
        except Exception as exc:
            if not retriable(exc) or attempt == tries:
                raise
            delay = min(BASE_SECONDS * 2 ** (attempt - 1), MAX_SECONDS) * random.uniform(0.5, 1.0)  # noqa: S311
            if deadline is not None and time.monotonic() + delay >= deadline:
                raise
            logger.warning(
                "write failed; retrying", extra={"what": what, "attempt": attempt, "error": type(exc).__name__}
            )
            time.sleep(delay)
    raise AssertionError("unreachable")
