"""Every API error leaves in one shape, `{"error": {"code", "message", "field"}}`, mapped here
once for the whole resolver."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from tamtam.errors import TamtamError, error_body
from tamtam.observability import logger

# pydantic error types -> stable codes
_CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "literal_error": "invalid_value",
    "string_type": "invalid_type",
    "model_attributes_type": "invalid_json",
    "dict_type": "invalid_json",
}
_CUSTOM = {"invalid_phone", "unknown_provider"}


def error_response(status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(code, message, field),
        headers=headers,
    )


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def _from_validation(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    first = errors[0] if errors else {"type": "invalid_value", "loc": (), "msg": "invalid request"}
    kind = str(first.get("type", ""))
    code = kind if kind in _CUSTOM else _CODES.get(kind, "invalid_value")
    status = 400 if code == "invalid_json" else 422
    field = _field(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid request"))
    if code == "invalid_json":
        message, field = "the body is not a JSON object", None
    elif code == "unknown_field":
        message = f"unknown field {field!r}"
    elif code == "missing_field":
        message = f"{field!r} is required"
    return error_response(status, code, message, field)


def register(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        return _from_validation(exc)

    @app.exception_handler(TamtamError)
    def _domain(exc: TamtamError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; nothing was sent twice, retry later")
