"""DELETE /v1/messages/{id}: cancel a message that is not sent yet (queued or scheduled)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from api_context import tenant_id
from api_models import ErrorBody, MessageView
from tamtam import aws
from tamtam.bulk.cancel import cancel_message
from tamtam.settings import get_settings

router = Router()


@router.delete(
    "/v1/messages/<message_id>",
    summary="Cancel a message that is not sent yet",
    tags=["messages"],
    responses={
        404: {"description": "unknown message"},
        409: {"description": "not_cancellable: already sending or sent",
              "content": {"application/json": {"schema": ErrorBody.model_json_schema()}}},
    },
)
def delete_message(message_id: Annotated[str, Path(max_length=64)]) -> MessageView:
    message = cancel_message(aws.table(get_settings().table_name), message_id, tenant_id())
    return MessageView.model_validate(message.model_dump())
