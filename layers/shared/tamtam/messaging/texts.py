"""The text handed to the provider for a message. Usually the stored text; for a recipient of a
bulk batch that is not a template, the batch's text (not stored in each record: tamtam.store.
message_item); for a one-time code, the stored template rendered with the code, which exists
only in memory here."""

from __future__ import annotations

import threading
from typing import Any

from tamtam.store import batches
from tamtam.store.message_item import MessageItem

_BATCH_TEXTS_KEPT = 256
_batch_texts: dict[str, str] = {}  # batch id -> its text (a batch's text never changes)
_lock = threading.Lock()


def text_for(message: MessageItem, *, table: Any, kms: Any | None = None) -> str:
    """For an OTP message: raises tamtam.otp.errors.OtpUnavailable (after recording the
    message failed) when the code is expired, used, locked or gone. LookupError: the text is
    the batch's and the batch is not there (nothing can be sent)."""
    if message.otp_id is None:
        if message.text or message.batch_id is None:
            return message.text
        return _batch_text(table, message.batch_id)
    from tamtam import aws  # noqa: PLC0415  (plain messages never pay for the OTP path)
    from tamtam.otp.delivery import code_text  # noqa: PLC0415

    return code_text(message, table=table, kms=kms or aws.client("kms"))


def _batch_text(table: Any, batch_id: str) -> str:
    """The batch's text, read once per process and batch (the batch item is written before any
    of its records, so a strongly consistent read finds it)."""
    with _lock:
        cached = _batch_texts.get(batch_id)
    if cached is not None:
        return cached
    batch = batches.get_batch(table, batch_id)
    if batch is None:
        raise LookupError(f"batch {batch_id} not found: its recipients' text is unknown")
    with _lock:
        if len(_batch_texts) >= _BATCH_TEXTS_KEPT:
            _batch_texts.clear()
        _batch_texts[batch_id] = batch.text
    return batch.text
