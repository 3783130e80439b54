"""Bodies of the opt-out routes (pydantic: the OpenAPI comes from them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.model_base import ApiModel


class OptOutView(ApiModel):
    phone: str = Field(description="the number, E.164")
    opted_out: Literal[True] = True
    source: Literal["keyword", "api"] = Field(description="`keyword`: the number replied a STOP keyword; `api`: "
                                              "PUT /v1/opt-outs/{phone}")
    keyword: str | None = Field(None, description="the keyword it replied, as configured (STOP, ARRET, ...)")
    provider: str | None = Field(None, description="the provider the keyword came through")
    inbound_id: str | None = Field(None, description="the inbound message that carried the keyword (GET /v1/inbound)")
    created_at: str = Field(description="when the number was put on the list")


class OptOutDeleted(ApiModel):
    phone: str
    opted_out: Literal[False] = False
