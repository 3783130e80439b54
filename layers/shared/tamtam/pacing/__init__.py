"""Pacing: each provider's messages-per-second limit, shared by every sender invocation through
DynamoDB at about one write per batch (tamtam.pacing.slots), each message waiting for its slot
right before the provider call (tamtam.pacing.turns)."""

from tamtam.pacing.slots import (
    BULK,
    DEFAULT_LIMITS,
    TX,
    Grid,
    PacingSettings,
    get_pacing_settings,
    grid,
    reserve,
    reset_cache,
)
from tamtam.pacing.turns import Pool, Ticket, settle, sleep_until, take_turn, turn, wait_turn

__all__ = [
    "BULK",
    "DEFAULT_LIMITS",
    "TX",
    "Grid",
    "PacingSettings",
    "Pool",
    "Ticket",
    "get_pacing_settings",
    "grid",
    "reserve",
    "reset_cache",
    "settle",
    "sleep_until",
    "take_turn",
    "turn",
    "wait_turn",
]
