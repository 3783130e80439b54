"""Balance checker (EventBridge schedule): provider credit balances -> stored for
`GET /v1/providers` and published as the `ProviderBalance` metric (low-balance alarm). The
providers come from the schedule's Input (`CheckerInput`); a provider that could not be read
fails the run after the others were recorded."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from balance_checker.balances import BalanceCheckFailed, CheckerInput, check
from tamtam import aws
from tamtam.messaging.clients import ClientCache
from tamtam.observability import capture_lambda_handler, logger
from tamtam.secrets import provider_secret
from tamtam.settings import get_settings

_clients = ClientCache(provider_secret)


@logger.inject_lambda_context
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    inp = CheckerInput.model_validate(event if isinstance(event, dict) else {})
    result = check(inp.providers, table=aws.table(get_settings().table_name), clients=_clients)
    if result.failed:
        raise BalanceCheckFailed(f"balance not read for {', '.join(result.failed)}")
    return {"balances": result.balances, "unknown": result.unknown}
