"""Abuse controls on by default (issue 14, point 5) and failures counted on alarmed metrics
(point 6), through the functions against moto: a burst of codes to one number range, codes to
one number across tenants, code length and countries by default, the tenants' send limits on
/v1/messages, bulk and the ingest door, and the metrics of errors the functions answer 500 for
and of messages that fail."""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tamtam import aws, clock, ingest, tenant_settings
from tamtam.otp.errors import RateLimited  # (re-exported from tamtam.errors)
from tamtam.settings import get_settings, reset_settings
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.lambdas import event, invoke, pump_stream, stream_paused
from tests.integration.test_otp import otp  # noqa: F401  (the fixture: OTP key and pepper)


def at_window_start(monkeypatch: pytest.MonkeyPatch, window: int, *, offset: float = 5.0) -> float:
    """The clock stopped `offset` seconds into the next window of `window` seconds: a burst in a
    test never straddles two windows."""
    moment = (math.floor(time.time()) // window + 1) * window + offset
    monkeypatch.setattr(clock, "now", lambda: moment)
    return moment


def tenant(tenant_id: str, **settings: Any) -> str:
    seed.table().put_item(Item={"pk": f"TENANT#{tenant_id}", "sk": "TENANT", "name": tenant_id, **settings})
    tenant_settings.reset_cache()
    return tenant_id


def call(method: str, path: str, body: Any = None, *, tenant_id: str = seed.EVENTS_TENANT) -> tuple[int, dict, dict]:
    ev = event("api/otp_send")
    ev["httpMethod"] = ev["requestContext"]["httpMethod"] = method
    ev["path"] = path
    ev["pathParameters"] = {"proxy": path.removeprefix("/v1/")}
    ev["body"] = json.dumps(body) if body is not None else None
    ev["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    answer = invoke("api", ev)
    headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
    return answer["statusCode"], json.loads(answer["body"]), headers


def send_code(to: str, *, tenant_id: str = seed.EVENTS_TENANT, **fields: Any) -> tuple[int, dict, dict]:
    return call("POST", "/v1/otp", {"to": to, **fields}, tenant_id=tenant_id)


def metric_documents(capsys: pytest.CaptureFixture[str], name: str) -> list[dict]:
    """The EMF documents carrying `name` written since the last read."""
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return [d for d in documents if "_aws" in d and name in d]


def dimensions(document: dict) -> list[list[str]]:
    return document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


def items(prefix: str) -> list[dict]:
    return [i for i in seed.table().scan()["Items"] if i["pk"].startswith(prefix)]


# -- one-time codes ------------------------------------------------------------------------


def test_given_a_burst_of_codes_to_one_number_range_then_429_with_retry_after_and_the_metric(
    otp, monkeypatch, capsys  # noqa: F811
):
    moment = at_window_start(monkeypatch, 600)
    for n in range(20):  # 20 numbers of +224 622 001 xxx, from two tenants: the range counts them together
        status, body, _ = send_code(f"+224622001{n:03d}", tenant_id="ten_pumped_a" if n % 2 else "ten_pumped_b")
        assert status == 202, body
    capsys.readouterr()

    status, body, headers = send_code("+224622001500", tenant_id="ten_pumped_c")

    assert (status, body["error"]["code"], body["error"]["field"]) == (429, "otp_range_limit", "to")
    assert int(headers["retry-after"]) == math.ceil((moment // 600 + 1) * 600 - moment) == 595
    [document] = metric_documents(capsys, "OtpPrefixVelocityExceeded")
    assert document["OtpPrefixVelocityExceeded"] == [1.0] and dimensions(document) == [["service"]]
    assert send_code("+224622002500", tenant_id="ten_pumped_c")[0] == 202  # another range is not limited
    assert len(items("OTP#")) == 21  # the refused code was never created


def test_given_codes_to_one_number_from_several_tenants_then_the_number_limit_counts_them_together(otp, monkeypatch):  # noqa: F811
    at_window_start(monkeypatch, 3600)
    for tenant_id in ("ten_shop_a", "ten_shop_b"):
        for _ in range(5):  # each tenant within its own per-number limit (5 in 15 minutes)
            assert send_code("+224622003000", tenant_id=tenant_id)[0] == 202

    status, body, headers = send_code("+224622003000", tenant_id="ten_shop_c")

    assert (status, body["error"]["code"], body["error"]["field"]) == (429, "otp_number_limit", "to")
    assert 1 <= int(headers["retry-after"]) <= 3600
    assert send_code("+224622003001", tenant_id="ten_shop_c")[0] == 202


def test_given_no_tenant_setting_then_codes_have_at_least_6_digits(otp):  # noqa: F811
    for length in (4, 5):
        status, body, _ = send_code("+224622004000", length=length)
        assert (status, body["error"]["code"], body["error"]["field"]) == (422, "code_too_short", "length")
    assert items("OTP") == []  # nothing created, no limit counted
    assert send_code("+224622004000", length=6)[0] == 202


def test_given_the_tenant_setting_then_4_digit_codes_are_allowed_and_a_tenant_can_ask_for_longer(otp):  # noqa: F811
    short = tenant("ten_short_codes", otp_min_length=4)
    status, body, _ = send_code("+224622004001", tenant_id=short, length=4)
    assert status == 202, body
    assert int(seed.table().get_item(Key={"pk": f"OTP#{body['id']}", "sk": "OTP"})["Item"]["length"]) == 4
    strict = tenant("ten_long_codes", otp_min_length=8)
    assert send_code("+224622004002", tenant_id=strict, length=6)[1]["error"]["code"] == "code_too_short"


def test_given_no_allow_list_then_codes_go_only_to_the_countries_of_the_routes(otp):  # noqa: F811
    status, body, _ = send_code("+33612345678")  # France: only the catch-all route carries it
    assert (status, body["error"]["code"], body["error"]["field"]) == (403, "destination_not_allowed", "to")
    assert send_code("+24106123456")[0] == 202  # Gabon has a route
    assert send_code("+224622005000")[0] == 202  # Guinea has a route


def test_given_a_tenant_setting_or_a_tenant_route_then_the_allow_list_widens_or_narrows(otp):  # noqa: F811
    widened = tenant("ten_france", otp_allowed_prefixes=["+33", "+224"])
    assert send_code("+33612345678", tenant_id=widened)[0] == 202
    assert send_code("+24106123456", tenant_id=widened)[1]["error"]["code"] == "destination_not_allowed"  # narrowed
    routed = tenant("ten_routed_france", routes={"+33": ["flowsms"]})
    assert send_code("+33612345678", tenant_id=routed)[0] == 202
    anywhere = tenant("ten_anywhere", otp_allowed_prefixes=["*"])
    assert send_code("+33612345679", tenant_id=anywhere)[0] == 202


# -- send limits per tenant ----------------------------------------------------------------


def send_message(to: str, tenant_id: str) -> tuple[int, dict, dict]:
    return call("POST", "/v1/messages", {"to": to, "text": "hello"}, tenant_id=tenant_id)


def test_given_a_tenant_over_its_messages_per_minute_then_429_with_retry_after_and_nothing_sent(
    monkeypatch, provisioned, capsys
):
    monkeypatch.setenv("SEND_LIMIT_MESSAGES_PER_MINUTE", "2")
    reset_settings()
    moment = at_window_start(monkeypatch, 60, offset=12)
    plain, raised = tenant("ten_plain"), tenant("ten_raised", messages_per_minute=4)
    assert [send_message(f"+22462200600{n}", plain)[0] for n in range(2)] == [202, 202]
    capsys.readouterr()

    status, body, headers = send_message("+224622006009", plain)

    assert (status, body["error"]["code"]) == (429, "send_limit")
    assert int(headers["retry-after"]) == math.ceil((moment // 60 + 1) * 60 - moment) == 48
    [document] = metric_documents(capsys, "SendLimitExceeded")
    assert document["Limit"] == "messages"
    assert [send_message(f"+22462200601{n}", raised)[0] for n in range(5)] == [202, 202, 202, 202, 429]
    assert len(items("MSG#")) == 6
    monkeypatch.setattr(clock, "now", lambda: moment + 60)  # the next minute
    assert send_message("+224622006009", plain)[0] == 202


def send_bulk(to: list[str], tenant_id: str) -> tuple[int, dict, dict]:
    return call("POST", "/v1/messages/bulk", {"to": to, "text": "hello"}, tenant_id=tenant_id)


def test_given_a_tenant_over_its_bulk_recipients_per_hour_then_429_and_a_batch_over_the_whole_limit_422(
    monkeypatch, provisioned
):
    at_window_start(monkeypatch, 3600)
    small = tenant("ten_small_bulk", bulk_recipients_per_hour=5)
    assert send_bulk(["+224622007001", "+224622007002", "+224622007003"], small)[0] == 202
    status, body, headers = send_bulk(["+224622007004", "+224622007005", "+224622007006"], small)
    assert (status, body["error"]["code"], body["error"]["field"]) == (429, "bulk_limit", "to")
    assert 1 <= int(headers["retry-after"]) <= 3600
    # duplicates and invalid numbers are not recipients: two of these four fit exactly
    assert send_bulk(["+224622007004", "622007004", "nope", "+224622007005"], small)[0] == 202
    assert send_bulk(["+224622007006"], small)[1]["error"]["code"] == "bulk_limit"
    other = tenant("ten_other_small", bulk_recipients_per_hour=5)
    status, body, _ = send_bulk([f"+2246220071{n:02d}" for n in range(6)], other)
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "too_many_recipients", "to")
    assert sorted(i["tenant_id"] for i in items("BATCH#") if i["sk"] == "BATCH") == [small, small]


@pytest.fixture
def ingest_tenant(provisioned) -> Iterator[str]:
    yield tenant("ten_ingest_limited", messages_per_minute=1)


def test_given_an_ingest_request_over_the_send_limit_then_it_is_transient_and_goes_through_in_the_next_window(
    ingest_tenant, monkeypatch
):
    """The documented outcome (tamtam.ingest): not Rejected (no dead letter), nothing stored, the
    idempotency key free, so the record's next delivery is accepted once the window allows it."""
    moment = at_window_start(monkeypatch, 60)
    table, sqs = seed.table(), aws.client("sqs")

    def request(n: int) -> ingest.Ingest:
        body = {
            "tenant_id": ingest_tenant,
            "request": {"to": f"+22462200800{n}", "text": "hi"},
            "idempotency_key": f"k{n}",
        }
        return ingest.parse(json.dumps(body), message_id=f"sqs-{n}")

    assert ingest.accept(request(1), table=table, sqs=sqs)["kind"] == "message"
    with pytest.raises(RateLimited) as refused:
        ingest.accept(request(2), table=table, sqs=sqs)
    assert not isinstance(refused.value, ingest.Rejected) and refused.value.code == "send_limit"
    assert len(items("MSG#")) == 1 and len(items("IDEMPOTENCY#")) == 1
    monkeypatch.setattr(clock, "now", lambda: moment + 60)
    assert ingest.accept(request(2), table=table, sqs=sqs)["kind"] == "message"
    assert len(items("MSG#")) == 2


# -- failures on alarmed metrics -------------------------------------------------------------


@contextlib.contextmanager
def table_gone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions' table does not answer (an unexpected error for every read)."""
    name = get_settings().table_name
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    reset_settings()
    try:
        yield
    finally:
        monkeypatch.setenv("TABLE_NAME", name)
        reset_settings()


def test_given_an_unexpected_error_in_the_api_then_500_and_the_unhandled_errors_metric(
    provisioned, monkeypatch, capsys
):
    capsys.readouterr()
    with stream_paused(), table_gone(monkeypatch):  # the stream is read once the table is back
        status, body, _ = call("GET", "/v1/messages/msg_events00000000000000000001")
    assert (status, body["error"]["code"]) == (500, "internal_error")
    [document] = metric_documents(capsys, "UnhandledErrors")
    assert (document["function"], document["UnhandledErrors"]) == ("api", [1.0])
    assert dimensions(document) == [["function", "service"]]


def test_given_an_unexpected_error_in_the_webhooks_then_500_and_the_unhandled_errors_metric(
    provisioned, monkeypatch, capsys
):
    from tests.integration.test_webhooks import sent, signed

    sent()
    capsys.readouterr()
    with stream_paused(), table_gone(monkeypatch):  # the stream is read once the table is back
        answer = invoke("webhooks", signed("sms:delivered", {"messageId": seed.EVENTS_MESSAGE}))
    assert answer["statusCode"] == 500
    [document] = metric_documents(capsys, "UnhandledErrors")
    assert document["function"] == "webhooks"


def test_given_messages_ending_failed_or_unconfirmed_then_each_transition_is_counted_once(provisioned, capsys):
    table = seed.table()
    failed, unsure = seed.message(to="+224622009001"), seed.message(to="+224622009002")
    for message in (failed, unsure):
        messages.transition(table, message.id, Status.SENDING, expect={Status.QUEUED})
    messages.transition(table, failed.id, Status.FAILED, expect={Status.SENDING}, reason="invalid_number")
    messages.transition(table, unsure.id, Status.UNCONFIRMED, expect={Status.SENDING}, reason="timeout")
    capsys.readouterr()
    pump_stream()
    assert counted(capsys) == {"FailedMessages": 1, "UnconfirmedMessages": 1}
    messages.transition(table, unsure.id, Status.FAILED, expect={Status.UNCONFIRMED}, reason="no_report")
    pump_stream()
    pump_stream()  # nothing new in the stream: nothing counted again
    assert counted(capsys) == {"FailedMessages": 1, "UnconfirmedMessages": 0}


def counted(capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    """FailedMessages / UnconfirmedMessages written since the last read, summed; each document
    with the `service` dimension only (what the alarms of infra/alarms.tf watch)."""
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    out = {}
    for name in ("FailedMessages", "UnconfirmedMessages"):
        mine = [d for d in documents if "_aws" in d and name in d]
        assert all(dimensions(d) == [["service"]] for d in mine)
        out[name] = sum(sum(d[name]) for d in mine)
    return out
