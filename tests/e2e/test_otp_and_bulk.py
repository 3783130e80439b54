"""Issues 4 and 5 end to end on the local stack: one-time codes, bulk with batch status,
idempotency, scheduling and cancel."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e


def test_given_an_otp_then_the_outbox_holds_the_code_it_verifies_once_and_only_once(stack, api, tenant_key):
    key = tenant_key("otp")
    sent = api("POST", "/v1/otp", key, json={"to": "+224622000201", "locale": "en"})
    assert sent.status_code == 202, sent.text
    otp = sent.json()
    assert set(otp) >= {"id", "to", "channel", "expires_at", "status"} and "code" not in otp

    def code():
        texts = [o["text"] for o in stack.sandbox.outbox(to="+224622000201")]
        found = [m.group(0) for t in texts for m in [re.search(r"\b\d{6}\b", t)] if m]
        return found[-1] if found else None

    the_code = wait_for(code, timeout=30)
    wrong = "000000" if the_code != "000000" else "111111"
    rejected = api("POST", f"/v1/otp/{otp['id']}/verify", key, json={"code": wrong})
    assert rejected.status_code == 422 and rejected.json()["attempts_left"] == 4
    approved = api("POST", f"/v1/otp/{otp['id']}/verify", key, json={"code": the_code})
    assert (approved.status_code, approved.json()["status"]) == (200, "approved")
    again = api("POST", f"/v1/otp/{otp['id']}/verify", key, json={"code": the_code})
    assert again.status_code == 409
    other_tenant = api("POST", f"/v1/otp/{otp['id']}/verify", tenant_key("otp-other"), json={"code": the_code})
    assert other_tenant.status_code == 404


@pytest.mark.timeout(900)
def test_given_a_bulk_of_1000_with_invalid_and_duplicate_numbers_then_every_valid_one_is_sent_once(
    stack, api, tenant_key
):
    key = tenant_key("bulk")
    numbers = [f"+22462{i:07d}" for i in range(990)]
    numbers += numbers[:5]  # 5 duplicates
    numbers += ["+2246", "not-a-number", "12", "+999", "+224", "", "abc"]  # invalid
    numbers += ["+224629999998", "+224629999999", "+224629999997"]
    accepted = api("POST", "/v1/messages/bulk", key, json={"to": numbers, "text": "Campaign", "provider": "passeinfo"})
    assert accepted.status_code == 202, accepted.text
    batch = accepted.json()
    assert batch["accepted"] == 993 and batch["duplicates"] == 5 and len(batch["rejected"]) == 7
    # Issued while the bulk is queued for the same provider: it goes out before the bulk's last.
    otp = api("POST", "/v1/otp", key, json={"to": "+224621999001", "provider": "passeinfo"})
    single = api("POST", "/v1/messages", key, json={"to": "+224621999002", "text": "Your order shipped",
                                                    "provider": "passeinfo"})
    assert otp.status_code == 202 and single.status_code == 202, (otp.text, single.text)

    def completed():
        view = api("GET", f"/v1/batches/{batch['batch_id']}", key).json()
        return view if view["state"] == "completed" else None

    # About 3.5 minutes here: moto, the pollers and the functions share one Python process.
    view = wait_for(completed, timeout=800, interval=2)
    assert view["total"] == 993 and sum(view["counts"].values()) == 993
    assert view["counts"].get("sent", 0) + view["counts"].get("delivered", 0) == 993
    outbox = stack.sandbox.outbox(provider="passeinfo")
    per_number: dict[str, int] = {}
    for entry in outbox:
        if entry["text"] == "Campaign":
            per_number[entry["to"]] = per_number.get(entry["to"], 0) + 1
    assert len(per_number) == 993 and set(per_number.values()) == {1}
    order = [entry["to"] for entry in outbox]  # in the order the sandbox took them
    last_of_bulk = max(i for i, entry in enumerate(outbox) if entry["text"] == "Campaign")
    assert order.index("+224621999001") < last_of_bulk and order.index("+224621999002") < last_of_bulk


def test_given_the_same_idempotency_key_twice_then_one_message(stack, api, tenant_key):
    key = tenant_key("idem")
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"to": "+224622000202", "text": "only once", "provider": "smsgate"}
    first = api("POST", "/v1/messages", key, json=body, headers=dict(idem))
    second = api("POST", "/v1/messages", key, json=body, headers=dict(idem))
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    other = api("POST", "/v1/messages", key, json={**body, "text": "another"}, headers=dict(idem))
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_given_a_cancelled_scheduled_message_then_it_never_reaches_the_sandbox(stack, api, tenant_key):
    from datetime import UTC, datetime, timedelta

    key = tenant_key("schedule")
    at = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    accepted = api("POST", "/v1/messages", key, json={"to": "+224622000203", "text": "later", "schedule_at": at}).json()
    assert accepted["status"] == "scheduled"
    cancelled = api("DELETE", f"/v1/messages/{accepted['id']}", key)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    stack.schedules.trigger("SchedulerFunction")
    assert stack.sandbox.outbox(to="+224622000203") == []
