"""/v1/providers: each provider's capabilities, circuit breaker, recent failure rate and last known balance."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from api_context import tenant_id
from api_providers_models import CapabilitiesView, ProviderBalanceView, ProvidersView, ProviderView
from tamtam import aws, health
from tamtam.providers.registry import PROVIDER_NAMES, capabilities
from tamtam.settings import get_settings
from tamtam.store import balances

router = Router()

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


@router.get(
    "/v1/providers",
    summary="Provider health and balances",
    description="For each provider: circuit breaker state, recent failure rate and last known credit balance.",
    tags=["providers"],
    responses={401: {"description": "missing or unknown API key"}},
)
def list_providers() -> ProvidersView:
    tenant_id()  # any authenticated tenant may look; nothing here is tenant data
    table = aws.table(get_settings().table_name)
    known = balances.get_many(table, PROVIDER_NAMES)
    return ProvidersView(providers=[_view(table, name, known.get(name)) for name in PROVIDER_NAMES])
