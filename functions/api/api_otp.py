"""/v1/otp routes: send a one-time code, verify it, resend it. Thin: each one call into
tamtam.otp.logic. The two answers that carry more than the one error shape (Retry-After on a
limit, attempts_left on a wrong code) are mapped here."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel

from api_context import tenant_id
from api_errors import error_response
from api_models import ErrorBody
from api_otp_models import OtpAccepted, OtpRejected, OtpSendIn, OtpVerified, OtpVerifyIn
from tamtam import aws, clock
from tamtam.otp import keys
from tamtam.otp.errors import CodeRejected, RateLimited
from tamtam.otp.logic import OtpRequest, resend_otp, send_otp, verify_otp
from tamtam.otp.model import OtpItem
from tamtam.settings import get_settings

router = Router()

OtpId = Annotated[str, Path(max_length=64)]


def _doc(description: str, schema: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema.model_json_schema()}}}


_COMMON = {401: {"description": "missing or unknown API key"}, 404: _doc("unknown code (or another account's)")}
_CLOSED = {409: _doc("already used"), 410: _doc("expired"), 429: _doc("no attempt left (otp_locked) or a limit (Retry-After)")}


def _table() -> Any:
    return aws.table(get_settings().table_name)


def _accepted(otp: OtpItem) -> OtpAccepted:
    return OtpAccepted(id=otp.id, to=otp.to, channel=otp.channel, expires_at=clock.iso(otp.expires_at))


@router.exception_handler(RateLimited)
def _rate_limited(exc: RateLimited) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.field, headers={"Retry-After": str(exc.retry_after)})


@router.exception_handler(CodeRejected)
def _rejected(exc: CodeRejected) -> Response:
    body = OtpRejected(attempts_left=exc.attempts_left, error={"code": exc.code, "message": exc.message, "field": exc.field})
    return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON, body=body.model_dump())


@router.post(
    "/v1/otp", status_code=202, summary="Send a one-time code", tags=["otp"],
    responses={202: {"description": "queued"}, 403: _doc("country not enabled for this account"),
               422: _doc("invalid field (invalid_template: no {{code}})"), 429: _doc("a send limit; see Retry-After"),
               401: _COMMON[401]},
)
def send_code(body: OtpSendIn) -> OtpAccepted:
    request = OtpRequest(
        to=body.to, channel=body.channel, length=body.length, ttl_seconds=body.ttl, template=body.template,
        sender=body.sender, provider=body.provider, locale=body.locale,
    )
    otp = send_otp(request, tenant_id(), table=_table(), sqs=aws.client("sqs"), kms=aws.client("kms"), pepper=keys.pepper())
    return _accepted(otp)


@router.post(
    "/v1/otp/<otp_id>/verify", summary="Check a one-time code", tags=["otp"],
    responses={**_COMMON, **_CLOSED, 200: {"description": "approved"}, 422: _doc("wrong code", OtpRejected)},
)
def verify_code(otp_id: OtpId, body: OtpVerifyIn) -> OtpVerified:
    otp = verify_otp(otp_id, tenant_id(), body.code, table=_table(), pepper=keys.pepper())
    return OtpVerified(id=otp.id)


@router.post(
    "/v1/otp/<otp_id>/resend", status_code=202, summary="Send the same code again", tags=["otp"],
    responses={**_COMMON, **_CLOSED, 202: {"description": "queued"}},
)
def resend_code(otp_id: OtpId) -> OtpAccepted:
    return _accepted(resend_otp(otp_id, tenant_id(), table=_table(), sqs=aws.client("sqs")))
