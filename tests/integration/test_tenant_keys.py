"""Tenant keys against moto: several named keys per tenant, listed without their values; a
revoked key refused by the authorizer; a rotated key's old value working until its grace period
ends (on tamtam.clock), then refused; the key's use recorded at most every 15 minutes; keys made
before key ids still working and adopted; and the operator API (functions/tenant_admin) driven
with its events/ files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.stack.invoker import FunctionConfig, FunctionError, Invoker
from tamtam import aws, clock, tenant_keys
from tamtam.errors import Conflict, InvalidRequest, NotFound
from tamtam.tenants import LAST_USED_EVERY, SHOWN_CHARS, create_tenant, hash_key, key_owner
from tests.integration import seed
from tests.integration.lambdas import event, invoke

ROOT = Path(__file__).resolve().parents[2]
_admin = Invoker([FunctionConfig.package("tenant_admin", ROOT / "functions")])
T0 = 1_795_346_400.0  # 2026-11-22T10:00:00Z


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """tamtam.clock held at T0; move it with `at["now"] += seconds`."""
    moment = {"now": T0}
    monkeypatch.setattr(clock, "now", lambda: moment["now"])
    return moment


def authorize(api_key: str) -> dict[str, Any] | None:
    """The authorizer's answer for `api_key`, or None for a 401."""
    request = event("authorizer/valid_key")
    request["headers"]["Authorization"] = f"Bearer {api_key}"
    try:
        return invoke("authorizer", request)
    except FunctionError as exc:
        assert exc.error_message == "Unauthorized"
        return None


def admin(name: str, *, tenant_id: str | None = None, key_id: str | None = None, body: Any = None) -> tuple[int, Any]:
    request = event(f"tenant_admin/{name}")
    if tenant_id:
        request["pathParameters"]["tenant_id"] = tenant_id
    if key_id:
        request["pathParameters"]["key_id"] = key_id
    if body is not None:
        request["body"] = body if isinstance(body, str) else json.dumps(body)
    answer = _admin.invoke("tenant_admin", request)
    return answer["statusCode"], json.loads(answer["body"])


def items_of(tenant_id: str) -> list[dict[str, Any]]:
    return [
        i for i in seed.table().scan()["Items"] if tenant_id in (i.get("tenant_id"), i["pk"].removeprefix("TENANT#"))
    ]


# ---- several named keys -----------------------------------------------------------------------


def test_given_two_more_named_keys_then_all_three_open_the_api_as_the_tenant_with_its_one_usage_plan_key(provisioned):
    plan = aws.client("apigateway").create_usage_plan(
        name="keys-test", throttle={"rateLimit": 5, "burstLimit": 10}
    )["id"]
    tenant = create_tenant("acme", seed.table(), usage_plan_id=plan)

    billing = tenant_keys.create_key(seed.table(), tenant.tenant_id, "billing")
    ci = tenant_keys.create_key(seed.table(), tenant.tenant_id, "ci runner")

    answers = [authorize(k) for k in (tenant.api_key, billing.api_key, ci.api_key)]
    assert all(a is not None for a in answers)
    assert {a["context"]["tenant_id"] for a in answers} == {tenant.tenant_id}
    assert len({a["usageIdentifierKey"] for a in answers}) == 1  # the tenant's one key in the plan
    assert len(aws.client("apigateway").get_usage_plan_keys(usagePlanId=plan)["items"]) == 1
    assert len({tenant.api_key, billing.api_key, ci.api_key}) == 3


def test_listing_shows_names_prefixes_and_times_never_a_value_or_a_hash(provisioned, at):
    tenant = create_tenant("acme", seed.table())
    at["now"] += 60
    billing = tenant_keys.create_key(seed.table(), tenant.tenant_id, "billing")
    authorize(billing.api_key)

    keys = tenant_keys.list_keys(seed.table(), tenant.tenant_id)

    assert [(k.name, k.status) for k in keys] == [("default", "active"), ("billing", "active")]
    assert [k.key_id for k in keys] == [tenant.key_id, billing.key.key_id]
    assert [k.prefix for k in keys] == [tenant.api_key[:SHOWN_CHARS], billing.api_key[:SHOWN_CHARS]]
    assert [k.created_at for k in keys] == [clock.iso(T0), clock.iso(T0 + 60)]
    assert [k.last_used_at for k in keys] == [None, clock.iso(T0 + 60)]
    shown = json.dumps([k.__dict__ for k in keys])
    for secret in (tenant.api_key, billing.api_key, hash_key(tenant.api_key), hash_key(billing.api_key)):
        assert secret not in shown
    stored = json.dumps(items_of(tenant.tenant_id), default=str)
    assert tenant.api_key not in stored and billing.api_key not in stored  # only hashes are stored


def test_given_an_unknown_tenant_or_another_tenants_key_then_not_found(provisioned):
    acme, other = create_tenant("acme", seed.table()), create_tenant("other", seed.table())

    with pytest.raises(NotFound, match="tenant"):
        tenant_keys.create_key(seed.table(), "ten_nobody000000000000000000", "x")
    with pytest.raises(NotFound, match="key"):
        tenant_keys.revoke_key(seed.table(), other.tenant_id, acme.key_id)
    with pytest.raises(NotFound, match="key"):
        tenant_keys.rotate_key(seed.table(), acme.tenant_id, "key_nothing")
    assert authorize(acme.api_key) is not None


@pytest.mark.parametrize("name", ["", " lead", "x" * 65, "a#b", "new\nline", None])
def test_given_a_bad_name_then_invalid_request(provisioned, name):
    tenant = create_tenant("acme", seed.table())
    with pytest.raises(InvalidRequest) as caught:
        tenant_keys.create_key(seed.table(), tenant.tenant_id, name)
    assert caught.value.field == "name"


# ---- revocation ---------------------------------------------------------------------------------


def test_given_a_revoked_key_then_the_authorizer_refuses_it_and_the_tenants_other_keys_still_work(provisioned, at):
    tenant = create_tenant("acme", seed.table())
    billing = tenant_keys.create_key(seed.table(), tenant.tenant_id, "billing")
    assert authorize(billing.api_key) is not None

    at["now"] += 5
    revoked = tenant_keys.revoke_key(seed.table(), tenant.tenant_id, billing.key.key_id)

    assert authorize(billing.api_key) is None
    assert authorize(tenant.api_key) is not None
    assert (revoked.status, revoked.revoked_at) == ("revoked", clock.iso(T0 + 5))
    at["now"] += 5
    again = tenant_keys.revoke_key(seed.table(), tenant.tenant_id, billing.key.key_id)
    assert again.revoked_at == clock.iso(T0 + 5)  # revoking twice changes nothing
    with pytest.raises(Conflict, match="revoked"):
        tenant_keys.rotate_key(seed.table(), tenant.tenant_id, billing.key.key_id)
    assert [k.status for k in tenant_keys.list_keys(seed.table(), tenant.tenant_id)] == ["active", "revoked"]


# ---- rotation -----------------------------------------------------------------------------------


def test_given_a_rotated_key_then_its_old_value_works_until_the_grace_period_ends_then_is_refused(provisioned, at):
    tenant = create_tenant("acme", seed.table())

    rotation = tenant_keys.rotate_key(seed.table(), tenant.tenant_id, tenant.key_id, grace_seconds=3600)

    new = rotation.key
    assert (new.key.name, new.key.rotated_from, new.key.status) == ("default", tenant.key_id, "active")
    assert (rotation.previous.status, rotation.previous.replaced_by) == ("expiring", new.key.key_id)
    assert rotation.previous.expires_at == clock.iso(T0 + 3600)
    at["now"] = T0 + 3599
    assert authorize(tenant.api_key) is not None and authorize(new.api_key) is not None
    at["now"] = T0 + 3600
    assert authorize(tenant.api_key) is None
    assert authorize(new.api_key)["context"]["tenant_id"] == tenant.tenant_id
    assert [k.status for k in tenant_keys.list_keys(seed.table(), tenant.tenant_id)] == ["expired", "active"]
    # the table's TTL removes both items of the old key after its grace period
    old_items = [
        i for i in items_of(tenant.tenant_id) if tenant.key_id in (i.get("key_id"), i["sk"].removeprefix("KEY#"))
    ]
    assert len(old_items) == 2 and {int(i["expires_at"]) for i in old_items} == {int(T0) + 3600}


def test_given_a_rotated_key_then_it_cannot_be_rotated_again_but_can_be_revoked_before_its_grace_ends(provisioned, at):
    tenant = create_tenant("acme", seed.table())
    rotation = tenant_keys.rotate_key(seed.table(), tenant.tenant_id, tenant.key_id)

    with pytest.raises(Conflict, match=rotation.key.key.key_id):
        tenant_keys.rotate_key(seed.table(), tenant.tenant_id, tenant.key_id)
    assert rotation.previous.expires_at == clock.iso(T0 + tenant_keys.DEFAULT_GRACE_SECONDS)
    tenant_keys.revoke_key(seed.table(), tenant.tenant_id, tenant.key_id)

    assert authorize(tenant.api_key) is None
    assert authorize(rotation.key.api_key) is not None


@pytest.mark.parametrize("grace", [-1, tenant_keys.MAX_GRACE_SECONDS + 1, 1.5, True, "60"])
def test_given_a_grace_period_out_of_bounds_then_invalid_request_and_nothing_changes(provisioned, grace):
    tenant = create_tenant("acme", seed.table())
    with pytest.raises(InvalidRequest):
        tenant_keys.rotate_key(seed.table(), tenant.tenant_id, tenant.key_id, grace)
    assert [k.status for k in tenant_keys.list_keys(seed.table(), tenant.tenant_id)] == ["active"]


def test_given_a_zero_grace_period_then_the_old_key_stops_at_once(provisioned, at):
    tenant = create_tenant("acme", seed.table())
    at["now"] = T0 + 0.25
    tenant_keys.rotate_key(seed.table(), tenant.tenant_id, tenant.key_id, grace_seconds=0)
    at["now"] = T0 + 1
    assert authorize(tenant.api_key) is None


# ---- last use -----------------------------------------------------------------------------------


def test_a_keys_use_is_recorded_at_most_every_15_minutes(provisioned, at):
    tenant = create_tenant("acme", seed.table())
    item_key = {"pk": f"KEY#{hash_key(tenant.api_key)}", "sk": "KEY"}

    def last_used() -> str | None:
        return seed.table().get_item(Key=item_key)["Item"].get("last_used_at")

    authorize(tenant.api_key)
    assert last_used() == clock.iso(T0)
    at["now"] = T0 + LAST_USED_EVERY - 1
    authorize(tenant.api_key)
    assert last_used() == clock.iso(T0)  # no write: recorded less than 15 minutes ago
    at["now"] = T0 + LAST_USED_EVERY + 1
    authorize(tenant.api_key)
    assert last_used() == clock.iso(T0 + LAST_USED_EVERY + 1)


# ---- keys made before key ids -------------------------------------------------------------------


def _legacy_tenant(api_key: str, **extra: Any) -> str:
    tenant_id = "ten_legacy00000000000000000001"
    seed.table().put_item(
        Item={"pk": f"TENANT#{tenant_id}", "sk": "TENANT", "name": "old", "created_at": clock.iso(T0)}
    )
    seed.table().put_item(Item={"pk": f"KEY#{hash_key(api_key)}", "sk": "KEY", "tenant_id": tenant_id,
                                "created_at": clock.iso(T0), **extra})
    return tenant_id


def test_given_keys_made_before_key_ids_then_they_work_until_adopted_and_then_are_managed_like_the_others(
    provisioned, at
):
    old_key, flagged = "tt_made_before_key_ids_0000000000000", "tt_revoked_with_the_old_flag_000000"
    tenant_id = _legacy_tenant(old_key, usage_key="usage-value", usage_key_id="usage-id")
    seed.table().put_item(Item={"pk": f"KEY#{hash_key(flagged)}", "sk": "KEY", "tenant_id": tenant_id,
                                "created_at": clock.iso(T0), "revoked": True})
    assert authorize(old_key)["usageIdentifierKey"] == "usage-value"
    assert authorize(flagged) is None
    assert tenant_keys.list_keys(seed.table(), tenant_id) == []
    with pytest.raises(Conflict, match="adopt") as refused:  # its new key would lack the usage-plan key
        tenant_keys.create_key(seed.table(), tenant_id, "too early")
    assert refused.value.code == "keys_not_adopted"

    assert tenant_keys.adopt_legacy_keys(seed.table()) == (2, 0)
    assert tenant_keys.adopt_legacy_keys(seed.table()) == (0, 0)  # once only

    keys = tenant_keys.list_keys(seed.table(), tenant_id)
    assert sorted((k.name, k.status, k.prefix) for k in keys) == [
        ("default", "active", None),
        ("default", "revoked", None),
    ]
    created = tenant_keys.create_key(seed.table(), tenant_id, "new")
    assert authorize(created.api_key)["usageIdentifierKey"] == "usage-value"  # the tenant's, copied at adoption
    active = next(k for k in keys if k.status == "active")
    tenant_keys.revoke_key(seed.table(), tenant_id, active.key_id)
    assert authorize(old_key) is None


def test_given_a_key_whose_tenant_item_is_gone_then_adoption_leaves_it(provisioned):
    seed.table().put_item(Item={"pk": f"KEY#{hash_key('tt_orphan_key_000000000000000000')}", "sk": "KEY",
                                "tenant_id": "ten_gone", "created_at": clock.iso(T0)})
    assert tenant_keys.adopt_legacy_keys(seed.table()) == (0, 1)


# ---- the operator API ---------------------------------------------------------------------------


def test_the_operator_api_creates_lists_rotates_and_revokes_keys(provisioned):
    tenant = seed.events_tenant()

    status, created = admin("create_key", tenant_id=tenant.tenant_id)
    assert status == 201 and created["name"] == "billing-service" and created["api_key"].startswith("tt_")
    assert authorize(created["api_key"])["context"]["tenant_id"] == tenant.tenant_id

    status, listing = admin("list_keys", tenant_id=tenant.tenant_id)
    assert status == 200 and listing["tenant_id"] == tenant.tenant_id
    assert [k["name"] for k in listing["keys"]] == ["default", "billing-service"]
    assert all("api_key" not in k for k in listing["keys"])

    status, rotated = admin("rotate_key", tenant_id=tenant.tenant_id, key_id=created["key_id"])
    assert status == 201 and rotated["previous"]["status"] == "expiring"
    assert rotated["previous"]["expires_at"] > rotated["key"]["created_at"]
    assert authorize(rotated["key"]["api_key"]) is not None and authorize(created["api_key"]) is not None

    status, revoked = admin("revoke_key", tenant_id=tenant.tenant_id, key_id=created["key_id"])
    assert (status, revoked["status"]) == (200, "revoked")
    assert authorize(created["api_key"]) is None


@pytest.mark.parametrize(("case", "body", "status", "code"), [
    ("create_key", "not json", 400, "invalid_json"),
    ("create_key", {"name": "ok", "admin": True}, 422, "unknown_field"),
    ("create_key", {}, 422, "missing_field"),
    ("create_key", {"name": "a#b"}, 422, "invalid_value"),
    ("rotate_key", {"grace_seconds": -1}, 422, "invalid_value"),
    ("rotate_key", {"grace_seconds": "60"}, 422, "invalid_value"),
])
def test_the_operator_api_refuses_bad_bodies_in_the_one_error_shape(provisioned, case, body, status, code):
    tenant = seed.events_tenant()
    answer = admin(case, tenant_id=tenant.tenant_id, key_id=tenant.key_id, body=body)
    assert (answer[0], answer[1]["error"]["code"]) == (status, code)
    assert set(answer[1]) == {"error"} and set(answer[1]["error"]) == {"code", "message", "field"}
    assert [k.status for k in tenant_keys.list_keys(seed.table(), tenant.tenant_id)] == ["active"]


def test_the_operator_api_answers_404_for_unknown_tenants_and_keys(provisioned):
    tenant = seed.events_tenant()
    assert admin("list_keys", tenant_id="ten_nobody000000000000000000")[0] == 404
    assert admin("revoke_key", tenant_id=tenant.tenant_id)[1]["error"] == {
        "code": "not_found",
        "message": "no such key for this tenant",
        "field": "key_id",
    }


def test_given_a_call_without_an_iam_caller_or_with_a_tenants_context_then_the_operator_api_refuses_it(provisioned):
    tenant = seed.events_tenant()
    status, body = admin("tenant_key_refused", tenant_id=tenant.tenant_id)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    request = event("tenant_admin/create_key")
    request["pathParameters"]["tenant_id"] = tenant.tenant_id
    request["requestContext"]["identity"]["userArn"] = None
    request["requestContext"]["identity"]["caller"] = None
    assert _admin.invoke("tenant_admin", request)["statusCode"] == 403
    assert [k.name for k in tenant_keys.list_keys(seed.table(), tenant.tenant_id)] == ["default"]


def test_key_owner_refuses_what_is_not_a_tenant_key(provisioned):
    tenant = create_tenant("acme", seed.table())
    for value in ("", "Bearer " + tenant.api_key, tenant.api_key + "x", "tt_" + "a" * 200):
        assert key_owner(seed.table(), value) is None
