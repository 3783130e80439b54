"""GET /v1/inbound: what the account's recipients sent back (README "Inbound messages and
opt-outs"), newest first, a page at a time (tamtam.store.inbound)."""

from __future__ import annotations

from typing import Any

from api.inbound_models import InboundPage, InboundQuery, InboundView
from api.router import Call, operation
from tamtam import aws
from tamtam.settings import get_settings
from tamtam.store import inbound

ITEM_EXAMPLE = {"id": "inb_01jd3zf4h6k8m0p2r4t6v8x0z2", "from": "+224622000001", "to": None, "text": "STOP",
                "channel": "sms", "provider": "smsgate", "provider_message_id": "e2c1f0a9b7d64e1a",
                "received_at": "2026-05-01T09:00:04.000Z", "keyword": "opt_out",
                "in_reply_to": "msg_01JD3Z9V6Q2W8M4N5P7R9T1V3X"}


def _table() -> Any:
    return aws.table(get_settings().table_name)


@operation(
    "GET", "/v1/inbound", summary="Messages received from the account's recipients: newest first, by sender, time",
    tag="inbound", query=InboundQuery, answer=InboundPage,
    answer_example={"items": [ITEM_EXAMPLE], "cursor": "eyJwayI6IklOQk9VTkQjLi4uIn0"},
    description="An answer belongs to the account that last sent to that number through that provider. Follow "
    "`cursor` until it is null.",
    errors={422: ("invalid_phone", "invalid_cursor")},
)
def list_inbound(call: Call) -> InboundPage:
    query: InboundQuery = call.query
    items, cursor = inbound.find(_table(), call.tenant_id, sender=query.from_, since=inbound.moment(query.since),
                                 until=inbound.moment(query.until), limit=query.limit, cursor=query.cursor)
    return InboundPage(items=[InboundView.model_validate(i.model_dump(by_alias=True)) for i in items], cursor=cursor)
