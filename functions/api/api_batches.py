"""Bulk sends and batches: POST /v1/messages/bulk, GET /v1/batches/{id} (+ /messages),
DELETE /v1/batches/{id}. Thin: each one call into tamtam.bulk."""

from __future__ import annotations

import time
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from api_batches_models import (
    REJECTED_SHOWN,
    BatchCancelled,
    BatchMessage,
    BatchMessagesPage,
    BatchView,
    BulkAccepted,
    BulkSendIn,
    GroupView,
    RejectedRecipient,
    Status,
)
from api_context import tenant_id
from api_models import ErrorBody
from tamtam import aws
from tamtam.bulk.cancel import cancel_batch
from tamtam.bulk.intake import BulkRequest, accept_bulk
from tamtam.bulk.progress import progress_of
from tamtam.bulk.schedule import parse_schedule
from tamtam.errors import NotFound
from tamtam.settings import get_settings
from tamtam.store import batches
from tamtam.store.batches import BatchItem

router = Router()

_ERROR = {"application/json": {"schema": ErrorBody.model_json_schema()}}
_ERRORS = {400: {"description": "malformed request", "content": _ERROR},
           401: {"description": "missing or unknown API key"},
           422: {"description": "invalid field", "content": _ERROR}}
_CANCEL_BUDGET_SECONDS = 10.0


def _table():  # noqa: ANN202
    return aws.table(get_settings().table_name)


def _owned(batch_id: str) -> BatchItem:
    batch = batches.get_batch(_table(), batch_id, consistent=False)
    if batch is None or batch.tenant_id != tenant_id():
        raise NotFound("no such batch", field="id")
    return batch


@router.post("/v1/messages/bulk", status_code=202, summary="Send to many recipients, or to a provider group",
             responses={**_ERRORS, 202: {"description": "accepted"}, 503: {"description": "not queued; nothing sent"}},
             tags=["batches"])
def send_bulk(body: BulkSendIn) -> BulkAccepted:
    request = BulkRequest(
        text=body.text, to=body.to,
        recipients=[(r.to, r.vars) for r in body.recipients] if body.recipients is not None else None,
        group_provider=body.group.provider if body.group else None, group_id=body.group.group_id if body.group else None,
        sender=body.sender, provider=body.provider, channel=body.channel, schedule_at=parse_schedule(body.schedule_at),
    )
    result = accept_bulk(request, tenant_id(), table=_table(), sqs=aws.client("sqs"))
    return BulkAccepted(
        batch_id=result.batch_id, accepted=result.accepted, duplicates=result.duplicates,
        rejected=[RejectedRecipient(index=r.index, to=r.to, code=r.code) for r in result.rejected[:REJECTED_SHOWN]],  # type: ignore[arg-type]
        rejected_count=len(result.rejected),
    )


def _view(batch: BatchItem) -> BatchView:
    progress = progress_of(batch)
    group = GroupView(provider=batch.group_provider, group_id=batch.group_id) if batch.group_provider and batch.group_id else None
    return BatchView(
        id=batch.id, kind=batch.kind, state=progress.state, total=batch.total, requested=batch.requested,  # type: ignore[arg-type]
        duplicates=batch.duplicates, rejected=batch.rejected, counts=progress.counts, done=progress.done,
        progress=progress.progress, sender=batch.sender, provider=batch.provider, channel=batch.channel, group=group,
        schedule_at=batch.schedule_at, created_at=batch.created_at, cancelled_at=batch.cancelled_at,
        finished_at=batch.finished_at,
    )


@router.get("/v1/batches/<batch_id>", summary="A batch: counts per status, progress, state", tags=["batches"],
            responses={404: {"description": "unknown batch"}})
def get_batch(batch_id: Annotated[str, Path(max_length=64)]) -> BatchView:
    return _view(_owned(batch_id))


@router.get("/v1/batches/<batch_id>/messages", summary="The messages of a batch, by status, a page at a time",
            tags=["batches"], responses={404: {"description": "unknown batch"}, 422: {"description": "invalid cursor"}})
def list_batch_messages(
    batch_id: Annotated[str, Path(max_length=64)],
    status: Annotated[Status | None, Query(description="only the messages in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048, description="from the previous page")] = None,
) -> BatchMessagesPage:
    batch = _owned(batch_id)
    items, next_cursor = batches.list_messages(_table(), batch.id, status=status, limit=limit, cursor=cursor)
    return BatchMessagesPage(items=[BatchMessage.model_validate(m.model_dump()) for m in items], cursor=next_cursor)


@router.delete("/v1/batches/<batch_id>", summary="Cancel what the batch has not sent yet", tags=["batches"],
               responses={404: {"description": "unknown batch"}, 409: {"description": "not_cancellable: nothing left to cancel", "content": _ERROR}})
def delete_batch(batch_id: Annotated[str, Path(max_length=64)]) -> BatchCancelled:
    deadline = time.monotonic() + _CANCEL_BUDGET_SECONDS
    result = cancel_batch(_table(), aws.client("sqs"), batch_id, tenant_id(), deadline=deadline)
    return BatchCancelled(id=result.batch.id, cancelled=result.cancelled, continuing=result.continuing,
                          state="cancelling" if result.continuing else "cancelled")
