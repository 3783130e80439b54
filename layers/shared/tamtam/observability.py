"""The only Logger, Metrics and (opt-in) Tracer. Tracing costs ~600 ms of imports, so it is
loaded only when POWERTOOLS_TRACE_DISABLED is explicitly "false"."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "tamtam"))
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "tamtam"))


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() == "false"


def capture_lambda_handler(handler: Any) -> Any:
    """Tracer.capture_lambda_handler when tracing is on; the bare handler otherwise."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415  (heavy, opt-in)

    return Tracer().capture_lambda_handler(handler)
