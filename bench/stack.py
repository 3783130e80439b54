"""The local stack as the bench drives it: `make run`'s `LocalStack` (moto in a process of its
own, provisioning from infra/ and template.yaml, API Gateway, pollers, sandbox, invoker).

`Session` wraps a started stack with what every scenario needs: a tenant and its key, an HTTP
client of the API that counts its requests, the bench's own AWS clients (tagged "bench": never
counted), invocation timing, and waiting for messages to be final.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.awscalls import ESM, CallCounter
from bench.dynamo_units import TableSchema
from local.stack.stack import LocalStack

DONE = frozenset({"sent", "delivered", "failed", "unconfirmed", "cancelled", "expired"})
ALL_PROVIDERS = ("passeinfo", "messagepro", "flowsms", "ventis", "smsgate")


@dataclass
class Invocations:
    """Count and duration of every function invocation (the invoker, wrapped)."""

    counts: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, invoker: Any) -> None:
        original = invoker.invoke

        def invoke(logical_id: str, event: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(logical_id, event)
            finally:
                with self.lock:
                    self.counts[logical_id] += 1
                    self.seconds[logical_id] += time.perf_counter() - started

        invoker.invoke = invoke

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.seconds.clear()

    def snapshot(self) -> tuple[Counter[str], Counter[str]]:
        with self.lock:
            return Counter(self.counts), Counter(self.seconds)


def _reset_layer_caches() -> None:
    """Caches of the shared layer that read the environment the scenario just changed."""
    from tamtam import health, pacing, routing, settings

    settings.reset_settings()
    pacing.reset_cache()
    health.reset_cache()
    routing.configured_routes.cache_clear()


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Session:
    """A started stack, a tenant, counted API calls and the bench's own clients."""

    def __init__(self, stack: LocalStack, counter: CallCounter):
        self.stack, self.counter = stack, counter
        self.invocations = Invocations()
        self.invocations.wrap(stack.invoker)
        counter.tag(stack.pollers.sqs, ESM)
        with counter.creating("bench"):
            import boto3

            self.ddb = boto3.client("dynamodb", endpoint_url=stack.moto_url, region_name=stack.region)
            self.sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=stack.region)
        self.table = stack.provisioned.table_name
        counter.schemas.update({self.table: _schema(self.ddb, self.table)})
        from tamtam.tenants import create_tenant

        tenant = create_tenant("bench")
        self.key = tenant.api_key
        # The bench measures the pipeline, not the abuse controls: its tenant's send limits are out
        # of reach (still counted, so the cost lines include the counters' writes), and it may send
        # codes anywhere (the chaos run sends some to Senegal, on the catch-all route).
        self.ddb.update_item(
            TableName=self.table,
            Key={"pk": {"S": f"TENANT#{tenant.tenant_id}"}, "sk": {"S": "TENANT"}},
            UpdateExpression=(
                "SET messages_per_minute = :high, bulk_recipients_per_hour = :high, otp_allowed_prefixes = :any"
            ),
            ExpressionAttributeValues={":high": {"N": "100000000"}, ":any": {"L": [{"S": "*"}]}},
        )
        self.api_requests = 0
        self._lock = threading.Lock()
        self._http = threading.local()
        stack.sandbox.configure("passeinfo", balance=10**9)
        stack.sandbox.configure("messagepro", credits=10**9)

    # -- the API ---------------------------------------------------------------------
    def _client(self) -> requests.Session:
        http = getattr(self._http, "session", None)
        if http is None:
            http = self._http.session = requests.Session()
            http.trust_env = False
        return http

    def call(self, method: str, path: str, body: Any = None, timeout: float = 60) -> requests.Response:
        with self._lock:
            self.api_requests += 1
        return self._client().request(method, self.stack.api_url + path, json=body, timeout=timeout,
                                      headers={"Authorization": f"Bearer {self.key}"})

    def post(self, path: str, body: Any) -> requests.Response:
        return self.call("POST", path, body)

    # -- the table, read by the bench -------------------------------------------------
    def records(self, message_ids: list[str], attributes: tuple[str, ...] = ("status",)) -> dict[str, dict[str, Any]]:
        """message id -> {attribute: value} for the messages that exist."""
        names = {f"#a{i}": a for i, a in enumerate(("id", *attributes))}
        out: dict[str, dict[str, Any]] = {}
        for i in range(0, len(message_ids), 100):
            keys = [{"pk": {"S": f"MSG#{m}"}, "sk": {"S": "MSG"}} for m in message_ids[i:i + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ProjectionExpression": ", ".join(names),
                                                    "ExpressionAttributeNames": names}}
            while request:
                answer = self.ddb.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self.table, []):
                    flat = _flat(item)
                    out[flat["id"]] = flat
                request = answer.get("UnprocessedKeys") or {}
        return out

    def statuses(self, message_ids: list[str]) -> dict[str, str]:
        return {m: r.get("status", "?") for m, r in self.records(message_ids).items()}

    def batch(self, batch_id: str) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": f"BATCH#{batch_id}"}, "sk": {"S": "BATCH"}},
                                 ConsistentRead=True).get("Item") or {}
        return _flat(item)

    def batch_messages(self, batch_id: str) -> dict[str, dict[str, Any]]:
        """message id -> {id, status}, for every message of a batch (their ids follow from the
        batch: tamtam.store.batches.message_ids)."""
        from tamtam.store.batches import BatchItem, message_ids

        batch = BatchItem.from_item(self.batch(batch_id))
        return self.records([message_id for _, message_id in message_ids(batch)])

    def queue_depths(self) -> dict[str, int]:
        """Messages on every queue of the stack (visible, in flight, delayed), DLQs included."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        out = {}
        for key, url in self.stack.provisioned.queue_urls.items():
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            out[key] = sum(int(attrs.get(n, 0)) for n in names)
        return out

    def wait_done(self, message_ids: list[str], timeout: float, interval: float = 2.0) -> dict[str, str]:
        """Statuses once every message is done (or at the timeout)."""
        deadline = time.monotonic() + timeout
        pending = list(message_ids)
        done: dict[str, str] = {}
        while True:
            current = self.statuses(pending)
            done.update({m: s for m, s in current.items() if s in DONE})
            pending = [m for m in pending if m not in done]
            if not pending or time.monotonic() > deadline:
                done.update({m: current.get(m, "missing") for m in pending})
                return done
            time.sleep(interval)

    def wait_batch(self, batch_id: str, timeout: float, interval: float = 2.0,
                   progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            batch = self.batch(batch_id)
            if progress:
                progress(batch)
            if batch.get("finished_at") or batch.get("state") == "aborted" or time.monotonic() > deadline:
                return batch
            time.sleep(interval)

    def idle(self, timeout: float = 60.0) -> None:
        """Wait for the pollers to have nothing left (the last deletes included)."""
        with contextlib.suppress(TimeoutError):
            self.stack.drain(timeout)


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    """A wire-format item with its scalar values unwrapped (lists and maps left as they are)."""
    return {k: next(iter(v.values())) for k, v in item.items()}


def _schema(ddb: Any, table: str) -> TableSchema:
    described = ddb.describe_table(TableName=table)["Table"]
    key = tuple(k["AttributeName"] for k in sorted(described["KeySchema"], key=lambda k: k["KeyType"]))
    gsis = described.get("GlobalSecondaryIndexes", [])
    indexes = tuple(tuple(k["AttributeName"] for k in sorted(g["KeySchema"], key=lambda k: k["KeyType"])) for g in gsis)
    return TableSchema(key=key, indexes=indexes, projections=tuple(_projected(g) for g in gsis))


def _projected(gsi: dict[str, Any]) -> tuple[str, ...] | None:
    """The non-key attributes an index projects; None: ALL."""
    projection = gsi.get("Projection") or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return None
    return tuple(projection.get("NonKeyAttributes", [])) if kind == "INCLUDE" else ()


@contextlib.contextmanager
def started(counter: CallCounter, env: dict[str, str] | None = None,
            provision: Callable[..., Any] | None = None, **stack_options: Any) -> Iterator[Session]:
    """A LocalStack (no schedules, API keys not enforced) with `env` set
    for the functions, and a Session on it."""
    values = {"RETRY_BASE_SECONDS": "1", **(env or {})}
    with environment(values):
        _reset_layer_caches()
        stack = LocalStack(port=0, environment="bench", start_schedules=False, enforce_api_keys=False,
                           provision=provision, **stack_options)
        stack.start()
        try:
            os.environ.update(values)  # the stack's own variables never override the scenario's
            _reset_layer_caches()
            yield Session(stack, counter)
        finally:
            stack.stop()


def without_sqs_source(code_dir: str) -> Callable[[str, str, str, str], Any]:
    """A provision() that leaves out the SQS event sources of the functions whose code is
    functions/<code_dir> (their queues only fill)."""
    import dataclasses

    from local.stack.resources import provision

    def provision_without(endpoint_url: str, region: str, name: str, environment: str) -> Any:
        provisioned = provision(endpoint_url, region, name, environment)
        for lid, spec in list(provisioned.functions.items()):
            if spec.package == code_dir:
                provisioned.functions[lid] = dataclasses.replace(spec, sqs_events=())
        return provisioned

    return provision_without


def function_ids(stack: LocalStack, code_dir: str) -> list[str]:
    """Logical ids of the functions whose package is functions/<code_dir>."""
    return [lid for lid, spec in stack.provisioned.functions.items() if spec.package == code_dir]
