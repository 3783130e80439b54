"""Validated settings, read from the environment on first use (never at import).

The four application variables come from template.yaml Globals (docs/architecture.md);
the rest are tunables with defaults, overridable per deployment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from tamtam.env_settings import EnvSettings


class Settings(EnvSettings):
    table_name: str = Field(description="the DynamoDB table")
    queue_urls: dict[str, str] = Field(default_factory=dict, description="queue key -> URL")
    provider_secrets: dict[str, str] = Field(default_factory=dict, description="provider -> secret id")
    event_bus_name: str = ""
    status_events: Literal["grouped", "each"] = Field(
        "grouped", description="status changes on the bus: one event per lifecycle invocation and tenant "
        "(`grouped`), or one event per change (`each`); tamtam.events"
    )

    phone_default_region: str = Field("GN", description="region for numbers given without +")
    max_segments: int = Field(10, description="longest accepted text, in SMS segments")
    send_max_tries: int = Field(4, description="provider tries before a message is exhausted")
    retry_base_seconds: int = Field(5, description="first retry delay; doubles each try")
    retry_max_seconds: int = Field(300, description="longest retry delay")
    claim_stale_seconds: int = Field(120, description="a `sending` claim older than this is stale")
    orphan_window_seconds: int = Field(
        60, description="how long a queue message whose record is missing (or still `scheduled`) is kept for it"
    )
    # The fan-out's timeout is 30 s (template.yaml Globals): a record created longer ago than
    # that plus a margin belongs to a delivery that is over, whatever became of it.
    sweep_quiet_seconds: int = Field(
        900, ge=0, description="the sweeper corrects a batch's counters only when none of its records changed for this "
        "long (changes still in the table's stream would otherwise count twice)"
    )
    sweep_abort_accepting_seconds: int = Field(
        600, ge=60, description="a batch still `accepting` this long after its creation is aborted by the sweeper"
    )
    fanout_orphan_seconds: int = Field(
        60,
        ge=0,
        description="a `queued` record older than this, seen by a later delivery of its chunk, is enqueued again",
    )
    # Send limits per tenant (tamtam.limits); a tenant setting replaces them for that tenant; 0 = no limit.
    send_limit_messages_per_minute: int = Field(
        600, ge=0, description="single sends (POST /v1/messages, ingest `message`) per tenant per UTC minute"
    )
    send_limit_bulk_recipients_per_hour: int = Field(
        100_000, ge=0, description="bulk recipients (POST /v1/messages/bulk, ingest `bulk`) per tenant per UTC hour"
    )
    # Inbound keywords (tamtam.opt_outs.keywords): a received text that is one of these, once trimmed,
    # case and accents ignored, puts its sender on the tenant's opt-out list (or takes it off).
    opt_out_keywords: list[str] = Field(
        default_factory=lambda: ["STOP", "ARRET", "ARRÊT", "STOPALL", "UNSUBSCRIBE", "DESABONNER"],
        description="inbound texts that opt the sender out (JSON list; case and accents are ignored)",
    )
    opt_in_keywords: list[str] = Field(
        default_factory=lambda: ["START"], description="inbound texts that take the sender off the opt-out list"
    )
    secret_max_age_seconds: int = Field(300, description="how long a provider secret is cached")
    sender_concurrency: int = Field(10, description="records of one batch sent at once")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """For tests that change the environment."""
    get_settings.cache_clear()
