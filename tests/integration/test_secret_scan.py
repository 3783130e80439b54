"""Secrets never leave their models (issue 14, point 1), against moto and the provider sandbox.

Planted values (tests/integration/secret_scan.py) go into every provider secret, the OTP pepper
and a tenant's API key; a one-time code is sent, guessed wrong and verified. Then every function
that reads a secret runs (the lifecycle function after each, on the table's stream): with working
secrets; with the providers' endpoints, token endpoints among them, echoing the credentials they
were sent (the sandbox's `echo` fault); with secrets missing a field; with bad and unsigned
webhook calls. Every log line (the functions' Logger at DEBUG, the standard loggers, stdout and
stderr), stored item, queue body (dead-letter queues included), bus event, function answer and
function error is then searched for the planted values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from local.rotation import align_moto_current, cancel_rotations, start_rotation
from local.sandbox.core import Fault
from local.sandbox.messagepro import ALL_PERMISSIONS
from local.sandbox.secrets import local_secret
from local.stack.invoker import FunctionError, forget_loaded
from tamtam import aws, clock
from tamtam.otp.settings import reset_otp_settings
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.redact import REDACTED
from tamtam.status import Status
from tamtam.store import messages
from tamtam.tenants import create_tenant
from tests.integration import seed
from tests.integration.lambdas import event, invoke
from tests.integration.secret_scan import LogLines, Needles, capture_logs, drain, items, planted, scan

NUMBERS = {"ventis": "+24106123456"}  # Ventis takes Gabon numbers; the others this one
NUMBER = "+224622000001"


@dataclass
class Planted:
    """One value per secret field; `smsgate_user` is no secret, but random so that the Basic
    credentials' base64 form is unique too."""

    passeinfo_key: str = field(default_factory=lambda: planted("pk"))
    smsgate_user: str = field(default_factory=lambda: planted("us"))
    smsgate_password: str = field(default_factory=lambda: planted("sp"))
    smsgate_signing_key: str = field(default_factory=lambda: planted("sk"))
    smsgate_access: str = field(default_factory=lambda: planted("tk"))
    smsgate_refresh: str = field(default_factory=lambda: planted("rt"))
    messagepro_secret: str = field(default_factory=lambda: planted("ms"))
    messagepro_webhook_secret: str = field(default_factory=lambda: planted("mw"))
    flowsms_password: str = field(default_factory=lambda: planted("pw"))
    ventis_password: str = field(default_factory=lambda: planted("vp"))
    ventis_client_secret: str = field(default_factory=lambda: planted("vs"))
    pepper: str = field(default_factory=lambda: planted("pp", 16))
    tenant_key: str = field(default_factory=lambda: planted("tt_", 24))
    stranger_key: str = field(default_factory=lambda: planted("tt_", 24))  # a key no tenant has

    def needles(self) -> Needles:
        needles = Needles()
        for name, value in vars(self).items():
            if name != "smsgate_user":
                needles.value(name, value)
        needles.basic("smsgate Basic credentials", self.smsgate_user, self.smsgate_password)
        return needles

    def secret(self, provider: str, url: str) -> dict[str, Any]:
        """The sandbox's secret with the planted credentials (the same fields, in their order)."""
        planted_fields = {
            "passeinfo": {"api_key": self.passeinfo_key},
            "smsgate": {"username": self.smsgate_user, "password": self.smsgate_password,
                        "webhook_signing_key": self.smsgate_signing_key},
            "messagepro": {"secret": self.messagepro_secret, "webhook_secret": self.messagepro_webhook_secret},
            "flowsms": {"password": self.flowsms_password},
            "ventis": {"client_secret": self.ventis_client_secret, "password": self.ventis_password},
        }[provider]
        return {**local_secret(provider, url), **planted_fields}

    def broken(self, provider: str, url: str) -> str:
        """The secret's text with a field missing (Message Pro: not even JSON), the planted
        values last: where pydantic's error text, cut in its middle, still shows them."""
        missing = {"passeinfo": "client_id", "smsgate": "password", "flowsms": "sender_id", "ventis": "sender"}
        if provider == "messagepro":
            return json.dumps(self.secret(provider, url))[:-1]
        return json.dumps({k: v for k, v in self.secret(provider, url).items() if k != missing[provider]})

    def accepted_by(self, sandbox: Any) -> None:
        sims = sandbox.sandbox.sims
        sims["passeinfo"].configure({"api_key": self.passeinfo_key})
        sims["smsgate"].configure({"username": self.smsgate_user, "password": self.smsgate_password})
        sims["messagepro"].configure({"secrets": {self.messagepro_secret: ALL_PERMISSIONS}})
        sims["flowsms"].configure({"password": self.flowsms_password})
        sims["ventis"].configure({"client_secret": self.ventis_client_secret, "password": self.ventis_password})
        # No final report for an hour: the messages sent first are still asked about later.
        sims["passeinfo"].configure({"sent_after": 3600.0, "delivered_after": 7200.0})
        sims["smsgate"].configure({"sent_after": 3600.0, "delivered_after": 7200.0})
        sims["messagepro"].configure({"status_delay": 3600.0})


class Run:
    """What the test ran and what came back: every answer and error, every message it made."""

    def __init__(self, provisioned: Any, sandbox: Any, values: Planted):
        self.provisioned, self.sandbox, self.values = provisioned, sandbox, values
        self.answers: list[str] = []
        self.message_ids: list[str] = []
        self.tenant_id = ""

    def call(self, function: str, payload: dict[str, Any]) -> Any:
        try:
            answer = invoke(function, payload)
        except FunctionError as exc:
            self.answers.append(f"{function} error: {exc.error_type}: {exc.error_message}")
            return exc
        self.answers.append(json.dumps(answer))
        return answer

    def put(self, provider: str, text: str) -> None:
        from aws_lambda_powertools.utilities import parameters

        secret_id = self.provisioned.secret_ids[provider]
        aws.client("secretsmanager").put_secret_value(SecretId=secret_id, SecretString=text)
        parameters.clear_caches()

    def send(self, provider: str) -> Any:
        """One message through the provider's sender."""
        msg = seed.message(to=NUMBERS.get(provider, NUMBER), provider=provider, tenant_id=self.tenant_id)
        self.message_ids.append(msg.id)
        body = {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": provider, "lane": "tx"}
        self.call("sender", seed.sqs_event([body]))
        return msg

    def api(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """A POST with `body`, else a GET, as the planted tenant."""
        ev = event("api/otp_send" if body is not None else "api/get_message")
        ev["path"], ev["pathParameters"] = path, {"proxy": path.removeprefix("/v1/")}
        ev["requestContext"]["path"] = "/v1" + path
        ev["body"] = json.dumps(body) if body is not None else None
        ev["requestContext"]["authorizer"]["tenant_id"] = self.tenant_id
        answer = self.call("api", ev)
        return answer["statusCode"], json.loads(answer["body"])

    def webhook(self, body: str, *, key: str | None = None, stamp: int | None = None, b64: bool = False) -> int:
        """A call to the webhooks function; signed with `key` when given."""
        ev = event("webhooks/smsgate_delivered")
        ev["body"] = base64.b64encode(body.encode()).decode() if b64 else body
        ev["isBase64Encoded"] = b64
        ev["headers"] = {k: v for k, v in ev["headers"].items() if k.lower() not in ("x-signature", "x-timestamp")}
        if key is not None:
            stamp = int(clock.now()) if stamp is None else stamp
            ev["headers"]["X-Timestamp"] = str(stamp)
            ev["headers"]["X-Signature"] = hmac.new(key.encode(), body.encode() + str(stamp).encode(),
                                                    hashlib.sha256).hexdigest()
        return self.call("webhooks", ev)["statusCode"]

    def messagepro_webhook(self, secret: str) -> int:
        """A Message Pro inbound webhook (form) carrying `secret`."""
        ev = event("webhooks/messagepro_sms")
        form = dict(urllib.parse.parse_qsl(ev["body"]))
        ev["body"] = urllib.parse.urlencode({**form, "secret": secret})
        return self.call("webhooks", ev)["statusCode"]

    def rotation(self, provider: str, *steps: str) -> None:
        secret_id, token = self.provisioned.secret_ids[provider], str(uuid.uuid4())
        start_rotation(aws.client("secretsmanager"), secret_id, token)
        for step in steps:
            self.call("rotation", {"Step": step, "SecretId": secret_id, "ClientRequestToken": token})

    def read_messages(self) -> None:
        """Each message as its tenant reads it (attempts and their raw texts included)."""
        for message_id in self.message_ids:
            assert self.api(f"/v1/messages/{message_id}")[0] == 200


def event_of(kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"id": "evt-scan", "webhookId": "wh", "event": kind, "deviceId": "dev", "payload": payload})


# -- the fixtures ----------------------------------------------------------------------------


@pytest.fixture
def all_logs() -> Iterator[LogLines]:
    yield from capture_logs()


@pytest.fixture
def bus_copy(provisioned: Any) -> Iterator[str]:
    """A rule copying every tamtam event of the bus to a fresh queue: what subscribers get."""
    sqs, events, bus = aws.client("sqs"), aws.client("events"), provisioned.bus_name
    name = f"scan-events-{secrets.token_hex(4)}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["tamtam"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "copy", "Arn": arn}])
    yield url
    events.remove_targets(Rule=name, EventBusName=bus, Ids=["copy"])
    events.delete_rule(Name=name, EventBusName=bus)
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def run(provisioned, sandbox, monkeypatch) -> Iterator[Run]:
    """The planted values in place: provider secrets (accepted by the sandbox), the OTP pepper,
    a tenant with the planted key. Rotations it starts are ended afterwards, and every handler
    is loaded afresh (its clients and tokens forgotten) before and after."""
    from aws_lambda_powertools.utilities import parameters

    values = Planted()
    state = Run(provisioned, sandbox, values)
    values.accepted_by(sandbox)
    for provider in PROVIDER_NAMES:
        state.put(provider, json.dumps(values.secret(provider, sandbox.url)))
    env = provisioned.function_env
    key_id = env.get("OTP_KEY_ID") or aws.client("kms").create_key(Description="otp (scan)")["KeyMetadata"]["Arn"]
    pepper_id = env.get("OTP_PEPPER_SECRET") or provisioned.otp_pepper_secret_id
    pepper = json.dumps({"pepper": values.pepper})
    aws.client("secretsmanager").put_secret_value(SecretId=pepper_id, SecretString=pepper)
    monkeypatch.setenv("OTP_KEY_ID", key_id)
    monkeypatch.setenv("OTP_PEPPER_SECRET", pepper_id)
    reset_otp_settings()
    parameters.clear_caches()
    state.tenant_id = create_tenant("scan", seed.table(), api_key=values.tenant_key).tenant_id
    forget_loaded()
    yield state
    forget_loaded()
    cancel_rotations(aws.client("secretsmanager"), [*provisioned.secret_ids.values(), provisioned.otp_pepper_secret_id])
    align_moto_current()
    reset_otp_settings()


# -- the phases ------------------------------------------------------------------------------


def working(run: Run) -> tuple[dict[str, Any], str]:
    """Every function with working secrets; the sent messages by provider, and the OTP's code."""
    sent = {provider: run.send(provider) for provider in PROVIDER_NAMES}
    assert {p: messages.get(seed.table(), m.id).status for p, m in sent.items()} == dict.fromkeys(sent, Status.SENT)
    status, body = run.api("/v1/otp", {"to": NUMBER, "length": 10})
    assert status == 202, body
    otp = seed.table().get_item(Key={"pk": f"OTP#{body['id']}", "sk": "OTP"})["Item"]
    outbox_before = len(run.sandbox.sandbox.outbox_items())
    for message_id in otp["message_ids"]:
        msg = messages.get(seed.table(), message_id)
        run.call("sender", seed.sqs_event([{"message_id": msg.id, "tenant_id": msg.tenant_id,
                                             "provider": msg.provider, "lane": "tx"}]))
    [code] = re.findall(r"(?<!\d)\d{10}(?!\d)", run.sandbox.sandbox.outbox_items()[outbox_before]["text"])
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert [run.api(f"/v1/otp/{body['id']}/verify", {"code": c})[0] for c in (wrong, code, code)] == [422, 200, 409]
    for key in (run.values.tenant_key, run.values.stranger_key):
        ev = event("authorizer/valid_key")
        ev["headers"]["Authorization"] = ev["multiValueHeaders"]["Authorization"][0] = f"Bearer {key}"
        run.call("authorizer", ev)
    delivered = event_of("sms:delivered", {"messageId": "unknown-id"})
    assert run.webhook(delivered, key=run.values.smsgate_signing_key) == 200
    assert run.call("status_poller", event("status_poller/scheduled"))["considered"] >= 1
    balances = run.call("balance_checker", event("balance_checker/scheduled"))["balances"]
    assert set(balances) == {"passeinfo", "messagepro"}
    return sent, code


def echoing(run: Run) -> None:
    """Provider endpoints answering with the request they got: the static keys' endpoints, the
    login and token endpoints (a 401, or a 200 that is no token answer), SMSGate in JWT mode
    renewing its planted tokens."""
    values, url = run.values, run.sandbox.url
    run.put("smsgate", json.dumps({**values.secret("smsgate", url), "access_token": values.smsgate_access,
                                   "refresh_token": values.smsgate_refresh, "token_id": "tok-scan"}))
    forget_loaded()  # a cold start: no token from the working phase
    faults = [("passeinfo", Fault("echo", status=401)), ("messagepro", Fault("echo", status=400)),
              ("flowsms", Fault("echo", status=200, match="token/")),
              ("ventis", Fault("echo", status=401, match="/token")),
              ("smsgate", Fault("echo", status=200, match="auth/token")),  # renewing the planted pair
              ("smsgate", Fault("echo", status=200, match="/messages/"))]  # a status query, answered 200
    for provider, fault in faults:
        run.sandbox.sandbox.set_fault(provider, fault)
    for provider in PROVIDER_NAMES:
        run.send(provider)
    run.call("status_poller", event("status_poller/scheduled"))
    assert isinstance(run.call("balance_checker", event("balance_checker/scheduled")), FunctionError)
    for provider in ("passeinfo", "flowsms", "ventis"):
        run.rotation(provider, "createSecret", "testSecret")
    run.read_messages()
    run.sandbox.sandbox.clear_faults()


def broken(run: Run) -> None:
    """Secrets missing a field (one not even JSON): senders, poller, balance checker, rotation,
    and anonymous webhook calls, which reach the secret before any signature is checked."""
    for provider in PROVIDER_NAMES:
        run.put(provider, run.values.broken(provider, run.sandbox.url))
    for provider in PROVIDER_NAMES:
        run.send(provider)
    run.call("status_poller", event("status_poller/scheduled"))
    assert isinstance(run.call("balance_checker", event("balance_checker/scheduled")), FunctionError)
    anonymous = [run.webhook(event_of("sms:delivered", {"messageId": "x"})),
                 run.webhook(event_of("sms:delivered", {"messageId": "x"}), key="forged-key"),
                 run.webhook("{not json", key="forged-key", b64=True)]
    anonymous.append(run.messagepro_webhook("forged-secret"))
    assert anonymous == [500, 500, 500, 500]
    run.rotation("messagepro", "createSecret")
    run.rotation("smsgate", "createSecret")
    run.read_messages()


def bad_webhooks(run: Run, smsgate_message: str) -> None:
    """The working SMSGate secret back; calls unsigned, forged, stale, not JSON, not an event,
    not base64; and a signed failure report whose words carry a credential."""
    key = run.values.smsgate_signing_key
    run.put("smsgate", json.dumps(run.values.secret("smsgate", run.sandbox.url)))
    delivered = event_of("sms:delivered", {"messageId": smsgate_message})
    answers = [run.webhook(delivered), run.webhook(delivered, key="forged-key"),
               run.webhook(delivered, key=key, stamp=int(clock.now()) - 3600), run.webhook("{not json", key=key),
               run.webhook(event_of("sms:delivered", {}), key=key)]
    ev = event("webhooks/smsgate_delivered")
    ev.update(body="%%% not base64", isBase64Encoded=True)
    answers.append(run.call("webhooks", ev)["statusCode"])
    assert answers == [401, 401, 401, 400, 422, 400]
    basic = base64.b64encode(f"{run.values.smsgate_user}:{run.values.smsgate_password}".encode()).decode()
    words = f"device error; Authorization: Basic {basic}; api_key={run.values.passeinfo_key}"
    failed = event_of("sms:failed", {"messageId": smsgate_message, "reason": words})
    assert run.webhook(failed, key=key) == 200
    run.put("messagepro", json.dumps(run.values.secret("messagepro", run.sandbox.url)))
    assert [run.messagepro_webhook(s) for s in ("forged-secret", run.values.messagepro_webhook_secret)] == [401, 200]


def the_others(run: Run) -> None:
    """The functions that read no secret, with their events/ files: what they log is scanned too."""
    for function, name in (("ingest", "sqs_request"), ("ingest", "eventbridge_request"), ("fanout", "chunk"),
                           ("finalizer", "dead_letter"), ("scheduler", "scheduled"), ("sweeper", "scheduled")):
        run.call(function, event(f"{function}/{name}"))


# -- the test --------------------------------------------------------------------------------


def test_given_planted_secrets_when_every_function_meets_them_working_echoed_and_broken_then_none_is_anywhere(
    run, provisioned, bus_copy, all_logs, caplog, capfd
):
    caplog.set_level(logging.INFO)
    sent, code = working(run)
    echoing(run)
    broken(run)
    bad_webhooks(run, sent["smsgate"].id)
    the_others(run)

    needles = run.values.needles()
    needles.pattern("one-time code", rf"(?<!\d){code}(?!\d)")
    out, err = capfd.readouterr()
    places = {
        "log lines": all_logs.lines + caplog.text.splitlines() + out.splitlines() + err.splitlines(),
        "stored items": items(seed.table()),
        "queue bodies": [body for url in provisioned.queue_urls.values() for body in drain(aws.client("sqs"), url)],
        "bus events": drain(aws.client("sqs"), bus_copy),
        "function answers and errors": run.answers,
    }
    # The scan saw what it had to: the paths that used to leak ran, echoes reached storage.
    logged = "\n".join(places["log lines"])
    assert "balance not read" in logged and "no client for a provider" in logged
    stored = "\n".join(places["stored items"])
    assert "request_echo" in stored and "[redacted]" in stored
    assert places["queue bodies"] and places["bus events"]
    assert sum(answer.startswith("rotation error") for answer in run.answers) == 6

    assert scan(needles, places) == {place: [] for place in places}


# -- the scan itself -------------------------------------------------------------------------


def test_given_a_secret_logged_on_purpose_then_the_scan_finds_it(all_logs):
    """The capture and the scan catch what a function would log: a value in a log line's keys,
    and one in a traceback, where pydantic's error text (input not hidden) shows it in part."""
    from pydantic import BaseModel

    from tamtam.observability import logger

    values = Planted()

    class Unhidden(BaseModel):
        client_id: str
        api_key: str

    logger.info("provider answered", extra={"provider": "passeinfo", "header": f"Api-Key {values.passeinfo_key}"})
    try:
        Unhidden.model_validate({"base_url": "http://127.0.0.1:1/passeinfo", "api_key": values.passeinfo_key})
    except ValueError:
        logger.exception("no client")
    basic = base64.b64encode(f"{values.smsgate_user}:{values.smsgate_password}".encode()).decode()
    planted_texts = [f"Authorization: Basic {basic}", f"api_key={REDACTED}", f'"prefix": "{values.tenant_key[:11]}"',
                     values.ventis_password[:-5]]
    leaks = scan(values.needles(), {"log lines": all_logs.lines, "planted": planted_texts})
    assert [leak.split(":")[0] for leak in leaks["log lines"]] == ["passeinfo_key", "passeinfo_key"]
    # Basic credentials are found; a redacted value, a key's display prefix (8 of its 24 random
    # characters) are not; a value cut to 9 of its 14 random characters is, by design, not either.
    assert [leak.split(":")[0] for leak in leaks["planted"]] == ["smsgate Basic credentials"]
