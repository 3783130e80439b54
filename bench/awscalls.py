"""Every AWS call made in this process, counted with botocore's event hooks.

`install()` wraps `botocore.session.Session.create_client`, so every client created afterwards
(whatever its session: boto3's default one, powertools' own, a resource's) gets a `before-call`
and an `after-call` handler. The functions of the local stack run in this process, so their
calls are seen as they happen; the moto server answering them is another process.

Each client carries a tag, fixed when it is created (`creating("bench")` for the bench's own
clients) or afterwards (`tag(client, "esm")` for the pollers' client):
- "app": the functions' calls, all counted;
- "esm": the SQS event source mappings (the local stack's pollers), billed by SQS like any call:
  receives that returned messages, deletes and visibility changes are counted; empty long polls
  (a fixed cost per queue, not per message) and queue-attribute reads (the stack's own
  bookkeeping) are not;
- anything else ("bench", "setup"): not counted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.dynamo_units import TableSchema, UnitMeter
from bench.pricing import sqs_requests

APP, ESM = "app", "esm"
_ESM_BILLED = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
               "ChangeMessageVisibilityBatch"}


@dataclass
class Snapshot:
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, operation) -> calls
    sqs_requests: int = 0  # billed requests (64 KB chunks)
    events_entries: int = 0
    ddb_write_units: float = 0.0
    ddb_read_units: float = 0.0
    idle_polls: int = 0  # empty receives of the pollers, not counted
    by_item: Counter[str] = field(default_factory=Counter)  # "UpdateItem MSG" -> DynamoDB calls on that kind of item
    # DynamoDB write units by item kind and where written: "MSG table", "MSG gsi2" (bench.dynamo_units)
    write_units_by: Counter[str] = field(default_factory=Counter)

    def service_calls(self, service: str) -> int:
        return sum(n for (s, _), n in self.calls.items() if s == service)


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, (bytes, bytearray)):
        body = body.decode() if body else ""
    if isinstance(body, str) and body:
        try:
            parsed = json.loads(body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return body if isinstance(body, dict) else {}


def _size(body: Any) -> int:
    if isinstance(body, (bytes, bytearray, str)):
        return len(body)
    return len(json.dumps(body)) if body else 0


def item_kind(request: dict[str, Any]) -> str:
    """The kind of item a DynamoDB request is about: the prefix of its partition key
    (MSG, BATCH, RATE, PROVIDER...), or the index it queries."""
    if "IndexName" in request:
        return str(request["IndexName"])
    key = request.get("Key") or request.get("Item")
    if key is None:
        items = request.get("RequestItems") or {}
        first = next(iter(items.values()), None)
        if isinstance(first, list) and first:  # BatchWriteItem
            entry = first[0]
            key = (entry.get("PutRequest") or {}).get("Item") or (entry.get("DeleteRequest") or {}).get("Key")
        elif isinstance(first, dict) and first.get("Keys"):  # BatchGetItem
            key = first["Keys"][0]
        elif request.get("TransactItems"):
            body = next(iter(request["TransactItems"][0].values()))
            key = body.get("Key") or body.get("Item")
    value = (key or {}).get("pk", {})
    text = next(iter(value.values()), "") if isinstance(value, dict) and value else ""
    return str(text).split("#", 1)[0] or "?"


class CallCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._original: Any = None
        self.enabled = False
        self.schemas: dict[str, TableSchema] = {}
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------
    def install(self) -> CallCounter:
        from botocore.session import Session

        if self._original is None:
            self._original = Session.create_client
            original, counter = self._original, self

            @functools.wraps(original)
            def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
                client = original(session, *args, **kwargs)
                counter._attach(client)
                return client

            Session.create_client = create_client  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        from botocore.session import Session

        if self._original is not None:
            Session.create_client = self._original  # type: ignore[method-assign]
            self._original = None

    def reset(self) -> None:
        with self._lock:
            self.intervals: dict[str, list[tuple[float, float]]] = {}  # service -> (start, end) of the app's calls
            self._snapshot = Snapshot()
            self._meter = UnitMeter(self.schemas, _known=getattr(self, "_meter", UnitMeter({}))._known)

    def snapshot(self) -> Snapshot:
        with self._lock:
            snap = self._snapshot
            return Snapshot(Counter(snap.calls), snap.sqs_requests, snap.events_entries,
                            self._meter.write, self._meter.read, snap.idle_polls, Counter(snap.by_item),
                            Counter(self._meter.write_by))

    def busy_seconds(self, service: str) -> float:
        """Wall time during which at least one of the app's calls to `service` was in flight."""
        with self._lock:
            spans = sorted(self.intervals.get(service, []))
        total, end = 0.0, float("-inf")
        for start, stop in spans:
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total

    @contextlib.contextmanager
    def creating(self, tag: str) -> Iterator[None]:
        """Clients created in this thread meanwhile get `tag`."""
        outer = getattr(self._local, "tag", APP)
        self._local.tag = tag
        try:
            yield
        finally:
            self._local.tag = outer

    @staticmethod
    def tag(client: Any, tag: str) -> None:
        client._bench_tag[0] = tag

    # -- hooks -------------------------------------------------------------------------
    def _attach(self, client: Any) -> None:
        box = [getattr(self._local, "tag", APP)]
        client._bench_tag = box
        client.meta.events.register("before-call", functools.partial(self._before, box))
        client.meta.events.register("after-call", functools.partial(self._after, box))

    def _before(self, box: list[str], params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.enabled and box[0] in (APP, ESM):
            context["bench_request"] = params.get("body")
            context["bench_started"] = time.perf_counter()

    def _after(self, box: list[str], http_response: Any, parsed: dict[str, Any], model: Any,
               context: dict[str, Any], **_: Any) -> None:
        if not self.enabled or "bench_request" not in context:
            return
        service, operation = model.service_model.service_name, model.name
        if box[0] == APP:
            with self._lock:
                self.intervals.setdefault(service, []).append((context["bench_started"], time.perf_counter()))
        if box[0] == ESM:
            if operation == "ReceiveMessage" and not parsed.get("Messages"):
                with self._lock:
                    self._snapshot.idle_polls += 1
                return
            if operation not in _ESM_BILLED:
                return
        request = context["bench_request"]
        content = getattr(http_response, "content", b"") or b""
        error = (parsed.get("Error") or {}).get("Code") if http_response.status_code >= 300 else None
        wire = (_json(request), _json(content)) if service == "dynamodb" else None
        with self._lock:
            snap = self._snapshot
            snap.calls[(service, operation)] += 1
            if service == "sqs":
                snap.sqs_requests += sqs_requests(max(_size(request), len(content)))
            elif service == "events" and operation == "PutEvents":
                snap.events_entries += len(_json(request).get("Entries") or [])
            elif wire is not None:
                self._meter.observe(operation, wire[0], wire[1], error)
                snap.by_item[f"{operation} {item_kind(wire[0])}"] += 1
