"""/v1/messages routes: thin, each one call into tamtam.messaging / tamtam.bulk."""

from __future__ import annotations

from datetime import UTC, datetime

from api.models import MessageAccepted, MessageSearchQuery, MessagesPage, MessageSummary, MessageView, SendMessageIn
from api.router import Call, operation
from tamtam import aws
from tamtam.bulk.cancel import cancel_message
from tamtam.errors import NotFound
from tamtam.messaging.accept import SendRequest, accept_message
from tamtam.settings import get_settings
from tamtam.store import messages
from tamtam.store.search import find_messages

SEND_EXAMPLE = {"to": "+224622000001", "text": "Your order 1042 has shipped.", "sender": "ACME"}
ACCEPTED_EXAMPLE = {"id": "msg_01JD3Z9V6Q2W8M4N5P7R9T1V3X", "status": "queued", "to": "+224622000001",
                    "provider": "passeinfo", "segments": 1, "encoding": "GSM-7"}
VIEW_EXAMPLE = {
    **ACCEPTED_EXAMPLE,
    "status": "delivered",
    "final": True,
    "sender": "ACME",
    "channel": "sms",
    "route": ["passeinfo", "smsgate"],
    "provider_message_id": "8842117",
    "reason": None,
    "created_at": "2026-05-01T09:00:00.120Z",
    "updated_at": "2026-05-01T09:00:04.870Z",
    "batch_id": None,
    "schedule_at": None,
    "group_id": None,
    "history": [
        {"status": "queued", "at": "2026-05-01T09:00:00.120Z", "reason": None, "provider": None},
        {"status": "sent", "at": "2026-05-01T09:00:01.310Z", "reason": None, "provider": "passeinfo"},
        {"status": "delivered", "at": "2026-05-01T09:00:04.870Z", "reason": None, "provider": "passeinfo"},
    ],
    "attempts": [
        {
            "provider": "passeinfo",
            "at": "2026-05-01T09:00:01.300Z",
            "outcome": "sent",
            "reason": None,
            "raw_status": None,
            "raw_text": None,
        }
    ],
}


def _table():  # noqa: ANN202
    return aws.table(get_settings().table_name)


@operation(
    "POST", "/v1/messages", summary="Send one message", tag="messages", status=202, body=SendMessageIn,
    answer=MessageAccepted, idempotency_key=True, example=SEND_EXAMPLE, answer_example=ACCEPTED_EXAMPLE,
    description="Queues one SMS or WhatsApp message; its status follows at GET /v1/messages/{message_id}.",
    errors={422: ("invalid_phone", "unknown_provider", "text_empty", "text_too_long", "channel_unavailable",
                  "invalid_schedule", "invalid_callback_url", "callback_secret_missing", "recipient_opted_out"),
            429: ("send_limit",),
            503: ("queue_unavailable", "table_unavailable")},
)
def send_message(call: Call) -> MessageAccepted:
    body: SendMessageIn = call.body
    request = SendRequest.from_body(body, call.tenant_id, table=_table())
    message = accept_message(request, call.tenant_id, table=_table(), sqs=aws.client("sqs"))
    return MessageAccepted(
        id=message.id, status=message.status, to=message.to, provider=message.provider,
        segments=message.segments, encoding=message.encoding,  # type: ignore[arg-type]
    )


def _created(moment: datetime | None) -> str | None:
    """A query moment in the format of `created_at` (tamtam.clock.iso), which the index sorts by."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@operation(
    "GET", "/v1/messages", summary="Find messages: newest first, by status, recipient, batch, time", tag="messages",
    query=MessageSearchQuery, answer=MessagesPage,
    answer_example={"items": [{key: VIEW_EXAMPLE[key] for key in MessageSummary.model_fields}],
                    "cursor": "eyJwayI6Ik1TRyMuLi4ifQ"},
    description="The account's messages, newest first, a page at a time; the filters combine. Follow `cursor` "
    "until it is null.",
    errors={422: ("invalid_phone", "invalid_cursor")},
)
def list_messages(call: Call) -> MessagesPage:
    query: MessageSearchQuery = call.query
    items, cursor = find_messages(
        _table(), call.tenant_id, status=query.status, to=query.to, batch_id=query.batch_id,
        since=_created(query.since), until=_created(query.until), limit=query.limit, cursor=query.cursor,
    )
    return MessagesPage(items=[MessageSummary.model_validate(m.model_dump()) for m in items], cursor=cursor)


@operation(
    "GET", "/v1/messages/{message_id}", summary="A message, with its status history", tag="messages",
    answer=MessageView, answer_example=VIEW_EXAMPLE, errors={404: ("not_found",)},
)
def get_message(call: Call) -> MessageView:
    message = messages.get(_table(), call.params["message_id"], consistent=False)
    if message is None or message.tenant_id != call.tenant_id:
        raise NotFound("no such message", field="id")
    return MessageView.model_validate(message.model_dump())


@operation(
    "DELETE", "/v1/messages/{message_id}", summary="Cancel a message that is not sent yet", tag="messages",
    answer=MessageView, answer_example={**VIEW_EXAMPLE, "status": "cancelled", "provider_message_id": None},
    description="A queued or scheduled message is cancelled; one already sending or sent is not (409).",
    errors={404: ("not_found",), 409: ("not_cancellable",)},
)
def delete_message(call: Call) -> MessageView:
    message = cancel_message(_table(), call.params["message_id"], call.tenant_id)
    return MessageView.model_validate(message.model_dump())
