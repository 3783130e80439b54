"""One-time codes end to end on moto and the provider sandbox: the api function (events/api/
otp_*.json), the sender rendering the code in memory, verification with counted attempts, the
resend through the next provider, the send limits, and that the code is never at rest.

Until infra/ + template.yaml wire OTP_KEY_ID and OTP_PEPPER_SECRET, the `otp` fixture creates
the OTP key in moto and gives the pepper secret (declared by infra/) a value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tamtam import aws, clock
from tamtam.otp.settings import reset_otp_settings
from tamtam.settings import get_settings
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.lambdas import event, invoke


@pytest.fixture
def otp(provisioned, monkeypatch) -> Iterator[dict[str, str]]:
    """OTP_KEY_ID and OTP_PEPPER_SECRET: the provisioned ones when the stack provides them,
    else a fresh KMS key and the (empty) pepper secret infra/ declares, given a value."""
    from aws_lambda_powertools.utilities import parameters

    env = provisioned.function_env
    key_id = (
        env.get("OTP_KEY_ID") or aws.client("kms").create_key(Description="tamtam otp (test)")["KeyMetadata"]["Arn"]
    )
    pepper_id = env.get("OTP_PEPPER_SECRET") or provisioned.otp_pepper_secret_id
    pepper = secrets.token_hex(32)
    aws.client("secretsmanager").put_secret_value(SecretId=pepper_id, SecretString=json.dumps({"pepper": pepper}))
    monkeypatch.setenv("OTP_KEY_ID", key_id)
    monkeypatch.setenv("OTP_PEPPER_SECRET", pepper_id)
    reset_otp_settings()
    parameters.clear_caches()
    yield {"key_id": key_id, "pepper": pepper}
    reset_otp_settings()


class Api:
    """The api function called as API Gateway would; keeps every answer (for the leak test)."""

    def __init__(self, tenant: str = seed.EVENTS_TENANT):
        self.tenant = tenant
        self.answers: list[dict[str, Any]] = []

    def call(self, path: str, body: dict[str, Any] | None, *, tenant: str | None = None) -> tuple[int, dict, dict]:
        ev = event("api/otp_send")
        ev["path"] = path
        ev["pathParameters"] = {"proxy": path.removeprefix("/v1/")}
        ev["requestContext"]["path"] = "/v1" + path
        ev["body"] = json.dumps(body) if body is not None else None
        ev["requestContext"]["authorizer"]["tenant_id"] = tenant or self.tenant
        answer = invoke("api", ev)
        self.answers.append(answer)
        headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
        headers.update({k.lower(): v[0] for k, v in (answer.get("multiValueHeaders") or {}).items()})
        return answer["statusCode"], json.loads(answer["body"]), headers

    def send(self, to: str = "+224622000001", **fields: Any) -> tuple[int, dict, dict]:
        return self.call("/v1/otp", {"to": to, **fields})

    def verify(self, otp_id: str, code: str, **kw: Any) -> tuple[int, dict, dict]:
        return self.call(f"/v1/otp/{otp_id}/verify", {"code": code}, **kw)

    def resend(self, otp_id: str, **kw: Any) -> tuple[int, dict, dict]:
        return self.call(f"/v1/otp/{otp_id}/resend", None, **kw)


def otp_record(otp_id: str) -> dict[str, Any]:
    return seed.table().get_item(Key={"pk": f"OTP#{otp_id}", "sk": "OTP"})["Item"]


def last_message(otp_id: str):
    return messages.get(seed.table(), otp_record(otp_id)["message_ids"][-1])


def deliver(otp_id: str) -> dict[str, Any]:
    """Run the sender on the OTP's last message, as its provider queue would."""
    msg = last_message(otp_id)
    body = {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": msg.provider, "lane": "tx"}
    return invoke("sender", seed.sqs_event([body]))


def code_in(text: str, length: int = 6) -> str:
    found = re.findall(rf"(?<!\d)\d{{{length}}}(?!\d)", text)
    assert len(found) == 1, text
    return found[0]


def wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


def mark(message_id: str, status: Status) -> None:
    """The delivery report of a sent message (what webhooks or the status poller record)."""
    assert messages.transition(seed.table(), message_id, status, expect={Status.SENT}, reason="report") is not None


def move_clock(monkeypatch: Any, seconds: int) -> None:
    later = time.time() + seconds
    monkeypatch.setattr(clock, "now", lambda: later)


@pytest.fixture
def api() -> Api:
    return Api()


def sent(api: Api, to: str = "+224622000001", **fields: Any) -> str:
    status, body, _ = api.send(to, **fields)
    assert status == 202, body
    return body["id"]


def delivered_code(otp_id: str, sandbox: Any, *, length: int = 6) -> str:
    """Send the OTP's last message through its provider; the code as the phone received it."""
    provider = last_message(otp_id).provider
    assert deliver(otp_id) == {"batchItemFailures": []}
    return code_in(sandbox.sandbox.outbox_items(provider=provider)[-1]["text"], length)


def test_given_the_send_event_then_202_and_only_a_hash_and_a_sealed_copy_are_stored(otp, sandbox):
    answer = invoke("api", event("api/otp_send"))
    assert answer["statusCode"] == 202
    body = json.loads(answer["body"])
    assert set(body) == {"id", "to", "channel", "expires_at", "status"}
    assert (body["to"], body["channel"], body["status"]) == ("+224622000001", "sms", "pending")
    stored = otp_record(body["id"])
    msg = last_message(body["id"])
    assert (msg.otp_id, msg.status, msg.provider) == (body["id"], "queued", "passeinfo")
    assert msg.text == "Votre code de vérification est {{code}}. Il expire dans 5 min. Ne le partagez avec personne."
    assert stored["text"] == msg.text and len(stored["code_hash"]) == 64 and stored["code_sealed"]
    code = delivered_code(body["id"], sandbox)
    keyed = hmac.new(otp["pepper"].encode(), f"{body['id']}:{code}".encode(), hashlib.sha256).hexdigest()
    assert stored["code_hash"] == keyed and code not in json.dumps(stored, default=str)
    assert sandbox.sandbox.outbox_items()[-1]["text"] == msg.text.replace("{{code}}", code)


def test_given_the_delivered_code_then_approved_once_and_409_after(otp, sandbox, api):
    otp_id = sent(api, locale="en", length=8)
    code = delivered_code(otp_id, sandbox, length=8)
    assert sandbox.sandbox.outbox_items()[-1]["text"].startswith("Your verification code is ")
    status, body, _ = api.verify(otp_id, code)
    assert (status, body) == (200, {"id": otp_id, "status": "approved"})
    status, body, _ = api.verify(otp_id, code)
    assert (status, body["error"]["code"]) == (409, "otp_already_used")


def test_given_five_wrong_codes_then_locked_and_the_right_code_is_refused(otp, sandbox, api):
    otp_id = sent(api)
    code = delivered_code(otp_id, sandbox)
    lefts = []
    for _ in range(5):
        status, body, _ = api.verify(otp_id, wrong(code))
        assert status == 422 and body["status"] == "rejected"
        assert body["error"] == {"code": "code_mismatch", "message": body["error"]["message"], "field": "code"}
        lefts.append(body["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    status, body, _ = api.verify(otp_id, code)
    assert (status, body["error"]["code"]) == (429, "otp_locked")
    assert int(otp_record(otp_id)["attempts"]) == 5


class _Atomic:
    """DynamoDB applies each request atomically; moto's server checks a condition and writes in
    steps that threads interleave. One lock per request restores exactly that guarantee: the
    threads still race between requests (read, count, compare, approve)."""

    _lock = threading.Lock()

    def __init__(self, table: Any):
        self._table = table

    def get_item(self, **kw: Any) -> Any:
        with self._lock:
            return self._table.get_item(**kw)

    def update_item(self, **kw: Any) -> Any:
        with self._lock:
            return self._table.update_item(**kw)


def test_given_parallel_guesses_then_never_more_than_the_allowed_attempts(otp, sandbox):
    from tamtam.otp import keys
    from tamtam.otp.errors import CodeRejected, OtpLocked
    from tamtam.otp.logic import verify_otp

    otp_id = sent(Api())
    code = delivered_code(otp_id, sandbox)
    pepper = keys.pepper()
    barrier = threading.Barrier(20)

    def guess(_: int) -> str:
        table = _Atomic(boto3.resource("dynamodb").Table(seed.table().name))  # a resource per thread
        barrier.wait()
        try:
            verify_otp(otp_id, seed.EVENTS_TENANT, wrong(code), table=table, pepper=pepper)
        except CodeRejected:
            return "rejected"
        except OtpLocked:
            return "locked"
        return "approved"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(guess, range(20)))
    assert outcomes.count("rejected") == 5 and outcomes.count("locked") == 15
    assert int(otp_record(otp_id)["attempts"]) == 5
    with pytest.raises(OtpLocked):
        verify_otp(otp_id, seed.EVENTS_TENANT, code, table=seed.table(), pepper=pepper)


def test_given_time_past_the_ttl_then_410_even_before_dynamodb_deletes_it(otp, sandbox, api, monkeypatch):
    otp_id = sent(api, ttl=60)
    code = delivered_code(otp_id, sandbox)
    move_clock(monkeypatch, 61)
    for answer in (api.verify(otp_id, code), api.resend(otp_id)):
        assert (answer[0], answer[1]["error"]["code"]) == (410, "otp_expired")
    assert otp_record(otp_id)["status"] == "pending"  # still there: moto never applies the TTL


def test_given_an_expired_code_still_queued_then_the_sender_fails_it_without_sending(otp, sandbox, api, monkeypatch):
    otp_id = sent(api, ttl=60)
    move_clock(monkeypatch, 61)
    assert deliver(otp_id) == {"batchItemFailures": []}  # recorded failed: nothing to retry
    msg = last_message(otp_id)
    assert (msg.status, msg.reason) == ("failed", "otp_expired")
    assert deliver(otp_id) == {"batchItemFailures": []}  # a redelivery finds it final
    assert sandbox.sandbox.outbox_items() == []


def test_given_another_tenant_then_404_exactly_like_an_unknown_code(otp, sandbox, api):
    otp_id = sent(api)
    code = delivered_code(otp_id, sandbox)
    other = api.verify(otp_id, code, tenant="ten_someoneelse")
    unknown_event = event("api/otp_verify")
    unknown = invoke("api", unknown_event)
    assert other[0] == unknown["statusCode"] == 404
    assert other[1] == json.loads(unknown["body"])
    assert api.resend(otp_id, tenant="ten_someoneelse")[0] == 404
    assert api.verify(otp_id, code)[0] == 200  # the other tenant's tries cost nothing


def test_given_a_sixth_send_to_one_number_within_15_minutes_then_429_with_retry_after(otp, api):
    for _ in range(5):
        sent(api, to="+224622000009")
    status, body, headers = api.send("+224622000009")
    assert (status, body["error"]["code"], body["error"]["field"]) == (429, "otp_phone_limit", "to")
    assert 1 <= int(headers["retry-after"]) <= 900
    assert sent(api, to="+224622000010")  # another number is not limited


def test_given_the_tenant_daily_limit_then_429_until_midnight(otp, api, monkeypatch):
    monkeypatch.setenv("OTP_TENANT_DAILY_MAX_SENDS", "2")
    reset_otp_settings()
    sent(api, to="+224622000011")
    sent(api, to="+224622000012")
    status, body, headers = api.send("+224622000013")
    assert (status, body["error"]["code"]) == (429, "otp_tenant_limit")
    assert 1 <= int(headers["retry-after"]) <= 86400
    assert Api(tenant="ten_another").send("+224622000013")[0] == 202


def test_given_an_allow_list_then_other_countries_are_refused(otp, api):
    seed.table().put_item(Item={"pk": f"TENANT#{seed.EVENTS_TENANT}", "sk": "TENANT", "name": "events",
                                "otp_allowed_prefixes": ["+224"]})
    assert sent(api, to="+224622000001")
    status, body, _ = api.send("+24106123456")
    assert (status, body["error"]["code"], body["error"]["field"]) == (403, "destination_not_allowed", "to")


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [({"template": "Bonjour"}, "invalid_template", "template"), ({"length": 3}, "invalid_value", "length"),
     ({"ttl": 1801}, "invalid_value", "ttl"), ({"locale": "de"}, "invalid_value", "locale")],
)
def test_given_a_bad_request_then_422_and_nothing_is_counted_or_stored(otp, api, fields, code, field):
    status, body, _ = api.send("+224622000001", **fields)
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, code, field)
    assert seed.table().scan(Select="COUNT")["Count"] == 0


def test_given_a_malformed_code_then_422_and_no_attempt_is_counted(otp, api):
    otp_id = sent(api)
    status, body, _ = api.verify(otp_id, "12ab56")
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "invalid_value", "code")
    assert int(otp_record(otp_id)["attempts"]) == 0


def test_given_openapi_then_the_otp_routes_and_answers_are_documented(otp):
    doc = json.loads(invoke("api", event("api/openapi"))["body"])
    assert {"/v1/otp", "/v1/otp/{otp_id}/verify", "/v1/otp/{otp_id}/resend"} <= set(doc["paths"])
    assert {"OtpSendIn", "OtpAccepted", "OtpVerifyIn", "OtpVerified"} <= set(doc["components"]["schemas"])
    assert set(doc["paths"]["/v1/otp/{otp_id}/verify"]["post"]["responses"]) >= {
        "200",
        "404",
        "409",
        "410",
        "422",
        "429",
    }


def test_given_a_failed_first_message_then_the_resend_goes_through_the_next_provider_with_the_same_code(
    otp, sandbox, api, monkeypatch
):
    otp_id = sent(api, template="Code Acme: {{code}}")
    first = delivered_code(otp_id, sandbox)
    status, body, headers = api.resend(otp_id)
    assert (status, body["error"]["code"]) == (429, "otp_cooldown") and 1 <= int(headers["retry-after"]) <= 30
    mark(last_message(otp_id).id, Status.FAILED)
    move_clock(monkeypatch, 31)
    status, body, _ = api.resend(otp_id)
    assert (status, body["id"], body["status"]) == (202, otp_id, "pending")
    again = last_message(otp_id)
    assert (again.provider, again.route, again.text) == (
        "messagepro",
        ["messagepro", "smsgate", "passeinfo"],
        "Code Acme: {{code}}",
    )
    assert delivered_code(otp_id, sandbox) == first
    assert [o["provider"] for o in sandbox.sandbox.outbox_items()] == ["passeinfo", "messagepro"]
    assert api.verify(otp_id, first)[0] == 200


def test_given_passeinfo_refusing_then_failover_and_resend_carry_the_same_code_and_it_verifies(
    otp, sandbox, api, monkeypatch
):
    from local.sandbox.core import Fault

    sandbox.sandbox.set_fault("passeinfo", Fault(mode="reject", reason="auth_failed"))
    otp_id = sent(api)
    assert deliver(otp_id) == {"batchItemFailures": []}  # passeinfo refuses: the sender fails over
    assert (last_message(otp_id).provider, last_message(otp_id).status) == ("messagepro", "queued")
    code = delivered_code(otp_id, sandbox)  # through messagepro
    move_clock(monkeypatch, 31)
    assert api.resend(otp_id)[0] == 202  # `sent`, never reported delivered: the next provider
    assert last_message(otp_id).provider == "smsgate"
    assert delivered_code(otp_id, sandbox) == code
    assert [o["provider"] for o in sandbox.sandbox.outbox_items()] == ["messagepro", "smsgate"]
    assert api.verify(otp_id, code)[0] == 200


def test_given_a_delivered_message_then_the_resend_stays_with_the_same_provider(otp, sandbox, api, monkeypatch):
    otp_id = sent(api)
    code = delivered_code(otp_id, sandbox)
    mark(last_message(otp_id).id, Status.DELIVERED)
    move_clock(monkeypatch, 31)
    assert api.resend(otp_id)[0] == 202
    assert last_message(otp_id).provider == "passeinfo"
    assert delivered_code(otp_id, sandbox) == code


def test_given_a_sealed_code_copied_to_another_record_then_it_does_not_decrypt(otp, sandbox, api):
    victim, thief = sent(api, to="+224622000021"), sent(api, to="+224622000022")
    sealed = otp_record(victim)["code_sealed"]
    seed.table().update_item(Key={"pk": f"OTP#{thief}", "sk": "OTP"}, UpdateExpression="SET code_sealed = :c",
                             ExpressionAttributeValues={":c": sealed})
    assert deliver(thief) == {"batchItemFailures": [{"itemIdentifier": "id-0"}]}
    assert sandbox.sandbox.outbox_items() == []


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs(caplog) -> Iterator[_Lines]:
    """Every log line, formatted as it would leave the function: our Powertools logger (at
    DEBUG, its own formatter: the extra keys included) and the standard loggers at INFO."""
    from tamtam.observability import logger

    lines = _Lines()
    lines.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)


@pytest.fixture
def bus_copy(provisioned: Any) -> Iterator[str]:
    """A rule on the bus copying every tamtam event to a fresh queue: what subscribers get."""
    sqs, events, bus = aws.client("sqs"), aws.client("events"), provisioned.bus_name
    name = f"otp-events-{secrets.token_hex(4)}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["tamtam"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "copy", "Arn": arn}])
    yield url
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["copy"])
    events.delete_rule(Name=name, EventBusName=bus)
    sqs.delete_queue(QueueUrl=url)


def _drain(url: str) -> list[str]:
    sqs, bodies = aws.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
        bodies += [m["Body"] for m in batch]
    return bodies


def test_given_a_whole_otp_flow_then_the_code_is_in_no_log_item_queue_event_or_answer(
    otp, sandbox, api, monkeypatch, provisioned, bus_copy, all_logs, caplog, capfd
):
    otp_id = sent(api, length=10)
    code = delivered_code(otp_id, sandbox, length=10)
    assert api.verify(otp_id, wrong(code))[0] == 422
    mark(last_message(otp_id).id, Status.FAILED)
    move_clock(monkeypatch, 31)
    assert api.resend(otp_id)[0] == 202
    assert delivered_code(otp_id, sandbox, length=10) == code
    assert [api.verify(otp_id, code)[0], api.verify(otp_id, code)[0]] == [200, 409]
    read = event("api/get_message")
    read["path"] = f"/v1/messages/{last_message(otp_id).id}"
    api.answers.append(invoke("api", read))

    found = {
        "log lines": all_logs.lines + [r.getMessage() for r in caplog.records] + list(capfd.readouterr()),
        "stored items": [json.dumps(i, default=str) for i in seed.table().scan()["Items"]],
        "queue bodies": [
            b for url in {**get_settings().queue_urls, **provisioned.queue_urls}.values() for b in _drain(url)
        ],
        "bus events": _drain(bus_copy),
        "api answers": [json.dumps(a) for a in api.answers],
    }
    assert any(otp_id in line for line in found["log lines"]), "the log capture saw nothing"
    assert any(otp_id in item for item in found["stored items"]) and found["bus events"] and found["queue bodies"]
    assert all(code in o["text"] for o in sandbox.sandbox.outbox_items())  # the phone got it, and only the phone
    pattern = re.compile(rf"(?<!\d){code}(?!\d)")
    leaks = {where: [t[:200] for t in texts if pattern.search(t)] for where, texts in found.items()}
    assert leaks == {where: [] for where in found}
