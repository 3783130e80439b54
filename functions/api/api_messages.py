"""/v1/messages routes: thin, each one call into tamtam.messaging."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from typing import Annotated

from api_context import tenant_id
from api_models import ErrorBody, MessageAccepted, MessageView, SendMessageIn
from tamtam import aws
from tamtam.bulk.schedule import parse_schedule
from tamtam.errors import NotFound
from tamtam.messaging.accept import SendRequest, accept_message
from tamtam.settings import get_settings
from tamtam.store import messages

router = Router()

_ERRORS = {400: {"description": "malformed request", "content": {"application/json": {"schema": ErrorBody.model_json_schema()}}},
           401: {"description": "missing or unknown API key"},
           422: {"description": "invalid field", "content": {"application/json": {"schema": ErrorBody.model_json_schema()}}}}


@router.post("/v1/messages", status_code=202, summary="Send one message", responses={**_ERRORS, 202: {"description": "accepted"}}, tags=["messages"])
def send_message(body: SendMessageIn) -> MessageAccepted:
    request = SendRequest(to=body.to, text=body.text, sender=body.sender, provider=body.provider, channel=body.channel,
                          schedule_at=parse_schedule(body.schedule_at))
    message = accept_message(request, tenant_id(), table=aws.table(get_settings().table_name), sqs=aws.client("sqs"))
    return MessageAccepted(
        id=message.id, status=message.status, to=message.to, provider=message.provider,
        segments=message.segments, encoding=message.encoding,  # type: ignore[arg-type]
    )


@router.get("/v1/messages/<message_id>", summary="A message, with its status history", tags=["messages"], responses={404: {"description": "unknown message"}})
def get_message(message_id: Annotated[str, Path(max_length=64)]) -> MessageView:
    message = messages.get(aws.table(get_settings().table_name), message_id, consistent=False)
    if message is None or message.tenant_id != tenant_id():
        raise NotFound("no such message", field="id")
    return MessageView.model_validate(message.model_dump())
