"""Bulk sends and batches: POST /v1/messages/bulk, GET /v1/batches/{id} (+ /messages),
DELETE /v1/batches/{id}. Thin: each one call into tamtam.bulk."""

from __future__ import annotations

import time

from api.batches_models import (
    REJECTED_SHOWN,
    BatchCancelled,
    BatchMessage,
    BatchMessagesPage,
    BatchMessagesQuery,
    BatchView,
    BulkAccepted,
    BulkSendIn,
    GroupView,
    RejectedRecipient,
)
from api.router import Call, operation
from tamtam import aws
from tamtam.bulk.cancel import cancel_batch
from tamtam.bulk.intake import BulkRequest, accept_bulk
from tamtam.bulk.progress import progress_of
from tamtam.errors import NotFound
from tamtam.settings import get_settings
from tamtam.store import batches
from tamtam.store.batches import BatchItem

_CANCEL_BUDGET_SECONDS = 10.0
BATCH_ID = "bat_01JD3ZB0K7M2Q4S6U8W0Y2A4C6"
BULK_EXAMPLE = {"to": ["+224622000001", "+224622000002", "622000003"], "text": "Our shop opens at 9 tomorrow.",
                "sender": "ACME"}
BULK_ACCEPTED_EXAMPLE = {"batch_id": BATCH_ID, "accepted": 3, "duplicates": 0, "rejected": [], "rejected_count": 0}
BATCH_EXAMPLE = {
    "id": BATCH_ID, "kind": "list", "state": "processing", "total": 3, "requested": 3, "duplicates": 0, "rejected": 0,
    "counts": {"queued": 1, "sent": 1, "delivered": 1}, "done": 2, "progress": 0.6667, "sender": "ACME",
    "provider": None, "channel": "sms", "group": None, "schedule_at": None, "created_at": "2026-05-01T09:00:00.120Z",
    "cancelled_at": None, "finished_at": None,
}
PAGE_EXAMPLE = {"items": [{"id": "msg_01JD3ZB0K9A1C3E5G7J9L1N3Q5", "to": "+224622000001", "status": "delivered",
                           "provider": "passeinfo", "reason": None, "segments": 1, "provider_message_id": "8842118",
                           "updated_at": "2026-05-01T09:00:04.870Z"}],
                "cursor": None}


def _table():  # noqa: ANN202
    return aws.table(get_settings().table_name)


def _owned(batch_id: str, tenant_id: str) -> BatchItem:
    batch = batches.get_batch(_table(), batch_id, consistent=False)
    if batch is None or batch.tenant_id != tenant_id:
        raise NotFound("no such batch", field="id")
    return batch


@operation(
    "POST", "/v1/messages/bulk", summary="Send to many recipients, or to a provider group", tag="batches", status=202,
    body=BulkSendIn, answer=BulkAccepted, idempotency_key=True, example=BULK_EXAMPLE,
    answer_example=BULK_ACCEPTED_EXAMPLE,
    description="One text to up to 10,000 numbers (`to`), a template with per-recipient `vars` (`recipients`), or a "
    "provider-side group (`group`). Invalid numbers are listed in `rejected`, never fatal to the request.",
    errors={422: ("invalid_recipients", "no_valid_recipient", "missing_variable", "unknown_provider", "text_empty",
                  "text_too_long", "channel_unavailable", "invalid_schedule", "too_many_recipients",
                  "invalid_callback_url", "callback_secret_missing"),
            429: ("bulk_limit",),
            503: ("queue_unavailable", "table_unavailable")},
)
def send_bulk(call: Call) -> BulkAccepted:
    body: BulkSendIn = call.body
    request = BulkRequest.from_body(body, call.tenant_id, table=_table())
    result = accept_bulk(request, call.tenant_id, table=_table(), sqs=aws.client("sqs"))
    return BulkAccepted(
        batch_id=result.batch_id, accepted=result.accepted, duplicates=result.duplicates,
        rejected=[RejectedRecipient(index=r.index, to=r.to, code=r.code) for r in result.rejected[:REJECTED_SHOWN]],  # type: ignore[arg-type]
        rejected_count=len(result.rejected),
    )


def _view(batch: BatchItem) -> BatchView:
    progress = progress_of(batch)
    group = (
        GroupView(provider=batch.group_provider, group_id=batch.group_id)
        if batch.group_provider and batch.group_id
        else None
    )
    return BatchView(
        id=batch.id, kind=batch.kind, state=progress.state, total=batch.total, requested=batch.requested,  # type: ignore[arg-type]
        duplicates=batch.duplicates, rejected=batch.rejected, counts=progress.counts, done=progress.done,
        progress=progress.progress, sender=batch.sender, provider=batch.provider, channel=batch.channel, group=group,
        schedule_at=batch.schedule_at, created_at=batch.created_at, cancelled_at=batch.cancelled_at,
        finished_at=batch.finished_at,
    )


@operation("GET", "/v1/batches/{batch_id}", summary="A batch: counts per status, progress, state", tag="batches",
           answer=BatchView, answer_example=BATCH_EXAMPLE, errors={404: ("not_found",)})
def get_batch(call: Call) -> BatchView:
    return _view(_owned(call.params["batch_id"], call.tenant_id))


@operation("GET", "/v1/batches/{batch_id}/messages", summary="The messages of a batch, by id, a page at a time",
           tag="batches", query=BatchMessagesQuery, answer=BatchMessagesPage, answer_example=PAGE_EXAMPLE,
           errors={404: ("not_found",), 422: ("invalid_cursor",)})
def list_batch_messages(call: Call) -> BatchMessagesPage:
    query: BatchMessagesQuery = call.query
    batch = _owned(call.params["batch_id"], call.tenant_id)
    items, next_cursor = batches.list_messages(_table(), batch, status=query.status, limit=query.limit,
                                               cursor=query.cursor)
    return BatchMessagesPage(items=[BatchMessage.model_validate(m.model_dump()) for m in items], cursor=next_cursor)


@operation(
    "DELETE",
    "/v1/batches/{batch_id}",
    summary="Cancel what the batch has not sent yet",
    tag="batches",
    answer=BatchCancelled,
    answer_example={"id": BATCH_ID, "cancelled": 1, "continuing": False, "state": "cancelled"},
    errors={404: ("not_found",), 409: ("not_cancellable",)},
)
def delete_batch(call: Call) -> BatchCancelled:
    deadline = time.monotonic() + _CANCEL_BUDGET_SECONDS
    result = cancel_batch(_table(), aws.client("sqs"), call.params["batch_id"], call.tenant_id, deadline=deadline)
    return BatchCancelled(id=result.batch.id, cancelled=result.cancelled, continuing=result.continuing,
                          state="cancelling" if result.continuing else "cancelled")
