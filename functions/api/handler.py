"""The REST API (API Gateway proxy). Routes are declared in the route modules of this package
(api.router), validated with their pydantic models, and every error is mapped once, in api.errors. The
OpenAPI document is written from the same declarations at build time (`make openapi`).

A route module registers its operations when it is imported, and a request imports only the
modules of its path (ROUTE_MODULES): a cold start that serves a send does not load the code of
batches, webhooks or opt-outs."""

from __future__ import annotations

import importlib
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from api.errors import to_answer
from api.idempotency import once
from api.router import find, parse, render, route_of
from tamtam.observability import capture_lambda_handler, logger

# Path prefix -> the module that declares its routes. Every module whose prefix a path starts
# with is loaded (`/v1/messages/bulk` loads api.batches and api.messages, whose
# `/v1/messages/{message_id}` it also matches), so routing answers what it would with all loaded.
ROUTE_MODULES: tuple[tuple[str, str], ...] = (
    ("/v1/messages/bulk", "api.batches"),
    ("/v1/messages", "api.messages"),
    ("/v1/batches", "api.batches"),
    ("/v1/otp", "api.otp"),
    ("/v1/providers", "api.providers"),
    ("/v1/webhook-endpoints", "api.webhook_endpoints"),
    ("/v1/callback-secret", "api.webhook_endpoints"),
    ("/v1/inbound", "api.inbound"),
    ("/v1/opt-outs", "api.opt_outs"),
    ("/openapi.json", "api.docs"),
    ("/docs", "api.docs"),
)


def modules_for(path: str) -> list[str]:
    """The route modules that can serve `path`."""
    return [module for prefix, module in ROUTE_MODULES if path == prefix or path.startswith(prefix + "/")]


def load_routes(path: str) -> None:
    """Import the route modules that can serve `path` (once per process: imports are cached)."""
    for module in modules_for(path):
        importlib.import_module(module)


def load_all_routes() -> None:
    """Every route module, in one fixed order (the OpenAPI document, tests)."""
    for module in sorted({module for _, module in ROUTE_MODULES}):
        importlib.import_module(module)


def dispatch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        method, path = route_of(event)
        load_routes(path)
        op, params = find(method, path)
        call = parse(op, params, event, context)
        if not op.public:
            call.tenant_id  # noqa: B018  (401 before anything is read or written)

        def run() -> dict[str, Any]:
            return render(op.status, op.func(call))

        return once(call, run) if op.idempotency_key else run()
    except Exception as exc:  # noqa: BLE001  (mapped once, in api.errors)
        answer = to_answer(exc)
        return render(answer.status, answer)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return dispatch(event, context)
