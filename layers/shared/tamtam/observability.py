"""The only Logger, Metrics and (opt-in) Tracer. Tracing costs ~600 ms of imports, so it is
loaded only when POWERTOOLS_TRACE_DISABLED is explicitly "false"."""

from __future__ import annotations

import os
import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "tamtam"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "tamtam"))

# Messages that ended `failed` or `unconfirmed`, by provider and reason (the dashboard's
# "Failures by reason" graph searches this name and these dimensions).
FAILURE_METRIC = "MessagesFailed"
PROVIDER_DIMENSION, REASON_DIMENSION = "Provider", "Reason"
# Reasons are the stable codes (README: invalid_number, ..., retries_exhausted, otp_expired);
# anything else (free text by mistake) is counted as "other": the dimension stays bounded.
_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")

# Errors a function caught and answered 500 for (its Lambda `Errors` metric never sees them), by
# function: infra/alarms.tf alarms on it.
UNHANDLED_METRIC, FUNCTION_DIMENSION = "UnhandledErrors", "function"
# Messages that moved into `failed` / `unconfirmed`, once per transition (tamtam.lifecycle):
# infra/alarms.tf alarms on each.
STATUS_METRICS = {"failed": "FailedMessages", "unconfirmed": "UnconfirmedMessages"}
# A burst of one-time codes to one number range (tamtam.otp.limits): infra/alarms.tf alarms on it.
OTP_RANGE_METRIC = "OtpPrefixVelocityExceeded"


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false"


def capture_lambda_handler(handler: Any) -> Any:
    """Tracer.capture_lambda_handler when tracing is on; the bare handler otherwise."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415  (heavy, opt-in)

    return Tracer().capture_lambda_handler(handler)


def count_failure(provider: str | None, reason: str | None) -> None:
    """One `MessagesFailed` EMF document for one message that reached a failure status, written
    at once: its dimensions are its own (a Metrics flush shares one dimension set), and it works
    in every function, with or without `log_metrics`."""
    code = reason if reason and _REASON_CODE.fullmatch(reason) else ("other" if reason else "unknown")
    with single_metric(
        name=FAILURE_METRIC, unit=MetricUnit.Count, value=1, namespace=metrics.namespace,
        default_dimensions={PROVIDER_DIMENSION: provider or "none", REASON_DIMENSION: code},
    ):
        pass


def count(name: str, value: float = 1, dimensions: dict[str, str] | None = None) -> None:
    """One EMF document, written at once (like count_failure): `name` with `service` and the
    given dimensions only. For the metrics alarms watch, whose dimensions must be exact."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace, default_dimensions=dimensions or {},
    ):
        pass


def count_unhandled(function: str) -> None:
    """An error a function caught and answered 500 for (`UnhandledErrors`, by function)."""
    count(UNHANDLED_METRIC, dimensions={FUNCTION_DIMENSION: function})
