"""The rotation function's four steps against moto (which cannot call the function itself: the
test plays Secrets Manager) and the provider sandbox: PasseInfo key renewal, SMSGate tokens,
credential re-checks; repeated steps, failing steps, and senders meeting a rotated key."""

from __future__ import annotations

import json
import uuid

import pytest

from local.rotation import STEPS, align_moto_current, cancel_rotations, start_rotation
from local.sandbox.core import Fault
from local.stack.invoker import FunctionError
from tamtam import aws
from tamtam.providers.base import AuthError
from tamtam.providers.passeinfo import PasseInfoClient
from tamtam.providers.smsgate import SmsGateClient
from tamtam.status import Status
from tamtam.store import messages
from tests.integration import seed
from tests.integration.lambdas import invoke


@pytest.fixture(autouse=True)
def _no_rotation_reaches_the_next_test(provisioned):
    yield
    cancel_rotations(sm(), [*provisioned.secret_ids.values(), provisioned.otp_pepper_secret_id])
    align_moto_current()  # before the next test puts fresh values (see align_moto_current)


def sm():
    return aws.client("secretsmanager")


def secret_id(provisioned, provider: str) -> str:
    return provisioned.secret_ids[provider]


def step(provisioned, provider: str, token: str, name: str) -> None:
    invoke("rotation", {"Step": name, "SecretId": secret_id(provisioned, provider), "ClientRequestToken": token})


def start(provisioned, provider: str) -> str:
    token = str(uuid.uuid4())
    start_rotation(sm(), secret_id(provisioned, provider), token)
    return token


def rotate(provisioned, provider: str, steps: tuple[str, ...] = STEPS) -> str:
    token = start(provisioned, provider)
    for name in steps:
        step(provisioned, provider, token, name)
    return token


def value(provisioned, provider: str, **version: str) -> dict:
    version = version or {"VersionStage": "AWSCURRENT"}
    return json.loads(sm().get_secret_value(SecretId=secret_id(provisioned, provider), **version)["SecretString"])


def current_version(provisioned, provider: str) -> str:
    stages = sm().describe_secret(SecretId=secret_id(provisioned, provider))["VersionIdsToStages"]
    return next(v for v, labels in stages.items() if "AWSCURRENT" in labels)


def put(provisioned, provider: str, secret: dict) -> None:
    sm().put_secret_value(SecretId=secret_id(provisioned, provider), SecretString=json.dumps(secret))


def body(msg) -> dict:
    return {"message_id": msg.id, "tenant_id": msg.tenant_id, "provider": msg.provider, "lane": "tx"}


# -- PasseInfo: the key is renewed ----------------------------------------------------------------


def test_given_a_passeinfo_rotation_then_the_renewed_key_becomes_current_and_the_old_one_is_dead(provisioned, sandbox):
    old = value(provisioned, "passeinfo")
    old_version = current_version(provisioned, "passeinfo")
    token = start(provisioned, "passeinfo")

    step(provisioned, "passeinfo", token, "createSecret")
    pending = value(provisioned, "passeinfo", VersionId=token, VersionStage="AWSPENDING")
    assert pending["api_key"] != old["api_key"]
    assert {k: v for k, v in pending.items() if k != "api_key"} == {k: v for k, v in old.items() if k != "api_key"}
    assert value(provisioned, "passeinfo") == old  # nothing current moved yet
    with pytest.raises(AuthError):  # PasseInfo refuses the old key at once
        PasseInfoClient.from_secret(old).balance()

    for name in ("setSecret", "testSecret", "finishSecret"):
        step(provisioned, "passeinfo", token, name)
    assert value(provisioned, "passeinfo") == pending
    stages = sm().describe_secret(SecretId=secret_id(provisioned, "passeinfo"))["VersionIdsToStages"]
    assert stages[token] == ["AWSCURRENT"] and stages[old_version] == ["AWSPREVIOUS"]  # nothing left pending
    assert PasseInfoClient.from_secret(pending).balance() is not None
    assert sandbox.sandbox.sims["passeinfo"].renewals == 1


def test_given_each_step_repeated_then_the_key_is_renewed_once_and_the_result_is_the_same(provisioned, sandbox):
    token = start(provisioned, "passeinfo")
    for name in STEPS:
        step(provisioned, "passeinfo", token, name)
        step(provisioned, "passeinfo", token, name)  # Secrets Manager retries a step: harmless
    step(provisioned, "passeinfo", token, "createSecret")  # even after the rotation finished

    assert sandbox.sandbox.sims["passeinfo"].renewals == 1
    assert value(provisioned, "passeinfo") == value(provisioned, "passeinfo", VersionId=token)
    assert PasseInfoClient.from_secret(value(provisioned, "passeinfo")).balance() is not None


def test_given_a_failing_test_step_then_current_stays_and_senders_still_send_with_the_pending_key(provisioned, sandbox):
    old_version = current_version(provisioned, "passeinfo")
    token = start(provisioned, "passeinfo")
    step(provisioned, "passeinfo", token, "createSecret")
    step(provisioned, "passeinfo", token, "setSecret")
    sandbox.sandbox.set_fault("passeinfo", Fault(mode="error", status=503, match="get_solde"))

    with pytest.raises(FunctionError):
        step(provisioned, "passeinfo", token, "testSecret")

    assert current_version(provisioned, "passeinfo") == old_version
    msg = seed.message(provider="passeinfo")
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT


def test_given_a_sender_holding_the_old_key_when_the_rotation_finished_then_it_refetches_and_sends(
    provisioned, sandbox
):
    first = seed.message(provider="passeinfo")
    invoke("sender", seed.sqs_event([body(first)]))  # the sender now holds the key (cached)
    rotate(provisioned, "passeinfo")

    later = seed.message(provider="passeinfo")
    assert invoke("sender", seed.sqs_event([body(later)])) == {"batchItemFailures": []}

    assert messages.get(seed.table(), later.id).status == Status.SENT
    assert [o["provider_message_id"] for o in sandbox.sandbox.outbox_items(provider="passeinfo")][-1] == (
        messages.get(seed.table(), later.id).provider_message_id)


def test_given_a_rotation_in_flight_when_a_sender_holds_the_old_key_then_it_sends_with_the_pending_one(
    provisioned, sandbox
):
    first = seed.message(provider="passeinfo")
    invoke("sender", seed.sqs_event([body(first)]))
    old_version = current_version(provisioned, "passeinfo")
    rotate(provisioned, "passeinfo", steps=("createSecret",))  # renewed, not yet current

    later = seed.message(provider="passeinfo")
    assert invoke("sender", seed.sqs_event([body(later)])) == {"batchItemFailures": []}

    assert messages.get(seed.table(), later.id).status == Status.SENT
    assert current_version(provisioned, "passeinfo") == old_version
    assert len(sandbox.sandbox.outbox_items(provider="passeinfo")) == 2


def test_given_a_broken_passeinfo_secret_then_create_fails_naming_fields_never_values(provisioned, sandbox):
    put(provisioned, "passeinfo", {"base_url": f"{sandbox.url}/passeinfo", "api_key": "do-not-print-me-0123"})
    token = start(provisioned, "passeinfo")

    with pytest.raises(FunctionError) as failed:
        step(provisioned, "passeinfo", token, "createSecret")

    assert "client_id" in failed.value.error_message
    assert "do-not-print-me" not in failed.value.error_message
    assert sandbox.sandbox.sims["passeinfo"].renewals == 0


# -- SMSGate: JWT tokens are renewed and the old pair revoked --------------------------------------


def _jwt_secret(provisioned, sandbox) -> dict:
    basic = value(provisioned, "smsgate")
    pair = SmsGateClient.from_secret(basic).issue_token()
    secret = {**basic, "access_token": pair.access_token.get_secret_value(),
              "refresh_token": pair.refresh_token.get_secret_value(), "token_id": pair.id}
    put(provisioned, "smsgate", secret)
    return secret


def test_given_smsgate_tokens_then_a_new_pair_becomes_current_and_the_old_pair_is_revoked(provisioned, sandbox):
    old = _jwt_secret(provisioned, sandbox)
    token = rotate(provisioned, "smsgate")
    step(provisioned, "smsgate", token, "finishSecret")  # repeated: revokes again, harmlessly

    new = value(provisioned, "smsgate")
    assert new["token_id"] != old["token_id"] and new["access_token"] != old["access_token"]
    tokens = sandbox.sandbox.sims["smsgate"].tokens
    assert tokens[old["token_id"]]["revoked"] and not tokens[new["token_id"]]["revoked"]
    with pytest.raises(AuthError):
        SmsGateClient.from_secret(
            {k: v for k, v in old.items() if k not in ("username", "password")}
        ).check_credentials()
    msg = seed.message(provider="smsgate")
    assert invoke("sender", seed.sqs_event([body(msg)])) == {"batchItemFailures": []}
    assert messages.get(seed.table(), msg.id).status == Status.SENT


def test_given_smsgate_with_basic_credentials_only_then_the_rotation_rechecks_them(provisioned, sandbox):
    before = value(provisioned, "smsgate")
    token = rotate(provisioned, "smsgate")
    assert current_version(provisioned, "smsgate") == token
    assert value(provisioned, "smsgate") == before
    assert sandbox.sandbox.sims["smsgate"].tokens == {}


# -- FLOW SMS, Ventis, Message Pro: passwords are re-checked -------------------------------------


@pytest.mark.parametrize("provider", ["flowsms", "ventis", "messagepro"])
def test_given_working_credentials_then_the_recheck_passes_and_the_same_value_is_current(
    provisioned, sandbox, provider
):
    before = value(provisioned, provider)
    token = rotate(provisioned, provider)
    assert current_version(provisioned, provider) == token
    assert value(provisioned, provider) == before


@pytest.mark.parametrize("provider", ["flowsms", "ventis", "messagepro"])
def test_given_stored_credentials_the_provider_refuses_then_the_rotation_fails_loudly(provisioned, sandbox, provider):
    field = "secret" if provider == "messagepro" else "password"
    put(provisioned, provider, {**value(provisioned, provider), field: "changed-at-the-provider"})
    bad_version = current_version(provisioned, provider)
    token = start(provisioned, provider)
    step(provisioned, provider, token, "createSecret")
    step(provisioned, provider, token, "setSecret")

    with pytest.raises(FunctionError) as failed:
        step(provisioned, provider, token, "testSecret")

    assert failed.value.error_type in ("AuthError", "PermanentError")
    assert "changed-at-the-provider" not in failed.value.error_message
    assert current_version(provisioned, provider) == bad_version


# -- the staging-label guard ----------------------------------------------------------------------


def test_given_a_token_that_is_not_pending_then_every_step_refuses(provisioned, sandbox):
    start(provisioned, "flowsms")  # rotation enabled, another version pending
    for name in STEPS:
        with pytest.raises(FunctionError, match="no stage for rotation"):
            step(provisioned, "flowsms", str(uuid.uuid4()), name)


def test_given_a_secret_that_is_no_provider_s_then_the_rotation_refuses(provisioned, sandbox):
    pepper = provisioned.otp_pepper_secret_id
    sm().put_secret_value(SecretId=pepper, SecretString="0" * 64)
    token = str(uuid.uuid4())
    start_rotation(sm(), pepper, token)
    with pytest.raises(FunctionError, match="not a provider secret"):
        invoke("rotation", {"Step": "createSecret", "SecretId": pepper, "ClientRequestToken": token})
