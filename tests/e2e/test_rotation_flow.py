"""Issue 6 end to end: PasseInfo's secret rotated by the real RotationFunction (the four steps,
as Secrets Manager calls them) while single sends pinned to PasseInfo keep flowing through the
HTTP API. The sandbox issues a new key and refuses the old one at once; no message fails."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests

from local.rotation import STEPS, start_rotation
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

EVENTS = Path(__file__).resolve().parents[2] / "events" / "rotation"
STEP_EVENTS = {"createSecret": "create", "setSecret": "set", "testSecret": "test", "finishSecret": "finish"}
FINAL = ("sent", "delivered", "failed", "unconfirmed", "expired", "cancelled")


class Stream:
    """Posts single sends pinned to PasseInfo, one after another, until stopped; each accepted
    message is labelled with the phase of the rotation it was posted in."""

    def __init__(self, url: str, key: str, pause: float = 0.25, limit: int = 200):
        self.url, self.key, self.pause, self.limit = url, key, pause, limit
        self.phase = "before"
        self.accepted: list[tuple[str, str]] = []  # (phase, message id)
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rotation-stream", daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            session.trust_env = False  # loopback
            for i in range(self.limit):
                if self._stop.is_set():
                    return
                phase = self.phase
                try:
                    answer = session.post(
                        f"{self.url}/v1/messages", timeout=60,
                        headers={"Authorization": f"Bearer {self.key}"},
                        json={"to": f"+22462200{4000 + i}", "text": f"during a rotation #{i}", "provider": "passeinfo"},
                    )
                except requests.RequestException as exc:
                    self.refused.append(repr(exc))
                else:
                    if answer.status_code == 202:
                        with self._lock:
                            self.accepted.append((phase, answer.json()["id"]))
                    else:
                        self.refused.append(f"{answer.status_code} {answer.text}")
                self._stop.wait(self.pause)

    def ids(self, phase: str | None = None) -> list[str]:
        with self._lock:
            return [mid for p, mid in self.accepted if phase in (None, p)]

    def start(self) -> Stream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


def _status(api, key: str, message_id: str) -> dict:
    answer = api("GET", f"/v1/messages/{message_id}", key)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _final_views(api, key: str, ids: list[str], timeout: float) -> dict[str, dict]:
    """Every message's view once it is final (polled; a loaded machine may take a while)."""
    views: dict[str, dict] = {}

    def all_final() -> bool:
        for message_id in ids:
            if message_id not in views:
                view = _status(api, key, message_id)
                if view["status"] in FINAL:
                    views[message_id] = view
        return len(views) == len(ids)

    wait_for(all_final, timeout=timeout, interval=0.5)
    return views


def _sent_count(api, key: str, ids: list[str]) -> int:
    return sum(_status(api, key, mid)["status"] in ("sent", "delivered") for mid in ids)


def _rotation_event(step: str, secret_arn: str, token: str) -> dict:
    """events/rotation/passeinfo_<step>.json aimed at this stack's secret, with this rotation's
    token: what Secrets Manager passes to the function."""
    event = json.loads((EVENTS / f"passeinfo_{STEP_EVENTS[step]}.json").read_text(encoding="utf-8"))
    assert event["Step"] == step
    return {**event, "SecretId": secret_arn, "ClientRequestToken": token}


def _balance_status(base_url: str, client_id: str, api_key: str) -> tuple[int, dict]:
    """A direct call to the sandbox's PasseInfo balance endpoint, outside the gateway."""
    answer = requests.get(f"{base_url.rstrip('/')}/v1/user/get_solde", timeout=10,
                          headers={"Client-Id": client_id, "Api-Key": api_key})
    return answer.status_code, answer.json()


def _leave_passeinfo_usable(sm, secret_arn: str, token: str) -> None:
    """After a failure half-way: the pending version holds the only key the sandbox still
    accepts (docs/secrets.md), so make it current rather than dropping it."""
    stages = sm.describe_secret(SecretId=secret_arn).get("VersionIdsToStages") or {}
    if "AWSPENDING" in stages.get(token, []):
        try:
            sm.get_secret_value(SecretId=secret_arn, VersionId=token)
        except sm.exceptions.ResourceNotFoundException:  # createSecret never stored a value
            sm.update_secret_version_stage(SecretId=secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)
        else:
            current = next((v for v, labels in stages.items() if "AWSCURRENT" in labels), None)
            if current != token:
                sm.update_secret_version_stage(SecretId=secret_arn, VersionStage="AWSCURRENT",
                                               MoveToVersionId=token, RemoveFromVersionId=current)
            sm.update_secret_version_stage(SecretId=secret_arn, VersionStage="AWSPENDING", RemoveFromVersionId=token)


def _rotate_while_streaming(stack, sm, secret_arn: str, token: str, stream: Stream, api, key: str) -> None:
    """Secrets Manager's part (a pending version for a fresh token), then the RotationFunction's
    four steps, with messages flowing before, between and after them."""
    wait_for(lambda: len(stream.ids("before")) >= 8, timeout=120)
    wait_for(lambda: _sent_count(api, key, stream.ids("before")[:3]) == 3, timeout=120, interval=0.5)
    stream.phase = "rotating"
    start_rotation(sm, secret_arn, token)
    for step in STEPS:
        stack.invoker.invoke("RotationFunction", _rotation_event(step, secret_arn, token))
        if step == "createSecret":
            # The old key is dead at PasseInfo and AWSCURRENT still holds it: the senders must
            # go through the pending version. Let several messages go that way.
            stream.phase = "renewed"
            wait_for(lambda: len(stream.ids("renewed")) >= 10, timeout=180)
            wait_for(lambda: _sent_count(api, key, stream.ids("renewed")) >= 5, timeout=180, interval=0.5)
            stream.phase = "rotating"
        else:
            time.sleep(0.5)
    stream.phase = "after"
    wait_for(lambda: len(stream.ids("after")) >= 10, timeout=180)


def _dead_letters(stack) -> int:
    sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=stack.region)
    total = 0
    for dlq in ("passeinfo-tx-dlq", "passeinfo-bulk-dlq"):
        attrs = sqs.get_queue_attributes(
            QueueUrl=stack.provisioned.queue_urls[dlq],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        total += sum(int(n) for n in attrs.values())
    return total


@pytest.mark.timeout(900)
def test_given_messages_flowing_when_passeinfo_s_secret_rotates_then_new_key_old_refused_and_no_message_fails(
    stack, api, tenant_key
):
    # Given: a stream of single sends pinned to PasseInfo, the sender holding the current key
    key = tenant_key("rotation-flow")
    sm = boto3.client("secretsmanager", endpoint_url=stack.moto_url, region_name=stack.region)
    secret_arn = sm.describe_secret(SecretId=stack.provisioned.secret_ids["passeinfo"])["ARN"]
    old_secret = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    before = stack.sandbox.state("passeinfo")
    old_key = before["settings"]["api_key"]
    assert old_secret["api_key"] == old_key
    finalized_before = stack.invoker.counts().get("FinalizerFunction", 0)

    # When: the secret is rotated by the RotationFunction while messages flow
    stream = Stream(stack.api_url, key).start()
    token = str(uuid.uuid4())
    try:
        _rotate_while_streaming(stack, sm, secret_arn, token, stream, api, key)
    finally:
        stream.stop()
        _leave_passeinfo_usable(sm, secret_arn, token)

    # Then: the sandbox holds a new key, renewed once, and refuses the old one
    after = stack.sandbox.state("passeinfo")
    new_key = after["settings"]["api_key"]
    assert new_key != old_key
    assert after["renewals"] == before["renewals"] + 1
    refused_status, refused_body = _balance_status(old_secret["base_url"], old_secret["client_id"], old_key)
    assert refused_status == 401 and refused_body["status"] == "error", refused_body
    assert _balance_status(old_secret["base_url"], old_secret["client_id"], new_key)[0] == 200

    # ... the secret's AWSCURRENT is the new key (nothing else changed), nothing left pending
    current = json.loads(sm.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    assert current == {**old_secret, "api_key": new_key}
    stages = sm.describe_secret(SecretId=secret_arn)["VersionIdsToStages"]
    assert stages[token] == ["AWSCURRENT"]
    assert not any("AWSPENDING" in labels for labels in stages.values())

    # ... and every message posted before, during and after the rotation was sent by PasseInfo,
    # exactly once, with no failed attempt and nothing dead-lettered
    assert stream.refused == []
    assert {"before", "renewed", "after"} <= {phase for phase, _ in stream.accepted}
    ids = stream.ids()
    views = _final_views(api, key, ids, timeout=300)
    not_sent = {mid: (v["status"], v["reason"]) for mid, v in views.items() if v["status"] not in ("sent", "delivered")}
    assert not_sent == {}, f"{len(not_sent)} of {len(ids)} messages did not go: {not_sent}"
    for view in views.values():
        assert view["provider"] == "passeinfo"
        assert not {"failed", "unconfirmed"} & {h["status"] for h in view["history"]}, view["history"]
        assert {a["outcome"] for a in view["attempts"]} <= {"sent", "report"}, view["attempts"]
    outbox = [o["provider_message_id"] for o in stack.sandbox.outbox(provider="passeinfo")]
    assert all(outbox.count(v["provider_message_id"]) == 1 for v in views.values())
    assert stack.invoker.counts().get("FinalizerFunction", 0) == finalized_before
    assert _dead_letters(stack) == 0
