"""Named points between the steps of the lifecycle where a test, or `make chaos`, can make an
invocation die (the way a Lambda runtime dies: nothing after the point runs, no cleanup).

In production nothing is installed and `hit` is a dictionary lookup. A test installs a handler
with `install`; the handler decides, per point, whether to raise `Killed`. `Killed` derives from
BaseException so that no `except Exception` in the code path can swallow it: a dead process
runs no error handling either.

The points (each is named where it is hit):
- `accept.enqueued`      the api put the message on its queue, the record is not written yet
- `scheduler.enqueued`   the scheduler put a due message on its queue, the record still `scheduled`
- `sender.before_claim`  the sender got a queue message, nothing written for it yet
- `sender.claimed`       the record is claimed (`sending`, or a stale claim taken over), nothing
                         prepared (breaker, secret, client, text, pacing slot), no dispatch mark
- `sender.called`        the provider answered, the outcome not written yet
- `sender.recorded`      the outcome is written, the invocation not finished
- `fanout.written`       a slice of a chunk's records is written, not enqueued yet
- `fanout.enqueued`      a slice is enqueued, the chunk not marked done yet
- `lifecycle.published`  the change-stream consumer published its events, counters not written yet
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[str, dict[str, Any]], None]

_handler: Handler | None = None


class Killed(BaseException):
    """The invocation died at a failpoint."""

    def __init__(self, point: str):
        super().__init__(point)
        self.point = point


def hit(point: str, **context: Any) -> None:
    """Reached `point`; the installed handler (if any) may raise `Killed`."""
    handler = _handler
    if handler is not None:
        handler(point, context)


def install(handler: Handler) -> None:
    global _handler
    _handler = handler


def uninstall() -> None:
    global _handler
    _handler = None
