"""`GET /v1/providers` response bodies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.model_base import ApiModel


class ProviderBalanceView(ApiModel):
    value: float = Field(description="remaining credit, in the provider's own unit (SMS credits, account credits)")
    read_at: str = Field(description="when the balance checker read it (ISO 8601, UTC)")


class CapabilitiesView(ApiModel):
    channels: list[Literal["sms", "whatsapp"]]
    reports: list[Literal["push", "poll"]] = Field(
        description="how delivery reports come: pushed to the gateway's webhook, polled; empty: none, "
        "so a message this provider took ends `sent` (final, reason `no_delivery_report`)"
    )
    refuses_duplicate_ids: bool = Field(description="a resend with the same id is refused, so never sent twice")
    list_max: int = Field(description="recipients one provider request carries, each still reported on its own")
    groups: bool = Field(description="sends to provider-side contact groups")


class ProviderView(ApiModel):
    name: str = Field(examples=["passeinfo"])
    capabilities: CapabilitiesView
    circuit: Literal["open", "closed"] = Field(
        description="open: the provider failed too often recently and messages fail over past it"
    )
    recent_calls: int = Field(description="send calls over the last `window_minutes`")
    recent_failures: int = Field(description="of which failed on the provider's side")
    failure_rate: float | None = Field(description="recent_failures / recent_calls; null without calls")
    window_minutes: int
    balance: ProviderBalanceView | None = Field(description="last known credit balance; null if never read")


class ProvidersView(ApiModel):
    providers: list[ProviderView]
