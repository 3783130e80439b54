"""Reading provider credit balances: store the last known value (for `GET /v1/providers`) and
publish it as the `ProviderBalance` metric (EMF, dimension `Provider`) for the low-balance
alarm. Providers are read one by one; one failing does not stop the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tamtam import clock
from tamtam.messaging.clients import ClientCache
from tamtam.observability import logger, metrics
from tamtam.providers.base import AuthError
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.redact import error_keys
from tamtam.store import balances

METRIC_NAME = "ProviderBalance"
DIMENSION = "Provider"


class CheckerInput(BaseModel):
    """The schedule's Input (a plain scheduled event gives the defaults)."""

    model_config = ConfigDict(extra="ignore")

    # PasseInfo answers `get_solde` (SMS credits), Message Pro `get/credits`; the other
    # providers publish no balance.
    providers: list[str] = Field(default_factory=lambda: ["passeinfo", "messagepro"], min_length=1)

    @field_validator("providers")
    @classmethod
    def _known(cls, providers: list[str]) -> list[str]:
        unknown = [p for p in providers if p not in PROVIDER_NAMES]
        if unknown:
            raise ValueError(f"unknown providers {unknown}")
        return providers


class BalanceCheckFailed(Exception):
    """Some balances could not be read (the others were stored); the scheduled run fails."""


@dataclass
class CheckResult:
    balances: dict[str, float] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # answered, but with no figure
    failed: list[str] = field(default_factory=list)


def read_balance(clients: ClientCache, provider: str) -> float | None:
    try:
        return clients.get(provider).balance()
    except AuthError:
        logger.info("auth failed; refetching the provider secret", extra={"provider": provider})
        return clients.refresh(provider).balance()


def publish(provider: str, balance: float) -> None:
    """One EMF document per provider, so each value carries its own `Provider` dimension."""
    with single_metric(
        name=METRIC_NAME, unit=MetricUnit.Count, value=balance, namespace=metrics.namespace,
        default_dimensions={DIMENSION: provider},
    ):
        pass


def check(providers: list[str], *, table: Any, clients: ClientCache) -> CheckResult:
    result = CheckResult()
    for provider in providers:
        try:
            balance = read_balance(clients, provider)
        except Exception as exc:  # noqa: BLE001 - one provider never stops the check; never with its text or traceback: it may quote the secret
            logger.error("balance not read", extra={"provider": provider, **error_keys(exc)})
            result.failed.append(provider)
            continue
        if balance is None:
            logger.warning("provider answered no balance", extra={"provider": provider})
            result.unknown.append(provider)
            continue
        balances.put(table, provider, balance, clock.iso())
        publish(provider, balance)
        result.balances[provider] = balance
        logger.info("provider balance", extra={"provider": provider, "balance": balance})
    return result
