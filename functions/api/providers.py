"""/v1/providers: each provider's capabilities, circuit breaker, recent failure rate and last known balance."""

from __future__ import annotations

from typing import Any

from api.providers_models import CapabilitiesView, ProviderBalanceView, ProvidersView, ProviderView
from api.router import Call, operation
from tamtam import aws, health
from tamtam.providers.registry import PROVIDER_NAMES, capabilities
from tamtam.settings import get_settings
from tamtam.store import balances

WINDOW_MINUTES = 15


def _view(table: Any, name: str, balance: balances.ProviderBalance | None) -> ProviderView:
    ok, failed = health.recent(table, name, windows=WINDOW_MINUTES)
    calls = ok + failed
    caps = capabilities(name)
    return ProviderView(
        name=name,
        capabilities=CapabilitiesView(
            channels=sorted(caps.channels), reports=sorted(caps.reports),  # type: ignore[arg-type]
            refuses_duplicate_ids=caps.refuses_duplicate_ids, list_max=caps.list_max, groups=caps.groups,
        ),
        circuit="open" if health.is_open(table, name) else "closed",
        recent_calls=calls,
        recent_failures=failed,
        failure_rate=round(failed / calls, 4) if calls else None,
        window_minutes=WINDOW_MINUTES,
        balance=ProviderBalanceView(value=balance.balance, read_at=balance.read_at) if balance else None,
    )


@operation(
    "GET", "/v1/providers", summary="Provider health and balances", tag="providers", answer=ProvidersView,
    description="For each provider: what it can do, circuit breaker state, recent failure rate and last known "
    "credit balance. Any tenant may look: nothing here is tenant data.",
    answer_example={"providers": [{
        "name": "passeinfo",
        "capabilities": {"channels": ["sms"], "reports": ["poll"], "refuses_duplicate_ids": False, "list_max": 1000,
                         "groups": True},
        "circuit": "closed", "recent_calls": 120, "recent_failures": 1, "failure_rate": 0.0083, "window_minutes": 15,
        "balance": {"value": 15230.0, "read_at": "2026-05-01T09:00:00Z"}}]},
)
def list_providers(call: Call) -> ProvidersView:
    table = aws.table(get_settings().table_name)
    known = balances.get_many(table, PROVIDER_NAMES)
    return ProvidersView(providers=[_view(table, name, known.get(name)) for name in PROVIDER_NAMES])
