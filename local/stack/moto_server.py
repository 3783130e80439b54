"""moto's server in a process of its own: `python -m local.stack.moto_server -H 127.0.0.1 -p PORT`,
or `MotoProcess` from Python (the local stack uses it).

In its own process, moto stops sharing the GIL with the functions it serves (the AWS services
do not share a CPU with Lambda either), and its state is the server's alone (a fresh process is
a fresh account). Changes to the emulator, none to what an answer says (the first makes moto
truer to AWS):

- one DynamoDB request at a time: DynamoDB makes each conditional write atomic, moto's threaded
  server does not (two concurrent claims of one record could both win, which would be a message
  sent twice), and its transactions deep-copy the tables while other requests change them;
- a DynamoDB transaction used to deep-copy every table it touched (for its rollback), seconds
  once the table holds tens of thousands of items: it saves and restores only its own items;
- every request used to list moto's package directory to find its backend
  (`list_of_moto_modules`, under a global lock): the list is computed once;
- every SendMessage read `queue.attributes`, which counts the queue's messages three times
  (O(queue depth) per message sent: quadratic for a 10,000-message fan-out): while sending, the
  counts are left out of that dictionary (nothing reads them there);
- every received message re-read `MessageRetentionPeriod` through `get_queue_attributes`, which
  recounts the queue too: it is read from the queue directly;
- DynamoDB item operations answer with their result dumped as JSON (the item is already in
  DynamoDB's wire format) instead of moto's generic serializer, which walked every attribute of
  every returned item against the API model: half of DynamoDB's time in moto for an
  UpdateItem returning ALL_NEW (MOTO_FAST_JSON_CHECK=1 computes both and fails on a difference);
- UpdateSecretVersionStage moving AWSCURRENT also moves moto's own current version (moto
  moved the label only, so the next PutSecretValue left AWSCURRENT on two versions);
- DynamoDB Streams' GetRecords answers with its records dumped as JSON (they are already in the
  wire format), not through the generic serializer;
- a failed transaction leaves nothing in the table's stream (its rollback wrote there);
- no access-log line per request.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local.stack.child import ChildServer

_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible")
_sending = threading.local()
_patched_in_process = False
original_stream_get_records: Any = None  # moto's own, kept for the test that compares the two


def _patch_backend_listing() -> None:
    from moto import backends

    listing = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: listing  # type: ignore[assignment]


def _patch_sqs() -> None:
    from moto.core.utils import camelcase_to_underscores, unix_time
    from moto.sqs import models

    full = models.Queue.attributes.fget
    cheap = [a for a in models.Queue.BASE_ATTRIBUTES if a not in _COUNTS]

    def attributes(self: Any) -> dict[str, Any]:
        """Queue.attributes as moto computes it; while sending, without the three counts."""
        if not getattr(_sending, "active", False):
            return full(self)
        names = cheap + (list(self.FIFO_ATTRIBUTES) if self.fifo_queue else [])
        names += list(self.KMS_ATTRIBUTES) if self.kms_master_key_id else []
        result: dict[str, Any] = {name: getattr(self, camelcase_to_underscores(name)) for name in names}
        if self.policy:
            result["Policy"] = self.policy
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy)
        return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}

    def sending(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(_sending, "active", False)
            _sending.active = True
            try:
                return method(*args, **kwargs)
            finally:
                _sending.active = outer

        return wrapper

    def retained(self: Any, queue_name: str, message: Any) -> bool:
        period = float(self.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > unix_time()

    models.Queue.attributes = property(attributes)  # type: ignore[assignment]
    models.SQSBackend.send_message = sending(models.SQSBackend.send_message)  # type: ignore[method-assign]
    models.SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign]


def _quiet() -> None:
    """No access-log line per request (a tenth of the server's time under load)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _atomic_dynamodb() -> None:
    """One DynamoDB request at a time. DynamoDB makes each conditional write atomic; moto's
    threaded server does not (two claims of one record may both succeed), and a transaction
    deep-copies the tables while other requests change them."""
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    call_action = DynamoHandler.call_action

    @functools.wraps(call_action)
    def atomic(self: Any) -> Any:
        with lock:
            return call_action(self)

    DynamoHandler.call_action = atomic  # type: ignore[method-assign]


def _item_rollback_transactions() -> None:
    """TransactWriteItems without a deep copy of every table it touches (O(table size), seconds
    for a table of 20,000 items, during which no other request is served): the items it names
    are saved and put back when it fails."""
    import copy
    import types

    from moto.dynamodb import models

    real_deepcopy = copy.deepcopy

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, models.Table) else real_deepcopy(value, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy)  # that module's own `copy` name only
    transact = models.DynamoDBBackend.transact_write_items

    def _key(backend: Any, op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        name = op.get("TableName")
        if name not in backend.tables:
            return None
        if "Key" in op:
            return name, op["Key"]
        table = backend.tables[name]
        attrs = [a for a in (table.hash_key_attr, table.range_key_attr) if a]
        return name, {a: op["Item"][a] for a in attrs if a in op.get("Item", {})}

    @functools.wraps(transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        # A failed transaction leaves no stream record in DynamoDB: what its applied part and its
        # rollback wrote to a table's stream is cut off again.
        streams = {name: (t.stream_shard, len(t.stream_shard.items)) for name, t in self.tables.items()
                   if t.stream_shard is not None}
        saved = []
        for entry in transact_items:
            found = _key(self, next(iter(entry.values()))) if entry else None
            if found is not None:
                current = self.get_item(*found)
                saved.append((*found, real_deepcopy(current.to_json()["Attributes"]) if current else None))
        try:
            transact(self, transact_items)
        except BaseException:
            for name, key, attrs in reversed(saved):
                if attrs is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attrs, overwrite=True)
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


_FAST_JSON_ACTIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                                "BatchGetItem", "BatchWriteItem", "TransactWriteItems", "TransactGetItems"})


def _fast_dynamodb_json() -> None:
    """Item operations' results, dumped as JSON (see the module's docstring)."""
    import base64
    import os
    from decimal import Decimal

    from moto.core.responses import get_service_model
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.responses import DynamoHandler

    serialized = DynamoHandler.serialized
    check = os.environ.get("MOTO_FAST_JSON_CHECK") == "1"
    members: dict[str, frozenset[str]] = {}  # action -> the names its answer may hold

    def answer_members(action: str) -> frozenset[str]:
        if action not in members:
            shape = get_service_model("dynamodb").operation_model(action).output_shape
            members[action] = frozenset(shape.members if shape is not None else ())
        return members[action]

    def plain(value: Any) -> Any:
        if isinstance(value, DynamoType):
            return value.to_json()
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        raise TypeError(type(value).__name__)

    @functools.wraps(serialized)
    def fast(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if not isinstance(result, dict) or self._get_action() not in _FAST_JSON_ACTIONS:
            return serialized(self, action_result)
        try:
            allowed = answer_members(self._get_action())
            body = json.dumps({k: v for k, v in result.items() if v is not None and k in allowed}, default=plain)
        except TypeError:
            return serialized(self, action_result)
        if check:
            _status, _headers, expected = serialized(self, action_result)
            if json.loads(expected) != json.loads(body):
                raise AssertionError(f"fast JSON differs for {self._get_action()}: {body} != {expected}")
        return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

    DynamoHandler.serialized = fast  # type: ignore[method-assign]


def _fast_stream_records() -> None:
    """GetRecords of DynamoDB Streams dumped as JSON: its records are already in the wire format
    (moto's generic serializer walked every attribute of every image: about 6 ms a record)."""
    from datetime import datetime

    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return int(value.timestamp() * 1000) / 1000  # whole milliseconds, as moto's own serializer
        raise TypeError(type(value).__name__)

    def get_records(self: Any) -> Any:
        limit = self._get_param("Limit")
        result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(result, default=plain)

    global original_stream_get_records
    if original_stream_get_records is None:
        original_stream_get_records = DynamoDBStreamsHandler.get_records
    DynamoDBStreamsHandler.get_records = get_records  # type: ignore[method-assign]


def _secret_current_follows_label() -> None:
    """After AWSCURRENT moves (a rotation's finishSecret), moto's default version is the one
    holding the label, as in Secrets Manager."""
    from moto.secretsmanager import models

    update = models.SecretsManagerBackend.update_secret_version_stage

    @functools.wraps(update)
    def update_secret_version_stage(self: Any, secret_id: str, version_stage: str, remove_from_version_id: str,
                                    move_to_version_id: str) -> tuple[str, str]:
        answer = update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return answer

    models.SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]


def patch_dynamodb_in_process() -> None:
    """The DynamoDB changes above, for a moto served from the calling process (the integration
    tests' ThreadedMotoServer): atomic requests, transactions without a deep copy of the table
    (and of its stream). Applied once per process."""
    global _patched_in_process
    if _patched_in_process:
        return
    _patched_in_process = True
    _atomic_dynamodb()
    _item_rollback_transactions()
    _fast_stream_records()


def main(argv: list[str] | None = None) -> None:
    _quiet()
    _patch_backend_listing()
    _patch_sqs()
    _atomic_dynamodb()
    _item_rollback_transactions()
    _fast_stream_records()
    _secret_current_follows_label()
    _fast_dynamodb_json()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


def MotoProcess(port: int = 0, *, log_dir: Path) -> ChildServer:  # noqa: N802 (reads as the class it was)
    """This module's server as a child process of the local stack."""
    return ChildServer("local.stack.moto_server", ["-H", "127.0.0.1", "-p", "{port}"], port=port, log_dir=log_dir,
                       name="moto")


if __name__ == "__main__":
    main()
