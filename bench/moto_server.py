"""`python -m bench.moto_server -p PORT`: moto's server in its own process, for the bench.

Run in its own process, moto stops sharing the GIL with the functions it serves (the AWS
services do not share a CPU with Lambda either). Four changes to the emulator, none to what an
answer says:

- one DynamoDB request at a time: DynamoDB makes each conditional write atomic, moto's threaded
  server does not (two concurrent claims of one record could both win, which the chaos run
  would report as a message sent twice), and its transactions deep-copy the tables while other
  requests change them;
- every request used to list moto's package directory to find its backend
  (`list_of_moto_modules`, under a global lock): the list is computed once;
- every SendMessage read `queue.attributes`, which counts the queue's messages three times
  (O(queue depth) per message sent: quadratic for a 10,000-message fan-out): while sending, the
  counts are left out of that dictionary (nothing reads them there);
- every received message re-read `MessageRetentionPeriod` through `get_queue_attributes`, which
  recounts the queue too: it is read from the queue directly;
- no access-log line per request.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible")
_sending = threading.local()


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


def main(argv: list[str] | None = None) -> None:
    _quiet()
    _patch_backend_listing()
    _patch_sqs()
    _atomic_dynamodb()
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
