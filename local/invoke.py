"""Run one function with an events/ file on the laptop, the way `sam local invoke -e` does, without
Docker or an AWS account:

    make invoke FN=sender EVENT=events/sender/passeinfo_tx.json
    python -m local.invoke --function sender --event events/sender/passeinfo_tx.json

A moto server on loopback is provisioned from infra/ + template.yaml (local.stack.resources),
the provider sandbox starts and every provider secret points at it, then what the event refers
to is put in place (`EventRunner.seed`), and the handler runs through the local stack's invoker.
The result is printed as JSON; a function error is printed on stderr with exit status 1.

The same files work with `sam local invoke <Function> -e <file>` where Docker exists; they are
written for the `dev` deployment (rotation events name `tamtam/dev/providers/<provider>`), and
the runner points such names at this stack's secret of the same provider.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.rotation import STEPS, start_rotation
from local.stack.invoker import FunctionConfig, FunctionError, Invoker

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO_ROOT / "functions"
EVENTS_DIR = REPO_ROOT / "events"
REGION = "eu-west-1"
# What the events/ files refer to: the key of events/authorizer/valid_key.json and its tenant.
EVENTS_KEY = "tt_events_demo_key_0123456789abcdef"
EVENTS_TENANT = "ten_events0000000000000000demo"
_MESSAGE_PATH = re.compile(r"^/v1/messages/(msg_[A-Za-z0-9]+)$")
_SECRET_PROVIDER = re.compile(r"providers/([a-z0-9]+)(?:-[A-Za-z0-9]{6})?$")


def functions_with_events() -> dict[str, list[Path]]:
    """Function directory name -> its events/<name>/*.json files, for functions that have both."""
    found = {}
    for folder in sorted(p for p in EVENTS_DIR.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.json"))
        if files and (FUNCTIONS_DIR / folder.name / "handler.py").is_file():
            found[folder.name] = files
    return found


def function_config(name: str) -> FunctionConfig:
    if not (FUNCTIONS_DIR / name / "handler.py").is_file():
        raise SystemExit(f"no function {name!r}: functions/{name}/handler.py does not exist")
    return FunctionConfig.package(name, FUNCTIONS_DIR)


class EventRunner:
    """Seeds what an event refers to, then invokes the function with it. Needs the function
    environment applied to this process (the local stack's, or the test fixtures')."""

    def __init__(self, provisioned: Any, invoker: Invoker | None = None,
                 setenv: Callable[[str, str], None] = os.environ.__setitem__):
        self.provisioned = provisioned
        self.invoker = invoker or Invoker([function_config(name) for name in functions_with_events()], region=REGION)
        self._setenv = setenv

    def run(self, function: str, event: dict[str, Any]) -> Any:
        if function not in self.invoker.functions:
            self.invoker.functions[function] = function_config(function)
        event = self.seed(function, event)
        return self.invoker.invoke(function, event)

    # -- seeding -------------------------------------------------------------------------------
    def seed(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Put in place what the event refers to; answer the event to invoke (rotation events
        get this stack's secret id)."""
        self._otp_pepper()
        self._otp_environment()
        self._events_tenant()
        for message_id, provider, tenant_id, sent in self._referenced_messages(event):
            self._message(message_id, provider, tenant_id, sent)
        if {"Step", "SecretId", "ClientRequestToken"} <= set(event):
            return self._rotation(function, event)
        return event

    def _otp_pepper(self) -> None:
        from tamtam import aws

        sm = aws.client("secretsmanager")
        secret_id = self.provisioned.otp_pepper_secret_id
        try:
            sm.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        except sm.exceptions.ResourceNotFoundException:
            sm.put_secret_value(SecretId=secret_id, SecretString=secrets.token_hex(32))

    def _otp_environment(self) -> None:
        """OTP_PEPPER_SECRET and OTP_KEY_ID, when the function environment does not carry them
        (yet): infra/'s pepper secret and a KMS key of the local stack."""
        from tamtam import aws
        from tamtam.otp.settings import reset_otp_settings

        if not os.environ.get("OTP_PEPPER_SECRET"):
            self._setenv("OTP_PEPPER_SECRET", self.provisioned.otp_pepper_secret_id)
        if not os.environ.get("OTP_KEY_ID"):
            key = aws.client("kms").create_key(Description="tamtam otp (make invoke)")["KeyMetadata"]["Arn"]
            self._setenv("OTP_KEY_ID", key)
        reset_otp_settings()

    @staticmethod
    def _events_tenant() -> None:
        from tamtam import aws
        from tamtam.settings import get_settings
        from tamtam.tenants import create_tenant, tenant_for_key

        table = aws.table(get_settings().table_name)
        if tenant_for_key(table, EVENTS_KEY) is None:
            create_tenant("events", table, api_key=EVENTS_KEY)

    @staticmethod
    def _referenced_messages(event: dict[str, Any]) -> Iterator[tuple[str, str | None, str, bool]]:
        """(message id, provider, tenant id, already sent) of every message the event names."""
        for record in event.get("Records") or []:
            try:
                body = json.loads(record.get("body") or "")
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("message_id"):
                yield body["message_id"], body.get("provider"), body.get("tenant_id") or EVENTS_TENANT, False
        match = _MESSAGE_PATH.match(str(event.get("path") or ""))
        if match:
            tenant = ((event.get("requestContext") or {}).get("authorizer") or {}).get("tenant_id")
            yield match.group(1), None, tenant or EVENTS_TENANT, False
        if str(event.get("path") or "").startswith("/v1/webhooks/smsgate"):
            try:
                payload = json.loads(event.get("body") or "").get("payload") or {}
            except (ValueError, AttributeError):
                payload = {}
            if payload.get("messageId"):
                yield payload["messageId"], "smsgate", EVENTS_TENANT, True

    @staticmethod
    def _message(message_id: str, provider: str | None, tenant_id: str, sent: bool) -> None:
        from tamtam import aws, clock
        from tamtam.messaging.accept import SendRequest, build_message
        from tamtam.settings import get_settings
        from tamtam.status import Status
        from tamtam.store import messages

        table = aws.table(get_settings().table_name)
        if messages.get(table, message_id) is not None:
            return
        item = build_message(SendRequest(to="+224622000001", text="Hello", provider=provider), tenant_id)
        item = item.model_copy(update={"id": message_id})
        messages.put_new(table, item)
        if sent:
            messages.transition(table, message_id, Status.SENDING, expect={Status.QUEUED}, provider=item.provider,
                                fields={"claim_at": clock.now()}, increment_tries=True)
            messages.transition(table, message_id, Status.SENT, expect={Status.SENDING}, provider=item.provider,
                                fields={"claim_at": None, "provider_message_id": message_id})

    def _rotation(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Point the event at this stack's secret of the same provider, start the rotation
        (Secrets Manager's part) and run the steps before the event's own."""
        from tamtam import aws

        match = _SECRET_PROVIDER.search(event["SecretId"])
        if match and match.group(1) in self.provisioned.secret_ids:
            event = {**event, "SecretId": self.provisioned.secret_ids[match.group(1)]}
        sm = aws.client("secretsmanager")
        token = event["ClientRequestToken"]
        stages = sm.describe_secret(SecretId=event["SecretId"]).get("VersionIdsToStages") or {}
        if "AWSCURRENT" not in stages.get(token, []):  # a finished rotation is left as it is
            start_rotation(sm, event["SecretId"], token)
        if event["Step"] in STEPS:
            for step in STEPS[: STEPS.index(event["Step"])]:
                self.invoker.invoke(function, {**event, "Step": step})
        return event


# -- a stack of its own (the command line) -----------------------------------------------------


@contextmanager
def local_environment(region: str = REGION) -> Iterator[EventRunner]:
    """moto on loopback, provisioned; the function environment in os.environ; the sandbox with
    the provider secrets pointing at it. Everything is undone on exit."""
    import logging

    from moto.server import ThreadedMotoServer

    from local.sandbox.secrets import local_secret
    from local.sandbox.server import start_sandbox
    from local.stack.resources import provision

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    saved = dict(os.environ)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    sandbox = None
    try:
        host, port = moto.get_host_and_port()
        url = f"http://{host}:{port}"
        os.environ.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's fake credentials
            AWS_SESSION_TOKEN="testing",  # noqa: S106 - moto's fake credentials
            AWS_DEFAULT_REGION=region,
            AWS_REGION=region,
            AWS_EC2_METADATA_DISABLED="true",
        )
        provisioned = provision(url, region)
        os.environ.update(provisioned.function_env)
        _reset_caches()
        sandbox = start_sandbox(port=0)
        from tamtam import aws

        for provider, secret_id in provisioned.secret_ids.items():
            aws.client("secretsmanager").put_secret_value(
                SecretId=secret_id, SecretString=json.dumps(local_secret(provider, sandbox.url)))
        yield EventRunner(provisioned)
    finally:
        if sandbox is not None:
            sandbox.stop()
        moto.stop()
        os.environ.clear()
        os.environ.update(saved)
        _reset_caches()


def _reset_caches() -> None:
    layer = str(REPO_ROOT / "layers" / "shared")
    if layer not in sys.path:
        sys.path.append(layer)
    from tamtam import aws, settings

    aws.reset()
    settings.reset_settings()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.invoke", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--function", required=True, help="directory name under functions/ (api, sender...)")
    parser.add_argument("--event", required=True, type=Path, help="the event file (events/<function>/<case>.json)")
    args = parser.parse_args(argv)
    event = json.loads(args.event.read_text(encoding="utf-8"))
    function_config(args.function)
    with local_environment() as runner:
        try:
            result = runner.run(args.function, event)
        except FunctionError as exc:
            print(
                json.dumps({"errorType": exc.error_type, "errorMessage": exc.error_message}, indent=2), file=sys.stderr
            )
            return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
