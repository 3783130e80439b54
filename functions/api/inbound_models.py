"""Bodies of GET /v1/inbound (pydantic: the OpenAPI comes from them)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, ConfigDict, Field

from api.model_base import ApiModel
from api.models import PhoneNumber


class InboundQuery(ApiModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: PhoneNumber | None = Field(None, alias="from", description="only messages from this number")
    since: AwareDatetime | None = Field(None, description="received at or after this moment (ISO 8601 with an offset)")
    until: AwareDatetime | None = Field(None, description="received before this moment (ISO 8601 with an offset)")
    limit: int = Field(50, ge=1, le=100, description="messages per page, at most")
    cursor: str | None = Field(None, max_length=2048, description="`cursor` of the previous page")


class InboundView(ApiModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str = Field(description="`inb_…`: the same for a provider's retries of one message")
    from_: str = Field(alias="from", description="who sent it, E.164")
    to: str | None = Field(None, description="the number it was sent to, when the provider says it")
    text: str
    channel: Literal["sms", "whatsapp"]
    provider: str
    provider_message_id: str = Field(description="the provider's own id of the message")
    received_at: str = Field(description="when the provider received it (UTC)")
    keyword: Literal["opt_out", "opt_in"] | None = Field(
        None, description="`opt_out`: the text was a STOP keyword and the number is now on the opt-out list; "
        "`opt_in`: a START keyword took it off")
    in_reply_to: str | None = Field(None, description="the last message the account sent to this number through "
                                    "this provider, which made the answer the account's")


class InboundPage(ApiModel):
    items: list[InboundView] = Field(description="newest first")
    cursor: str | None = Field(description="the next page's cursor; null at the end. A short page with a cursor "
                               "only means the call's read budget was used: follow it")
