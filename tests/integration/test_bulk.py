"""Bulk sends end to end against moto and the provider sandbox: api -> fanout (invoked with
what the fanout queue holds) -> senders (invoked with what the bulk queues hold), batch
status and listing, redelivered chunks, groups, cancellation, and a 100,000-recipient request."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from tamtam import aws, clock
from tamtam.settings import get_settings
from tamtam.store import batches, messages
from tamtam.store.batches import BatchItem
from tamtam.store.message_item import message_pk
from tests.integration import seed
from tests.integration.bulk_helpers import api, drain, drain_all, fan_out, send_all
from tests.integration.lambdas import event, invoke

EVENTS_BATCH = "bat_events00000000000000000001"


@pytest.fixture(autouse=True)
def _empty_queues(provisioned, sandbox):
    """Queues are shared by the whole session: empty before and after each test."""
    drain("fanout")
    drain_all("bulk")
    sandbox.sandbox.sims["passeinfo"].configure({"balance": 1_000_000})
    yield
    drain("fanout")
    drain_all("bulk")


def batch_view(batch_id: str) -> dict:
    status, body = api("GET", f"/v1/batches/{batch_id}")
    assert status == 200, body
    return body


def all_listed(batch_id: str, status: str | None = None, limit: int = 400) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        query = {
            "limit": str(limit),
            **({"status": status} if status else {}),
            **({"cursor": cursor} if cursor else {}),
        }
        code, page = api("GET", f"/v1/batches/{batch_id}/messages", query=query)
        assert code == 200, page
        items += page["items"]
        cursor, pages = page["cursor"], pages + 1
        if not cursor:
            return items
        assert pages < 50


def test_given_1000_recipients_with_invalid_and_duplicate_numbers_then_each_valid_one_is_sent_once(
    sandbox, monkeypatch
):
    monkeypatch.setenv("BULK_CHUNK_RECIPIENTS", "100")  # moto's SQS slows down as a queue grows
    guinea = [f"+2246220{i:05d}" for i in range(980)]
    others = [f"+2410612{i:04d}" for i in range(5)] + [f"+3361234{i:04d}" for i in range(5)]
    refused_later = ["+224999000000", "+224500000000"]  # the right shape, not valid Guinean numbers
    duplicates = ["622000003", "+224 622 000 004", "00224622000005", guinea[6]]
    malformed = ["hello", "+2246", "", "+1 (555)"]
    to = guinea + others + refused_later + duplicates + malformed
    assert len(to) == 1000

    status, accepted = api("POST", "/v1/messages/bulk", {"to": to, "text": "Promo -20% ce week-end"})

    assert status == 202, accepted
    assert (accepted["accepted"], accepted["duplicates"], accepted["rejected_count"]) == (992, 4, 4)
    assert [(r["index"], r["code"]) for r in accepted["rejected"]] == [(i, "invalid_phone") for i in range(996, 1000)]
    batch_id = accepted["batch_id"]
    assert batch_view(batch_id)["state"] == "processing"

    assert fan_out(batch_id, then_send=True) == []

    outbox = Counter("+" + o["to"].lstrip("+") for o in sandbox.sandbox.outbox_items())
    assert set(outbox) == set(guinea + others) and set(outbox.values()) == {1}
    view = batch_view(batch_id)
    assert view["counts"]["sent"] == 990 and view["counts"]["failed"] == 2
    assert sum(view["counts"].values()) == view["total"] == 992
    assert (view["state"], view["done"], view["progress"]) == ("completed", 992, 1.0)
    assert view["finished_at"] and (view["duplicates"], view["rejected"], view["requested"]) == (4, 4, 1000)
    failed = all_listed(batch_id, "failed")
    assert sorted((m["to"], m["reason"]) for m in failed) == [
        ("+224500000000", "invalid_phone"),
        ("+224999000000", "invalid_phone"),
    ]
    everything = all_listed(batch_id)
    assert len({m["id"] for m in everything}) == 992


def test_given_a_chunk_redelivered_after_a_crash_then_nothing_is_rewritten_resent_or_counted_twice(
    sandbox, monkeypatch
):
    _, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(30)], "text": "hi"})
    batch_id = accepted["batch_id"]
    chunk = [b for b in drain("fanout") if b["batch_id"] == batch_id]
    real = batches.complete_chunk
    monkeypatch.setattr(batches, "complete_chunk", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("crash")))
    assert invoke("fanout", seed.sqs_event(chunk))["batchItemFailures"] == [{"itemIdentifier": "id-0"}]
    first = drain_all()
    assert len(first) == 30
    invoke("sender", seed.sqs_event(first[:5]))  # five went out before the chunk came back

    monkeypatch.setattr(batches, "complete_chunk", real)
    # Moments later, the first delivery may still be at work: nothing rewritten or enqueued, and
    # the chunk comes back once that delivery is certainly over.
    assert invoke("fanout", seed.sqs_event(chunk))["batchItemFailures"] == [{"itemIdentifier": "id-0"}]
    assert drain_all() == []
    later = time.time() + 3600  # after the visibility timeout: the 25 still `queued` may be orphans
    with monkeypatch.context() as m:
        m.setattr(clock, "now", lambda: later)
        assert invoke("fanout", seed.sqs_event(chunk))["batchItemFailures"] == []
        assert invoke("fanout", seed.sqs_event(chunk))["batchItemFailures"] == []  # and once more, after it was counted
    again = drain_all()
    assert sorted(b["message_id"] for b in again) == sorted(b["message_id"] for b in first[5:])
    queued = first[5:] + again  # the first messages are still on their queues: each record twice, sent once
    for start in range(0, len(queued), 10):
        invoke("sender", seed.sqs_event(queued[start : start + 10]))

    assert len(sandbox.sandbox.outbox_items()) == 30
    view = batch_view(batch_id)
    assert (view["counts"]["sent"], view["counts"]["queued"], view["state"]) == (30, 0, "completed")


def test_given_the_events_chunk_then_records_are_written_and_enqueued_on_the_bulk_queues(provisioned):
    table = seed.table()
    batches.put_batch(
        table,
        BatchItem(
            id=EVENTS_BATCH,
            tenant_id=seed.EVENTS_TENANT,
            kind="list",
            state="open",
            total=4,
            requested=4,
            chunks=1,
            text="Hello from tamtam",
            created_at="2026-11-22T11:00:00.000Z",
        ),
    )

    assert invoke("fanout", event("fanout/chunk")) == {"batchItemFailures": []}

    queued = {p: [b["message_id"] for b in drain(f"{p}-bulk")] for p in ("passeinfo", "ventis")}
    assert queued == {"passeinfo": ["msg_events00000000000000000001_000000", "msg_events00000000000000000001_000001"],
                      "ventis": ["msg_events00000000000000000001_000002"]}
    refused = messages.get(table, "msg_events00000000000000000001_000003")
    assert (refused.status, refused.reason, refused.batch_id) == ("failed", "invalid_phone", EVENTS_BATCH)
    assert batches.get_batch(table, EVENTS_BATCH).counts == {"queued": 3, "failed": 1}
    answer = invoke("api", event("api/get_batch"))
    view = json.loads(answer["body"])
    assert (answer["statusCode"], view["id"], view["state"], view["done"], view["counts"]["queued"]) == (
        200,
        EVENTS_BATCH,
        "processing",
        1,
        3,
    )
    other, _ = api("GET", f"/v1/batches/{EVENTS_BATCH}", tenant="ten_someoneelse")
    assert other == 404


def test_given_the_bulk_events_file_then_202_with_duplicates_and_rejects(provisioned):
    answer = invoke("api", event("api/bulk_send"))
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 202
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (
        3,
        1,
        [{"index": 3, "to": "not-a-number", "code": "invalid_phone"}],
    )


def test_given_recipients_with_variables_then_each_text_is_rendered_and_a_missing_variable_is_rejected(sandbox):
    recipients = [{"to": "+224622000001", "vars": {"name": "Awa"}}, {"to": "+224622000002", "vars": {"name": "Sékou"}},
                  {"to": "+224622000003", "vars": {"other": "x"}}]
    status, accepted = api("POST", "/v1/messages/bulk", {"recipients": recipients, "text": "Bonjour {{ name }} !"})
    assert status == 202
    assert accepted["rejected"] == [{"index": 2, "to": "+224622000003", "code": "missing_variable"}]
    fan_out(accepted["batch_id"])
    send_all()
    assert sorted(o["text"] for o in sandbox.sandbox.outbox_items()) == ["Bonjour Awa !", "Bonjour Sékou !"]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"text": "hi"}, "invalid_recipients", "to"),
        (
            {"to": ["+224622000001"], "group": {"provider": "passeinfo", "group_id": "g"}, "text": "hi"},
            "invalid_recipients",
            "to",
        ),
        ({"to": ["nope", "+2246"], "text": "hi"}, "no_valid_recipient", "to"),
        ({"to": ["+224622000001"], "text": "Hi {{name}}"}, "missing_variable", "text"),
        ({"to": ["+224622000001"], "text": "a" * 1531}, "text_too_long", "text"),
        (
            {"to": ["+224622000001"], "text": "hi", "schedule_at": "2020-01-01T00:00:00Z"},
            "invalid_schedule",
            "schedule_at",
        ),
        ({"group": {"provider": "passeinfo", "group_id": "a,b"}, "text": "hi"}, "invalid_value", "group.group_id"),
        ({"to": [1, 2], "text": "hi"}, "invalid_type", "to.0"),
    ],
)
def test_given_a_bad_bulk_request_then_422_and_nothing_stored(provisioned, body, code, field):
    status, answer = api("POST", "/v1/messages/bulk", body)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, code, field)
    assert aws.table(get_settings().table_name).scan(Select="COUNT")["Count"] == 0
    assert drain("fanout") == []


@pytest.mark.parametrize(
    ("provider", "group_id", "members"), [("passeinfo", "sandbox-group", 3), ("messagepro", "1", 2)]
)
def test_given_a_provider_group_then_one_provider_call_reaches_every_member(sandbox, provider, group_id, members):
    status, accepted = api(
        "POST", "/v1/messages/bulk", {"group": {"provider": provider, "group_id": group_id}, "text": "Réunion à 18h"}
    )
    assert (status, accepted["accepted"]) == (202, 1)
    assert drain("fanout") == []
    assert send_all() == 1
    assert len(sandbox.sandbox.outbox_items(provider=provider)) == members
    view = batch_view(accepted["batch_id"])
    assert (view["kind"], view["group"], view["counts"]["sent"], view["state"]) == (
        "group", {"provider": provider, "group_id": group_id}, 1, "completed")
    # No report comes per member of a provider group: `sent` is final, never `expired` later.
    stored = messages.get(seed.table(), f"msg_{accepted['batch_id'].removeprefix('bat_')}_group")
    assert (stored.status, stored.reason) == ("sent", "no_delivery_report")
    assert "gsi1pk" not in seed.table().get_item(Key={"pk": message_pk(stored.id), "sk": "MSG"})["Item"]


def test_given_a_fanned_out_batch_when_cancelled_then_nothing_reaches_the_sandbox(sandbox):
    _, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(40)], "text": "hi"})
    batch_id = accepted["batch_id"]
    fan_out(batch_id)

    status, cancelled = api("DELETE", f"/v1/batches/{batch_id}")

    assert (status, cancelled["cancelled"], cancelled["continuing"]) == (200, 40, False)
    send_all()
    assert sandbox.sandbox.outbox_items() == []
    view = batch_view(batch_id)
    assert (view["counts"]["cancelled"], view["state"], bool(view["cancelled_at"])) == (40, "completed", True)
    again, conflict = api("DELETE", f"/v1/batches/{batch_id}")
    assert (again, conflict["error"]["code"]) == (409, "not_cancellable")


def test_given_a_batch_cancelled_before_its_fan_out_then_its_messages_are_written_cancelled(sandbox):
    _, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(12)], "text": "hi"})
    status, cancelled = api("DELETE", f"/v1/batches/{accepted['batch_id']}")
    assert (status, cancelled["cancelled"]) == (200, 0)
    fan_out(accepted["batch_id"])
    assert drain_all() == []
    assert batch_view(accepted["batch_id"])["counts"]["cancelled"] == 12


def test_given_a_listing_then_pages_follow_the_cursor_and_a_forged_cursor_is_refused(sandbox):
    _, accepted = api("POST", "/v1/messages/bulk", {"to": [f"+2246220{i:05d}" for i in range(25)], "text": "hi"})
    fan_out(accepted["batch_id"])
    assert len(all_listed(accepted["batch_id"], "queued", limit=7)) == 25
    assert all_listed(accepted["batch_id"], "sent") == []
    status, error = api("GET", f"/v1/batches/{accepted['batch_id']}/messages", query={"cursor": "eyJwayI6IngifQ"})
    assert (status, error["error"]["code"]) == (422, "invalid_cursor")


def test_given_100000_recipients_then_the_request_is_accepted(provisioned):
    to = [f"+22462{i:07d}" for i in range(100_000)]
    started = time.perf_counter()
    status, accepted = api("POST", "/v1/messages/bulk", {"to": to, "text": "Grande promo ce week-end"})
    elapsed = time.perf_counter() - started
    print(f"\n100,000 recipients accepted in {elapsed:.2f} s")
    assert status == 202, accepted
    assert (accepted["accepted"], accepted["duplicates"], accepted["rejected_count"]) == (100_000, 0, 0)
    chunks = drain("fanout")
    assert len(chunks) == 200 and sum(len(c["recipients"]) for c in chunks) == 100_000
    assert batch_view(accepted["batch_id"])["state"] == "processing"


def test_given_openapi_then_the_bulk_batch_and_cancel_routes_are_documented(provisioned):
    doc = json.loads(invoke("api", event("api/openapi"))["body"])
    paths = doc["paths"]
    assert "post" in paths["/v1/messages/bulk"] and "delete" in paths["/v1/messages/{message_id}"]
    assert {"get", "delete"} <= set(paths["/v1/batches/{batch_id}"]) and "get" in paths[
        "/v1/batches/{batch_id}/messages"
    ]
    assert {"BulkSendIn", "BulkAccepted", "BatchView", "BatchMessagesPage"} <= set(doc["components"]["schemas"])
    assert "schedule_at" in doc["components"]["schemas"]["SendMessageIn"]["properties"]


def _events_batch(table) -> None:
    batches.put_batch(
        table,
        BatchItem(
            id=EVENTS_BATCH,
            tenant_id=seed.EVENTS_TENANT,
            kind="list",
            state="open",
            total=4,
            requested=4,
            chunks=1,
            text="Hello from tamtam",
            created_at="2026-11-22T11:00:00.000Z",
        ),
    )


def test_given_a_chunk_in_slices_then_partial_queue_calls_wait_for_the_last_slice(provisioned, monkeypatch):
    from tamtam.bulk import fanout

    monkeypatch.setattr(fanout, "SLICE", 2)
    _events_batch(seed.table())
    assert invoke("fanout", event("fanout/chunk")) == {"batchItemFailures": []}
    queued = {p: [b["message_id"] for b in drain(f"{p}-bulk")] for p in ("passeinfo", "ventis")}
    assert queued == {"passeinfo": ["msg_events00000000000000000001_000000", "msg_events00000000000000000001_000001"],
                      "ventis": ["msg_events00000000000000000001_000002"]}


def test_given_a_batch_cancelled_between_slices_then_carried_messages_are_cancelled_not_enqueued(
    provisioned, monkeypatch
):
    from tamtam.bulk import fanout

    table = seed.table()
    monkeypatch.setattr(fanout, "SLICE", 2)
    _events_batch(table)
    real_get, calls = batches.get_batch, []

    def get_batch(table_: Any, batch_id: str, **kwargs: Any) -> BatchItem | None:
        calls.append(batch_id)
        found = real_get(table_, batch_id, **kwargs)
        if len(calls) >= 3 and found is not None:  # after the first slice was carried
            return found.model_copy(update={"cancelled_at": "2026-11-22T11:00:01.000Z"})
        return found

    monkeypatch.setattr(fanout.batches, "get_batch", get_batch)
    assert invoke("fanout", event("fanout/chunk")) == {"batchItemFailures": []}
    assert drain("passeinfo-bulk") == [] and drain("ventis-bulk") == []
    statuses = [messages.get(table, f"msg_events00000000000000000001_00000{i}").status for i in range(3)]
    assert statuses == ["cancelled"] * 3


def test_given_a_chunk_of_a_batch_still_accepting_then_it_waits_for_the_api_then_comes_back_later(
    provisioned, monkeypatch
):
    import threading

    from tamtam.bulk import fanout

    table = seed.table()
    monkeypatch.setattr(fanout, "ACCEPT_WAIT_SECONDS", 0.5)
    accepting = BatchItem(id=EVENTS_BATCH, tenant_id=seed.EVENTS_TENANT, kind="list", state="accepting", total=4,
                          requested=4, chunks=1, text="Hello from tamtam", created_at="2026-11-22T11:00:00.000Z")
    batches.put_batch(table, accepting)
    failures = invoke("fanout", event("fanout/chunk"))["batchItemFailures"]
    assert len(failures) == 1  # still accepting after the wait: the chunk comes back later
    assert drain("passeinfo-bulk") == []

    monkeypatch.setattr(fanout, "ACCEPT_WAIT_SECONDS", 10)
    opener = threading.Timer(0.5, batches.set_state, args=(table, EVENTS_BATCH, batches.OPEN))
    opener.start()
    try:
        assert invoke("fanout", event("fanout/chunk")) == {"batchItemFailures": []}  # opened during the wait
    finally:
        opener.join()
    assert len(drain("passeinfo-bulk")) == 2
