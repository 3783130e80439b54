"""Per-tenant route overrides (tenant item `routes`) honoured by POST /v1/messages."""

from __future__ import annotations

import json

import pytest

from tamtam import tenant_settings
from tamtam.store import messages
from tamtam.store.tenants import tenant_key
from tamtam.tenants import create_tenant
from tests.integration import seed
from tests.integration.lambdas import event, invoke


@pytest.fixture(autouse=True)
def _fresh_cache():
    tenant_settings.reset_cache()
    yield
    tenant_settings.reset_cache()


def tenant_with(routes) -> str:
    tenant = create_tenant("routes", seed.table())
    if routes is not None:
        seed.table().update_item(
            Key=tenant_key(tenant.tenant_id), UpdateExpression="SET routes = :r",
            ExpressionAttributeValues={":r": routes},
        )
    return tenant.tenant_id


def send(tenant_id: str, to: str = "+224622000001", provider: str | None = None) -> dict:
    ev = event("api/send_message")
    ev["body"] = json.dumps({"to": to, "text": "hi", **({"provider": provider} if provider else {})})
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    answer = invoke("api", ev)
    assert answer["statusCode"] == 202, answer["body"]
    return json.loads(answer["body"])


def route_of(answer: dict) -> list[str]:
    return messages.get(seed.table(), answer["id"]).route


def test_given_a_tenant_route_for_guinea_then_its_messages_follow_it(provisioned):
    tenant = tenant_with({"+224": ["messagepro", "passeinfo"]})
    answer = send(tenant)
    assert answer["provider"] == "messagepro"
    assert route_of(answer) == ["messagepro", "passeinfo", "smsgate"]
    assert route_of(send(tenant, to="+24106031234")) == ["ventis", "smsgate"]  # other prefixes: the defaults


def test_given_a_tenant_without_routes_then_the_configured_routes_apply(provisioned):
    assert route_of(send(tenant_with(None))) == ["passeinfo", "messagepro", "smsgate"]


def test_given_a_pinned_provider_then_it_wins_over_the_tenant_route(provisioned):
    answer = send(tenant_with({"+224": ["messagepro"]}), provider="passeinfo")
    assert route_of(answer) == ["passeinfo"]


@pytest.mark.parametrize("routes", [{"+224": ["nosuchprovider"]}, {"224": ["messagepro"]}, {"+224": []}])
def test_given_an_override_the_gateway_cannot_honour_then_it_is_ignored(provisioned, routes):
    assert route_of(send(tenant_with(routes))) == ["passeinfo", "messagepro", "smsgate"]
