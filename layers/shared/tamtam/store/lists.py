"""List requests: which of our messages each recipient of one provider list request is.

A provider that takes a list (SMSGate `phoneNumbers`) knows the request by one id and reports
each recipient by that id and a phone number. The sender writes this item before the request
leaves, so a report can always be matched to its message (tamtam.messaging.lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tamtam import clock

KEEP_SECONDS = 7 * 86400  # longer than any report comes (the poller's window is 72 h)


def _key(provider: str, list_id: str) -> dict[str, str]:
    return {"pk": f"LIST#{provider}#{list_id}", "sk": "LIST"}


def put(table: Any, provider: str, list_id: str, members: Mapping[str, str]) -> None:
    """`members`: recipient (E.164) -> message id. Written again with the same members when a
    sender retries, so it needs no condition."""
    table.put_item(Item={**_key(provider, list_id), "members": dict(members), "at": clock.iso(),
                         "expires_at": int(clock.now()) + KEEP_SECONDS})


def member(table: Any, provider: str, list_id: str, recipient: str) -> str | None:
    """The message id of `recipient` in the list request `list_id`; None when `list_id` names
    no list request (a message sent on its own) or the recipient is not in it."""
    item = table.get_item(Key=_key(provider, list_id)).get("Item")
    if not item:
        return None
    members = item.get("members") or {}
    found = members.get(recipient) or members.get("+" + recipient.lstrip("+"))
    return str(found) if found else None
