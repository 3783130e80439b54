"""The calling tenant, as the authorizer put it in the request context."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from tamtam.errors import Unauthorized

_router_for_context = Router()


def bind(app_or_router) -> None:  # noqa: ANN001
    global _router_for_context
    _router_for_context = app_or_router


def tenant_id() -> str:
    context = (_router_for_context.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    value = context.get("tenant_id")
    if not value:
        raise Unauthorized("missing or unknown API key")
    return str(value)
