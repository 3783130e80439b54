"""Per-tenant throttling: a tenant created with the deployment's usage plan gets an API Gateway
key in it, and the authorizer hands that key to API Gateway (usageIdentifierKey)."""

from __future__ import annotations

import pytest

from tamtam import aws
from tamtam.tenants import create_tenant, key_owner
from tests.integration import seed
from tests.integration.lambdas import event, invoke


@pytest.fixture
def usage_plan(provisioned) -> str:
    return aws.client("apigateway").create_usage_plan(
        name="tamtam-test-tenants", throttle={"rateLimit": 5, "burstLimit": 10}
    )["id"]


def test_given_a_usage_plan_when_a_tenant_is_created_then_its_key_is_in_the_plan_and_the_authorizer_answers_it(
    usage_plan,
):
    tenant = create_tenant("acme", seed.table(), usage_plan_id=usage_plan)

    owner = key_owner(seed.table(), tenant.api_key)
    plan_keys = aws.client("apigateway").get_usage_plan_keys(usagePlanId=usage_plan)["items"]
    assert [(k["id"], k["value"]) for k in plan_keys] == [(owner_key_id(tenant.api_key), owner.usage_key)]
    request = event("authorizer/valid_key")
    request["headers"]["Authorization"] = f"Bearer {tenant.api_key}"
    answer = invoke("authorizer", request)
    assert answer["usageIdentifierKey"] == owner.usage_key
    assert answer["context"]["tenant_id"] == tenant.tenant_id
    assert owner.usage_key != tenant.api_key  # the tenant's own key is never API Gateway's


def test_given_no_usage_plan_then_no_api_gateway_key_and_no_usage_identifier(provisioned):
    seed.events_tenant()
    answer = invoke("authorizer", event("authorizer/valid_key"))
    assert "usageIdentifierKey" not in answer
    assert key_owner(seed.table(), seed.EVENTS_KEY).usage_key is None


def test_given_the_tenant_cannot_be_stored_then_its_api_gateway_key_is_deleted(usage_plan):
    seed.events_tenant()  # holds seed.EVENTS_KEY already
    before = {k["id"] for k in aws.client("apigateway").get_api_keys()["items"]}
    with pytest.raises(Exception, match=r"ConditionalCheckFailed|TransactionCanceled"):
        create_tenant("twin", seed.table(), api_key=seed.EVENTS_KEY, usage_plan_id=usage_plan)
    assert {k["id"] for k in aws.client("apigateway").get_api_keys()["items"]} == before
    assert aws.client("apigateway").get_usage_plan_keys(usagePlanId=usage_plan)["items"] == []


def owner_key_id(api_key: str) -> str:
    from tamtam.tenants import hash_key

    return seed.table().get_item(Key={"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY"})["Item"]["usage_key_id"]
