"""The REST API (API Gateway proxy). Routes are declared in the api_* modules (api_router),
validated with their pydantic models, and every error is mapped once, in api_errors. The
OpenAPI document is written from the same declarations at build time (`make openapi`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

import api_batches  # noqa: F401  (each api_* module registers its routes)
import api_docs  # noqa: F401
import api_inbound  # noqa: F401
import api_messages  # noqa: F401
import api_opt_outs  # noqa: F401
import api_otp  # noqa: F401
import api_providers  # noqa: F401
import api_webhook_endpoints  # noqa: F401
from api_errors import to_answer
from api_idempotency import once
from api_router import find, parse, render, route_of
from tamtam.observability import capture_lambda_handler, logger


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        op, params = find(*route_of(event))
        call = parse(op, params, event, context)
        if not op.public:
            call.tenant_id  # noqa: B018  (401 before anything is read or written)

        def run() -> dict[str, Any]:
            return render(op.status, op.func(call))

        return once(call, run) if op.idempotency_key else run()
    except Exception as exc:  # noqa: BLE001  (mapped once, in api_errors)
        answer = to_answer(exc)
        return render(answer.status, answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, context)
