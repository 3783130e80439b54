"""GET /v1/providers and the balance checker against moto and the provider sandbox: balances
read and published as a metric, circuit breaker state and recent failure rate."""

from __future__ import annotations

import json

import pytest

from local.sandbox.core import Fault
from local.stack.invoker import FunctionError
from tamtam.providers.registry import PROVIDER_NAMES
from tests.integration import seed
from tests.integration.lambdas import event, invoke


def providers(tenant: str | None = seed.EVENTS_TENANT) -> tuple[int, dict]:
    ev = event("api/get_message")
    ev["path"] = "/v1/providers"
    ev["pathParameters"] = {"proxy": "providers"}
    ev["requestContext"]["path"] = "/v1/v1/providers"
    if tenant is None:
        ev["requestContext"].pop("authorizer")
    answer = invoke("api", ev)
    return answer["statusCode"], json.loads(answer["body"])


def by_name(body: dict) -> dict[str, dict]:
    return {p["name"]: p for p in body["providers"]}


def emf_balances(stdout: str) -> dict[str, float]:
    """ProviderBalance values by Provider dimension, from the EMF documents printed."""
    found = {}
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if any(m["Name"] == "ProviderBalance" for m in directive["Metrics"]):
                assert directive["Dimensions"] == [["Provider", "service"]]
                assert directive["Namespace"] == "tamtam"
                found[doc["Provider"]] = (
                    doc["ProviderBalance"][0] if isinstance(doc["ProviderBalance"], list) else doc["ProviderBalance"]
                )
    return found


def test_given_the_balance_checker_ran_then_get_providers_shows_the_balances(provisioned, sandbox, capsys):
    capsys.readouterr()
    result = invoke("balance_checker", event("balance_checker/scheduled"))
    assert result == {"balances": {"passeinfo": 1000.0, "messagepro": 100.0}, "unknown": []}
    assert emf_balances(capsys.readouterr().out) == {"passeinfo": 1000.0, "messagepro": 100.0}
    status, body = providers()
    assert status == 200
    view = by_name(body)
    assert list(view) == list(PROVIDER_NAMES)
    assert view["passeinfo"]["balance"]["value"] == 1000.0 and view["passeinfo"]["balance"]["read_at"]
    assert view["messagepro"]["balance"]["value"] == 100.0
    assert view["flowsms"]["balance"] is None and view["ventis"]["balance"] is None
    assert {p["circuit"] for p in body["providers"]} == {"closed"}
    assert view["passeinfo"]["failure_rate"] is None and view["passeinfo"]["recent_calls"] == 0


def test_given_a_message_sent_then_the_next_check_shows_the_lower_balance(provisioned, sandbox):
    invoke("balance_checker", event("balance_checker/scheduled"))
    msg = seed.message(provider="passeinfo")
    invoke("sender", seed.sqs_event([{"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": "passeinfo"}]))
    invoke("balance_checker", event("balance_checker/scheduled"))
    assert by_name(providers()[1])["passeinfo"]["balance"]["value"] == 999.0


def test_given_a_provider_failing_repeatedly_then_its_circuit_shows_open(provisioned, sandbox):
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="error", status=503))
    failing = [seed.message(provider="passeinfo") for _ in range(5)]
    bodies = [{"message_id": m.id, "tenant_id": m.tenant_id, "provider": "passeinfo"} for m in failing]
    invoke("sender", seed.sqs_event(bodies))
    view = by_name(providers()[1])
    assert view["passeinfo"]["circuit"] == "open"
    assert (view["passeinfo"]["recent_calls"], view["passeinfo"]["recent_failures"]) == (5, 5)
    assert view["passeinfo"]["failure_rate"] == 1.0
    assert view["messagepro"]["circuit"] == "closed"


def test_given_one_balance_cannot_be_read_then_the_run_fails_and_the_other_is_stored(provisioned, sandbox):
    sandbox.sandbox.set_fault("messagepro", Fault(mode="error", status=500, match="credits"))
    with pytest.raises(FunctionError, match="messagepro"):
        invoke("balance_checker", event("balance_checker/scheduled"))
    view = by_name(providers()[1])
    assert view["passeinfo"]["balance"]["value"] == 1000.0
    assert view["messagepro"]["balance"] is None


def test_given_providers_in_the_schedule_input_then_only_those_are_read(provisioned, sandbox):
    result = invoke("balance_checker", {"providers": ["messagepro"]})
    assert result == {"balances": {"messagepro": 100.0}, "unknown": []}
    with pytest.raises(FunctionError):
        invoke("balance_checker", {"providers": ["nosuchprovider"]})


def test_given_no_tenant_context_then_401(provisioned):
    status, body = providers(tenant=None)
    assert (status, body["error"]["code"]) == (401, "unauthorized")
