"""GET /v1/messages through the api function: the query as a caller writes it (a national
number, ISO 8601 moments with an offset), each tenant seeing only its own messages, and bad
parameters answered in the one error shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration import seed
from tests.integration.lambdas import event, invoke

OTHER_TENANT = "ten_search0000000000000other"


def call(method: str, path: str, *, tenant: str = seed.EVENTS_TENANT, query: dict[str, str] | None = None,
         body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    ev = event("api/get_message")
    ev.update(httpMethod=method, path=path, queryStringParameters=query, body=json.dumps(body) if body else None)
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant
    answer = invoke("api", ev)
    return answer["statusCode"], json.loads(answer["body"])


def send(to: str, *, tenant: str = seed.EVENTS_TENANT) -> str:
    status, body = call("POST", "/v1/messages", tenant=tenant, body={"to": to, "text": "hello"})
    assert status == 202, body
    return body["id"]


def test_given_messages_of_two_tenants_then_each_lists_only_its_own_newest_first(provisioned):
    mine = [send("+224622000001"), send("622000002"), send("+224622000001")]
    theirs = send("+224622000001", tenant=OTHER_TENANT)
    status, page = call("GET", "/v1/messages")
    assert status == 200
    assert [m["id"] for m in page["items"]] == mine[::-1] and page["cursor"] is None
    assert theirs not in {m["id"] for m in page["items"]}
    status, page = call("GET", "/v1/messages", tenant=OTHER_TENANT)
    assert [m["id"] for m in page["items"]] == [theirs]


def test_given_a_national_number_and_a_status_then_the_filters_combine(provisioned):
    first, _, third = send("+224622000001"), send("+224622000002"), send("+224622000001")
    status, page = call("GET", "/v1/messages", query={"to": "622000001", "status": "queued"})
    assert status == 200 and [m["id"] for m in page["items"]] == [third, first]
    assert {(m["to"], m["status"], m["final"]) for m in page["items"]} == {("+224622000001", "queued", False)}
    status, page = call("GET", "/v1/messages", query={"to": "622000001", "status": "delivered"})
    assert (status, page["items"]) == (200, [])


def test_given_a_time_range_with_an_offset_then_it_bounds_creation_times(provisioned):
    ids = [send("+224622000001") for _ in range(3)]
    _, everything = call("GET", "/v1/messages")
    created = {m["id"]: m["created_at"] for m in everything["items"]}
    since = created[ids[1]].replace("Z", "+00:00")
    _, page = call("GET", "/v1/messages", query={"since": since})
    assert [m["id"] for m in page["items"]] == [ids[2], ids[1]]
    _, page = call("GET", "/v1/messages", query={"until": since})
    assert [m["id"] for m in page["items"]] == [ids[0]]


def test_given_a_small_limit_then_the_cursor_walks_every_message_once(provisioned):
    ids = [send("+224622000001") for _ in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        _, page = call("GET", "/v1/messages", query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert len(page["items"]) <= 2
        seen += [m["id"] for m in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"limit": "0"}, "invalid_value", "limit"),
        ({"limit": "101"}, "invalid_value", "limit"),
        ({"limit": "many"}, "invalid_type", "limit"),
        ({"status": "lost"}, "invalid_value", "status"),
        ({"to": "hello"}, "invalid_phone", "to"),
        ({"since": "yesterday"}, "invalid_value", "since"),
        ({"since": "2026-05-01T09:00:00"}, "invalid_value", "since"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor", "cursor"),
    ],
)
def test_given_bad_parameters_then_422_in_the_one_error_shape(provisioned, query, code, field):
    status, body = call("GET", "/v1/messages", query=query)
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, code, field)


def test_given_another_tenants_cursor_then_it_is_refused(provisioned):
    for _ in range(3):
        send("+224622000001")
    _, page = call("GET", "/v1/messages", query={"limit": "1"})
    status, body = call("GET", "/v1/messages", tenant=OTHER_TENANT, query={"limit": "1", "cursor": page["cursor"]})
    assert (status, body["error"]["code"]) == (422, "invalid_cursor")
