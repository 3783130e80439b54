"""The body of a message on the `callbacks` queue: one event for one receiver.

The receiver is either a webhook endpoint (read again before every attempt: a deleted or
disabled one gets nothing more, a rolled secret signs at once) or the message's own
`callback_url` (signed with the tenant's callback secret). `attempt` counts the POSTs, `since` is
when the first one was made (the retry window counts from it), `not_before` when the next one
is due (a wait longer than SQS's 15-minute delay takes several hops on the queue).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DeliveryBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tenant_id: str = Field(min_length=1, max_length=64)
    endpoint_id: str | None = Field(None, max_length=64)
    url: str | None = Field(None, max_length=2048)  # a message's callback_url
    event: dict[str, Any]
    attempt: int = Field(1, ge=1)
    since: float | None = None
    not_before: float | None = None

    @model_validator(mode="after")
    def _one_receiver(self) -> DeliveryBody:
        if (self.endpoint_id is None) == (self.url is None):
            raise ValueError("a delivery names an endpoint_id or a url, not both")
        if not isinstance(self.event.get("id"), str):
            raise ValueError("the event has no id")
        return self

    @property
    def receiver(self) -> str:
        """For log lines: the endpoint id, or `callback_url` (a URL may hold a token: never logged)."""
        return self.endpoint_id or "callback_url"
