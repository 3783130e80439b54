"""The operator API for tenant keys (API Gateway REST proxy). Its routes are authorized by
AWS_IAM: a call signed (SigV4) with an operator's AWS credentials allowed execute-api:Invoke on
them; a tenant key never opens them. A call that did not come through IAM (no caller identity,
or a tenant authorizer's context) is refused here too, should a route ever be wired otherwise.

    GET    /admin/tenants/{tenant_id}/keys                   the tenant's keys (never their values)
    POST   /admin/tenants/{tenant_id}/keys                   {"name"}: a new key, shown once
    POST   /admin/tenants/{tenant_id}/keys/{key_id}/rotate   {"grace_seconds"}: a new key, the old one
                                                             works until the grace period ends
    DELETE /admin/tenants/{tenant_id}/keys/{key_id}          revoke: refused within 60 s

Errors leave in the API's one shape `{"error": {"code", "message", "field"}}`."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from tamtam import aws, tenant_keys
from tamtam.errors import TamtamError, error_body
from tamtam.observability import capture_lambda_handler, logger
from tamtam.settings import get_settings
from tenant_admin.models import CreateKeyIn, KeyListOut, KeyOut, NewKeyOut, RotateKeyIn, RotationOut

KEYS = "/admin/tenants/{tenant_id}/keys"
KEY = KEYS + "/{key_id}"
ROTATE = KEY + "/rotate"


class OperatorOnly(TamtamError):
    status = 403
    code = "forbidden"


class Call:
    def __init__(self, event: dict[str, Any], operator: str):
        self.event, self.operator = event, operator
        params = event.get("pathParameters") or {}
        self.tenant_id, self.key_id = str(params.get("tenant_id") or ""), str(params.get("key_id") or "")

    def body(self, model: type[BaseModel]) -> Any:
        raw = self.event.get("body") or ""
        if self.event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(raw, validate=True).decode("utf-8")
            except (binascii.Error, ValueError) as exc:
                raise TamtamError("the body is not valid base64 UTF-8", code="invalid_body") from exc
        return model.model_validate_json(raw or "{}")

    def log(self, action: str, **extra: Any) -> None:
        logger.info(
            "tenant key changed",
            extra={"action": action, "tenant_id": self.tenant_id, "operator": self.operator, **extra},
        )


def list_keys(call: Call) -> tuple[int, BaseModel]:
    keys = tenant_keys.list_keys(_table(), call.tenant_id)
    return 200, KeyListOut(tenant_id=call.tenant_id, keys=[KeyOut.model_validate(k) for k in keys])


def create_key(call: Call) -> tuple[int, BaseModel]:
    created = tenant_keys.create_key(_table(), call.tenant_id, call.body(CreateKeyIn).name)
    call.log("created", key_id=created.key.key_id)
    return 201, NewKeyOut(**KeyOut.model_validate(created.key).model_dump(), api_key=created.api_key)


def rotate_key(call: Call) -> tuple[int, BaseModel]:
    grace = call.body(RotateKeyIn).grace_seconds
    rotation = tenant_keys.rotate_key(_table(), call.tenant_id, call.key_id, grace)
    call.log("rotated", key_id=call.key_id, new_key_id=rotation.key.key.key_id, grace_seconds=grace)
    new = NewKeyOut(**KeyOut.model_validate(rotation.key.key).model_dump(), api_key=rotation.key.api_key)
    return 201, RotationOut(key=new, previous=KeyOut.model_validate(rotation.previous))


def revoke_key(call: Call) -> tuple[int, BaseModel]:
    revoked = tenant_keys.revoke_key(_table(), call.tenant_id, call.key_id)
    call.log("revoked", key_id=call.key_id)
    return 200, KeyOut.model_validate(revoked)


ROUTES: dict[tuple[str, str], Callable[[Call], tuple[int, BaseModel]]] = {
    ("GET", KEYS): list_keys, ("POST", KEYS): create_key, ("POST", ROTATE): rotate_key, ("DELETE", KEY): revoke_key,
}


def _table() -> Any:
    return aws.table(get_settings().table_name)


def _operator(event: dict[str, Any]) -> str:
    """The IAM caller API Gateway authenticated (AWS_IAM routes fill requestContext.identity)."""
    context = event.get("requestContext") or {}
    identity = context.get("identity") or {}
    caller = identity.get("userArn") or identity.get("caller")
    if not caller or (context.get("authorizer") or {}).get("tenant_id"):
        raise OperatorOnly("operator routes take AWS IAM (SigV4) credentials, not a tenant key")
    return str(caller)


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
            "body": json.dumps(body), "isBase64Encoded": False}


def _refusal(exc: ValidationError) -> dict[str, Any]:
    first = (exc.errors(include_url=False) or [{"type": "invalid_value", "loc": (), "msg": "invalid request"}])[0]
    if first["type"] in ("json_invalid", "model_type"):
        return _answer(400, error_body("invalid_json", "the body is not a JSON object", None))
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    code = {"missing": "missing_field", "extra_forbidden": "unknown_field"}.get(first["type"], "invalid_value")
    return _answer(422, error_body(code, str(first.get("msg", "invalid request")), field))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route = ROUTES.get((str(event.get("httpMethod", "")).upper(), str(event.get("resource") or "")))
    try:
        call = Call(event, _operator(event))
        if route is None:
            return _answer(404, error_body("route_not_found", "no route for this method and path"))
        status, body = route(call)
        return _answer(status, body.model_dump(mode="json"))
    except ValidationError as exc:
        return _refusal(exc)
    except TamtamError as exc:
        logger.info("operator call refused", extra={"code": exc.code, "status": exc.status})
        return _answer(exc.status, error_body(exc.code, exc.message, exc.field))
