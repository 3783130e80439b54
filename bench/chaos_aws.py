"""AWS-side faults, through botocore's event system, on the functions' clients only.

Which clients: `install()` wraps `botocore.session.Session.create_client` (as bench.awscalls
does) and registers the handlers below on every client created while a function runs
(`local.stack.invoker.current()`), whatever creates it: `tamtam.aws`, Powertools' parameters
provider (Secrets Manager), a boto3 resource. The caches holding clients created earlier are
emptied first (`tamtam.aws.reset()`, Powertools' default providers), so the functions create theirs
again inside an invocation. The harness's, the pollers' and the test's clients never get them,
and a call is faulted only while a function runs.

How: `before-call` (once per API call) decides, with the service's probability and within each
fault's budget, that this call meets a fault, and how many of its HTTP attempts fail:
- "after retries" (70 %): every attempt fails, so botocore's own retries (the functions' clients:
  standard mode, 3 attempts) are exhausted and the code sees the ClientError;
- "absorbed" (30 %, retryable faults only): the first attempt fails, botocore retries, the code
  sees nothing but the delay.
`before-send` (once per HTTP attempt) then answers the failing attempts itself with the HTTP
response AWS gives (status, `__type`, message; SQS's query-compatible `x-amzn-query-error`), which
botocore parses and retries as it would a real one. `after-call` counts what the code saw.
TransactionConflict: a TransactWriteItems touching a `BATCH#` item is cancelled
(TransactionCanceledException, the batch item's reason `TransactionConflict`), an UpdateItem of
a `BATCH#` item answers TransactionConflictException; neither is retried by botocore.

Before every call of a function, `alive()` (bench.chaos_kills) kills a dead or overdue invocation.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse

from local.stack.invoker import current


@dataclass(frozen=True)
class AwsFault:
    service: str  # botocore's hyphenated service id
    code: str
    status: int
    message: str
    retryable: bool = True  # botocore's standard retry mode retries it
    query_error: str | None = None  # SQS (awsQueryCompatible): the x-amzn-query-error header

    @property
    def kind(self) -> str:
        return f"{self.service} {self.code}"


_DDB = "com.amazonaws.dynamodb.v20120810#"
FAULTS: tuple[AwsFault, ...] = (
    AwsFault("dynamodb", "ProvisionedThroughputExceededException", 400,
             "The level of configured provisioned throughput for the table was exceeded. Consider increasing your "
             "provisioning level with the UpdateTable API."),
    AwsFault("dynamodb", "ThrottlingException", 400, "Throughput exceeds the current capacity for one or more global "
             "secondary indexes. DynamoDB is automatically scaling your index so please try again shortly."),
    AwsFault("dynamodb", "InternalServerError", 500, "Internal server error"),
    AwsFault("sqs", "RequestThrottled", 400, "Rate exceeded", query_error="RequestThrottled;Sender"),
    AwsFault("sqs", "InternalError", 500, "We encountered an internal error. Please try again.",
             query_error="InternalError;Receiver"),
    AwsFault("sqs", "ServiceUnavailable", 503, "Service Unavailable", query_error="ServiceUnavailable;Server"),
    AwsFault("secrets-manager", "ThrottlingException", 400, "Rate exceeded"),
    AwsFault("secrets-manager", "InternalServiceError", 500, "An error occurred on the server side."),
    AwsFault("kms", "ThrottlingException", 400, "Rate exceeded"),
    AwsFault("kms", "KMSInternalException", 500, "An internal error occurred."),
    AwsFault("eventbridge", "ThrottlingException", 400, "Rate exceeded"),
    AwsFault("eventbridge", "InternalException", 500, "An internal error occurred."),
)
CONFLICT = AwsFault("dynamodb", "TransactionConflict", 400, "Transaction is ongoing for the item", retryable=False)
KINDS = (*(f.kind for f in FAULTS), CONFLICT.kind)


def _body(fault: AwsFault, operation: str, request_body: dict[str, Any]) -> dict[str, Any]:
    if fault is CONFLICT and operation == "TransactWriteItems":
        reasons = [{"Code": "TransactionConflict", "Message": fault.message} if _batch_item(item) else {"Code": "None"}
                   for item in request_body.get("TransactItems", [])]
        codes = ", ".join(r["Code"] for r in reasons)
        return {"__type": f"{_DDB}TransactionCanceledException", "CancellationReasons": reasons,
                "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"}
    if fault is CONFLICT:
        return {"__type": f"{_DDB}TransactionConflictException", "message": fault.message}
    prefix = {"dynamodb": _DDB, "sqs": "com.amazonaws.sqs#"}.get(fault.service, "")
    return {"__type": prefix + fault.code, "message": fault.message}


def _batch_item(transact_item: dict[str, Any]) -> bool:
    for action in transact_item.values():
        key = (action or {}).get("Key") or (action or {}).get("Item") or {}
        if str(key.get("pk", {}).get("S", "")).startswith("BATCH#"):
            return True
    return False


def _touches_batch(operation: str, body: dict[str, Any]) -> bool:
    if operation == "TransactWriteItems":
        return any(_batch_item(item) for item in body.get("TransactItems", []))
    if operation == "UpdateItem":
        return str(body.get("Key", {}).get("pk", {}).get("S", "")).startswith("BATCH#")
    return False


class _Raw:
    def __init__(self, payload: bytes):
        self.payload = payload

    def stream(self, **_: Any) -> Any:
        yield self.payload


@dataclass
class _Plan:
    fault: AwsFault
    fail_attempts: int
    body: bytes
    failed: int = 0


class AwsFaults:
    def __init__(self, *, rates: dict[str, float], conflict_rate: float, budget: int, seed: int,
                 alive: Callable[[str], None], absorbed_share: float = 0.3):
        self.rates, self.conflict_rate, self.budget = dict(rates), conflict_rate, budget
        self.absorbed_share, self.alive = absorbed_share, alive
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.applied: Counter[str] = Counter()  # API calls that met the fault
        self.seen: Counter[str] = Counter()  # ... of which the code saw the error (retries exhausted)
        self.attempts: Counter[str] = Counter()  # HTTP attempts answered with the fault
        self.calls: Counter[str] = Counter()  # the functions' API calls, by service
        self.clients = 0
        self.active = True
        self._local = threading.local()
        self._original: Any = None

    # -- install -------------------------------------------------------------------------
    def install(self) -> AwsFaults:
        from aws_lambda_powertools.utilities.parameters import base as parameters_base

        from tamtam import aws

        original = self._original = botocore.session.Session.create_client
        register = self.register

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            if current() is not None:
                register(client)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]
        aws.reset()
        parameters_base.DEFAULT_PROVIDERS.clear()
        return self

    def uninstall(self) -> None:
        """Stop faulting, and forget the clients that carry the handlers (a later stack in this
        process, e.g. the e2e package's, creates its own: they also point at this run's moto)."""
        from aws_lambda_powertools.utilities.parameters import base as parameters_base

        from tamtam import aws

        self.active = False
        if self._original is not None:
            botocore.session.Session.create_client = self._original  # type: ignore[method-assign]
            self._original = None
        aws.reset()
        parameters_base.DEFAULT_PROVIDERS.clear()

    def stop(self) -> None:
        self.active = False

    def register(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-call", self._before_call, unique_id="chaos-aws-before-call")
        events.register("before-send", self._before_send, unique_id="chaos-aws-before-send")
        events.register("after-call", self._after_call, unique_id="chaos-aws-after-call")
        with self.lock:
            self.clients += 1

    # -- handlers ------------------------------------------------------------------------
    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self._local.plan = None
        if current() is None:
            return
        self.alive(f"aws {model.name}")
        service = model.service_model.service_id.hyphenize()
        with self.lock:
            self.calls[service] += 1
        if not self.active:
            return
        body = params.get("body") or b""
        fault = self._choose(service, model.name, body)
        if fault is None:
            return
        absorbed = fault.retryable and self.rng.random() < self.absorbed_share
        try:
            request_body = json.loads(body) if body else {}
        except ValueError:
            request_body = {}
        payload = json.dumps(_body(fault, model.name, request_body)).encode()
        self._local.plan = _Plan(fault, 1 if absorbed else 1000, payload)
        with self.lock:
            self.applied[fault.kind] += 1

    def _choose(self, service: str, operation: str, body: bytes) -> AwsFault | None:
        if service == "dynamodb" and operation in ("TransactWriteItems", "UpdateItem") and b"BATCH#" in body:
            try:
                touches = _touches_batch(operation, json.loads(body))
            except ValueError:
                touches = False
            if touches:
                with self.lock:
                    if self.applied[CONFLICT.kind] < self.budget and self.rng.random() < self.conflict_rate:
                        return CONFLICT
        rate = self.rates.get(service, 0.0)
        with self.lock:
            if rate <= 0 or self.rng.random() >= rate:
                return None
            open_faults = [f for f in FAULTS if f.service == service and self.applied[f.kind] < self.budget]
            if not open_faults:
                return None
            least = min(self.applied[f.kind] for f in open_faults)  # keep the kinds of a service even
            return self.rng.choice([f for f in open_faults if self.applied[f.kind] == least])

    def _before_send(self, request: Any, **_: Any) -> AWSResponse | None:
        plan: _Plan | None = getattr(self._local, "plan", None)
        if plan is None or plan.failed >= plan.fail_attempts:
            return None
        plan.failed += 1
        with self.lock:
            self.attempts[plan.fault.kind] += 1
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": f"chaos-{self.rng.random():.12f}"}
        if plan.fault.query_error:
            headers["x-amzn-query-error"] = plan.fault.query_error
        return AWSResponse(request.url, plan.fault.status, headers, _Raw(plan.body))

    def _after_call(self, context: dict[str, Any] | None = None, **_: Any) -> None:
        plan: _Plan | None = getattr(self._local, "plan", None)
        self._local.plan = None
        if plan is None or not plan.failed:
            return
        attempts = ((context or {}).get("retries") or {}).get("attempt", plan.failed)
        if attempts <= plan.failed:  # no real attempt after ours: the code gets the error
            with self.lock:
                self.seen[plan.fault.kind] += 1

    # -- report --------------------------------------------------------------------------
    def summary(self) -> str:
        return ", ".join(f"{k.split(' ', 1)[1]} {self.applied[k]} ({self.seen[k]} seen)" for k in KINDS)
