"""`LocalStack`: the whole gateway on 127.0.0.1, in this process but for moto and the sandbox.

Start order: moto server (a process of its own, local.stack.moto_server) -> process environment
(AWS endpoint, dummy credentials, the functions' environment) -> provisioning (infra/ +
template.yaml into moto) -> provider sandbox (a process of its own too) and the providers'
secrets pointing at it -> API Gateway, SQS pollers, schedules. `stop()` undoes it in reverse
order and restores the environment.

The provisioning result is read through `_functions`, `_routes`, ... below: those adapters are
the only place that knows the shape of `local.stack.resources.Provisioned`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from local.stack.apigw import ApiGateway, AuthorizerConfig, GatewayResponse, Route
from local.stack.invoker import FunctionConfig, Invoker
from local.stack.pollers import Pollers, SqsSource
from local.stack.schedules import Schedules, ScheduleSpec
from local.stack.streams import StreamPollers

log = logging.getLogger("local.stack")

REPO_ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = REPO_ROOT / ".local-stack" / "logs"  # the moto server's and the sandbox's output
DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}
# Settings the local stack turns on and AWS never has: status callbacks to receivers on
# 127.0.0.1 / ::1, over http too (tamtam.callbacks.settings; refused in AWS).
LOCAL_ONLY_ENV = {"CALLBACK_ALLOW_LOOPBACK": "true"}


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute (or mapping key) of `names`."""
    for name in names:
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            return getattr(obj, name)
    return default


def _events(spec: Any, kind: str) -> list[Any]:
    """A function's events of one kind ('sqs', 'api', 'schedule'), whether the spec keeps them
    in per-kind lists or in one `events` list with a `type`."""
    per_kind = _get(spec, f"{kind}_events", f"{kind}s")
    if per_kind is not None:
        return list(per_kind.values() if isinstance(per_kind, dict) else per_kind)
    types = {"sqs": {"SQS"}, "api": {"Api"}, "schedule": {"Schedule", "ScheduleV2"}}[kind]
    events = _get(spec, "events", default=[]) or []
    events = events.values() if isinstance(events, dict) else events
    return [e for e in events if _get(e, "type", "Type") in types]


def functions_from(provisioned: Any) -> list[FunctionConfig]:
    out = []
    for logical_id, spec in provisioned.functions.items():
        code_dir = Path(_get(spec, "code_dir", "code_uri", "codeuri"))
        out.append(FunctionConfig(
            logical_id=logical_id,
            code_dir=code_dir if code_dir.is_absolute() else REPO_ROOT / code_dir,
            handler=_get(spec, "handler", default="handler.lambda_handler"),
            function_name=_get(spec, "function_name", "name", default="") or "",
            timeout=float(_get(spec, "timeout", default=30) or 30),
            memory_mb=int(_get(spec, "memory_size", "memory_mb", "memory", default=128) or 128),
        ))
    return out


def sqs_sources_from(provisioned: Any) -> list[SqsSource]:
    out = []
    for logical_id, spec in provisioned.functions.items():
        for ev in _events(spec, "sqs"):
            out.append(SqsSource(
                function=logical_id,
                queue_url=_get(ev, "queue_url"),
                batch_size=int(_get(ev, "batch_size", default=10) or 10),
                batching_window=float(_get(ev, "maximum_batching_window_in_seconds",
                                           "maximum_batching_window", "batching_window", default=0) or 0),
                report_batch_item_failures=bool(_get(ev, "report_batch_item_failures", default=False)),
                maximum_concurrency=_get(ev, "maximum_concurrency"),
                enabled=bool(_get(ev, "enabled", default=True)),
            ))
    return out


def routes_from(provisioned: Any) -> list[Route]:
    out = []
    for logical_id, spec in provisioned.functions.items():
        for ev in _events(spec, "api"):
            auth = _get(ev, "authorizer", "auth", default=None)  # authorizer name, "AWS_IAM", None: none
            iam = str(auth).upper() == "AWS_IAM"
            authorized = bool(auth) and str(auth).upper() != "NONE" and not iam
            out.append(Route(method=str(_get(ev, "method")).upper(), path=_get(ev, "path"),
                             function=logical_id, authorized=authorized, iam=iam,
                             api_key_required=bool(_get(ev, "api_key_required", default=False))))
    return out


def streams_from(provisioned: Any) -> list[tuple[str, Any]]:
    """(function, StreamEventSource) of every DynamoDB stream event of the template."""
    return [(logical_id, ev) for logical_id, spec in provisioned.functions.items()
            for ev in (_get(spec, "stream_events", default=()) or ())]


def schedules_from(provisioned: Any) -> list[ScheduleSpec]:
    out = []
    for logical_id, spec in provisioned.functions.items():
        for ev in _events(spec, "schedule"):
            raw_input = _get(ev, "input", default=None)
            out.append(ScheduleSpec(
                function=logical_id,
                name=_get(ev, "name", "logical_id", default=logical_id),
                expression=_get(ev, "schedule", "expression"),
                input=raw_input if raw_input is None or isinstance(raw_input, str) else json.dumps(raw_input),
                enabled=bool(_get(ev, "enabled", default=True)),
                kind=_get(ev, "type", "kind", default="Schedule"),
            ))
    return out


def authorizer_from(provisioned: Any) -> AuthorizerConfig | None:
    auth = _get(provisioned, "authorizer")
    if not auth:
        return None
    return AuthorizerConfig(
        function=_get(auth, "function", "function_logical_id", "function_id"),
        identity_headers=tuple(_get(auth, "identity_headers", default=("Authorization",))),
        ttl=int(_get(auth, "ttl", "reauthorize_every", default=0) or 0),
    )


def gateway_responses_from(provisioned: Any) -> dict[str, GatewayResponse]:
    out = {}
    for kind, resp in (_get(provisioned, "gateway_responses", default={}) or {}).items():
        status = _get(resp, "status", "status_code", "StatusCode")
        template = _get(resp, "template", "body_template", "body")
        if isinstance(template, dict):  # per content type
            template = template.get("application/json") or next(iter(template.values()), None)
        out[kind] = GatewayResponse(status=int(status) if status else None, template=template,
                                    headers=dict(_get(resp, "headers", default={}) or {}))
    return out


def _default_provision(endpoint_url: str, region: str, name: str, environment: str) -> Any:
    from local.stack.resources import provision  # the provisioning helper's module

    return provision(endpoint_url, region, name, environment)


def _default_local_secret(provider: str, sandbox_url: str) -> Any:
    from local.sandbox.secrets import local_secret

    return local_secret(provider, sandbox_url)


def _reset_function_caches() -> None:
    """Everything a function keeps per process, built from the environment and the emulator of
    the stack that ran before (two stacks can run one after the other in a process: the chaos
    test, then the e2e package's): the layer's settings, boto3 clients, secret and parameter
    caches, provider health, pacing and routing caches, and the handler modules themselves (a
    module-level client cache, such as the sender's, would still point at the old sandbox)."""
    import importlib

    from local.stack import invoker

    invoker.forget_loaded()
    resets = [("tamtam.aws", "reset"), ("tamtam.settings", "reset_settings"),
              ("tamtam.otp.settings", "reset_otp_settings"), ("tamtam.health", "reset_cache"),
              ("tamtam.pacing", "reset_cache"), ("tamtam.idempotency", "reset_cache"),
              ("tamtam.tenant_settings", "reset_cache"), ("tamtam.callbacks.settings", "reset_callback_settings"),
              ("tamtam.limits", "reset_leases")]
    for module_name, name in resets:
        try:
            reset = getattr(importlib.import_module(module_name), name, None)
        except ImportError:
            continue
        if callable(reset):
            reset()
    try:
        from tamtam import routing

        routing.configured_routes.cache_clear()
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
    except ImportError:
        return


class LocalStack:
    """The local gateway. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        port: int = 3000,
        sandbox_port: int = 0,
        moto_port: int = 0,
        region: str = "eu-west-1",
        name: str = "tamtam",
        environment: str = "local",
        duplicate_rate: float = 0.0,
        schedule_speedup: float = 1.0,
        start_schedules: bool = True,
        enforce_api_keys: bool = True,
        provision: Callable[[str, str, str, str], Any] | None = None,
        local_secret: Callable[[str, str], Any] | None = None,
    ):
        self.port, self.sandbox_port, self.moto_port = port, sandbox_port, moto_port
        self.region, self.name, self.environment = region, name, environment
        self.duplicate_rate = duplicate_rate
        self.schedule_speedup = schedule_speedup
        self.start_schedules = start_schedules
        self.enforce_api_keys = enforce_api_keys
        self._provision = provision or _default_provision
        self._local_secret = local_secret or _default_local_secret
        self.moto_url = self.api_url = self.sandbox_url = ""
        self.usage_plan_id: str | None = None
        self.provisioned: Any = None
        self.invoker: Invoker | None = None
        self.sandbox: Any = None  # local.sandbox.client.SandboxControl
        self.sandbox_log: Path | None = None
        self.pollers: Pollers | None = None
        self.streams: StreamPollers | None = None
        self.schedules: Schedules | None = None
        self.apigw: ApiGateway | None = None
        self._moto: Any = None
        self._sandbox_server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._stops: list[Callable[[], None]] = []

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        try:
            self._start_moto()
            self._set_env({**DUMMY_ENV, **LOCAL_ONLY_ENV, "AWS_ENDPOINT_URL": self.moto_url,
                           "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region})
            self.provisioned = self._provision(self.moto_url, self.region, self.name, self.environment)
            self._set_env({k: str(v) for k, v in (self.provisioned.function_env or {}).items()})
            self._start_sandbox()
            self.invoker = Invoker(functions_from(self.provisioned), region=self.region)
            self._start_apigw()
            self.usage_plan_id = self._create_usage_plan()
            self._register_smsgate_webhooks()
            self.pollers = Pollers(self.invoker, sqs_sources_from(self.provisioned), endpoint_url=self.moto_url,
                                   region=self.region, duplicate_rate=self.duplicate_rate).start()
            self._stops.append(self.pollers.stop)
            self.streams = StreamPollers(self.invoker, streams_from(self.provisioned), endpoint_url=self.moto_url,
                                         region=self.region).start()
            self._stops.append(self.streams.stop)
            self.schedules = Schedules(self.invoker, schedules_from(self.provisioned), region=self.region,
                                       speedup=self.schedule_speedup)
            if self.start_schedules:
                self.schedules.start()
                self._stops.append(self.schedules.stop)
        except BaseException:
            self.stop()
            raise
        log.info("local stack up: api=%s sandbox=%s moto=%s", self.api_url, self.sandbox_url, self.moto_url)
        return self

    def _start_moto(self) -> None:
        """moto in a process of its own (local.stack.moto_server): a fresh, empty account that
        does not share this process's GIL with the functions it serves."""
        from local.stack.moto_server import MotoProcess

        self._moto = MotoProcess(self.moto_port, log_dir=LOG_DIR).start()
        self._stops.append(self._moto.stop)
        self.moto_url = self._moto.url

    def _start_sandbox(self) -> None:
        """The provider sandbox in a process of its own, as providers are other machines: its
        timestamps are not delayed by this process's functions (`sandbox_log`: its output)."""
        from local.sandbox.client import SandboxControl
        from local.stack.child import ChildServer

        self._sandbox_server = ChildServer("local.sandbox", ["--port", "{port}"], port=self.sandbox_port,
                                           log_dir=LOG_DIR, name="sandbox").start()
        self._stops.append(self._sandbox_server.stop)
        self.sandbox_url = self._sandbox_server.url
        self.sandbox_log = self._sandbox_server.log_path
        self.sandbox = SandboxControl(self.sandbox_url)
        sm = boto3.client("secretsmanager", endpoint_url=self.moto_url, region_name=self.region)
        for provider, secret_id in (_get(self.provisioned, "secret_ids", default={}) or {}).items():
            try:
                value = self._local_secret(provider, self.sandbox_url)
            except KeyError:
                continue  # a secret that is not a provider's (e.g. the OTP pepper)
            sm.put_secret_value(SecretId=secret_id,
                                SecretString=value if isinstance(value, str) else json.dumps(value))
        pepper_id = _get(self.provisioned, "otp_pepper_secret_id")
        if pepper_id:  # a fresh random pepper for each local run (codes never outlive it)
            sm.put_secret_value(SecretId=pepper_id, SecretString=secrets.token_hex(32))

    def _create_usage_plan(self) -> str | None:
        """The tenants' usage plan of template.yaml (its throttle from the parameter defaults):
        tenants created locally get their API Gateway key in it, as in AWS."""
        from local.stack.template import load_template

        template = load_template(REPO_ROOT / "template.yaml")
        plans = [r for r in template["Resources"].values() if r.get("Type") == "AWS::ApiGateway::UsagePlan"]
        if not plans:
            return None
        throttle = plans[0]["Properties"].get("Throttle", {})
        params = template.get("Parameters", {})

        def value(v: Any) -> Any:
            return params[v["Ref"]]["Default"] if isinstance(v, dict) and "Ref" in v else v

        apigateway = boto3.client("apigateway", endpoint_url=self.moto_url, region_name=self.region)
        plan = apigateway.create_usage_plan(
            name=f"{self.name}-{self.environment}-tenants",
            throttle={"rateLimit": float(value(throttle.get("RateLimit", 50))),
                      "burstLimit": int(value(throttle.get("BurstLimit", 100)))},
        )
        return plan["id"]

    def _register_smsgate_webhooks(self) -> None:
        """Point the SMSGate simulator's delivery reports at the local webhook route, the way
        `python -m local.register_webhook` does against the real SMSGate."""
        from local.register_webhook import register
        from tamtam.providers.registry import build_client

        try:
            secret = self._local_secret("smsgate", self.sandbox_url)
        except KeyError:
            return
        secret = json.loads(secret) if isinstance(secret, str) else secret
        register(build_client("smsgate", secret), f"{self.api_url}/v1/webhooks/smsgate")
        self._set_messagepro_webhook()

    def _set_messagepro_webhook(self) -> None:
        """Message Pro's dashboard webhook for received SMS and chats, pointed at the local route
        with the secret the messagepro provider secret holds (set by hand in the real dashboard)."""
        try:
            secret = self._local_secret("messagepro", self.sandbox_url)
        except KeyError:
            return
        secret = json.loads(secret) if isinstance(secret, str) else secret
        if secret.get("webhook_secret") and self.sandbox is not None:
            self.sandbox.configure("messagepro", webhooks=[{"url": f"{self.api_url}/v1/webhooks/messagepro",
                                                            "secret": secret["webhook_secret"],
                                                            "types": ["sms", "whatsapp"]}])

    def _start_apigw(self) -> None:
        if self.invoker is None:
            raise AssertionError("the invoker starts before the API")
        self.apigw = ApiGateway(
            self.invoker,
            routes_from(self.provisioned),
            authorizer=authorizer_from(self.provisioned),
            gateway_responses=gateway_responses_from(self.provisioned),
            port=self.port,
            stage=_get(self.provisioned, "stage", "stage_name", default=self.environment),
            region=self.region,
            enforce_api_keys=self.enforce_api_keys,
            # AWS_IAM routes take calls signed with the stack's own (dummy) credentials
            iam_credentials={DUMMY_ENV["AWS_ACCESS_KEY_ID"]: DUMMY_ENV["AWS_SECRET_ACCESS_KEY"]},
        ).start()
        self._stops.append(self.apigw.stop)
        self.api_url = self.apigw.url

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        _reset_function_caches()

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}
        _reset_function_caches()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the SQS pipeline is idle (see `Pollers.drain`), then until the stream
        pollers have caught up with the table's changes."""
        if self.pollers is None:
            raise AssertionError("drain() before the pollers started")
        deadline = time.monotonic() + timeout
        self.pollers.drain(timeout)
        while self.streams is not None and not self.streams.idle() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop everything started, in reverse order; safe to call twice."""
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception:
                log.exception("error while stopping %s", stop)
        if self._saved_env:
            self._restore_env()

