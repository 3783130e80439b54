"""The invariants `make chaos` checks, from what was accepted, what the table says and what the
providers' outboxes hold. Every accepted message goes to its own number, so an outbox entry
names its message by its recipient.

- lost 0: every accepted message has a record, and none is left unfinished with nothing queued
  to finish it;
- stuck 0: every message is done (sent, delivered, failed, unconfirmed, cancelled, expired);
- sent twice 0: SMSGate never holds one of our message ids twice, and no provider holds one
  message twice unless the message is recorded `unconfirmed`;
- ambiguity recorded: no message a provider took is recorded `failed`, and none recorded
  `sent` is missing from every outbox.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.report import Line

DONE = frozenset({"sent", "delivered", "failed", "unconfirmed", "cancelled", "expired"})
SECTION = "chaos"


def digits(phone: str) -> str:
    return "".join(c for c in str(phone) if c.isdigit())


@dataclass
class Findings:
    accepted: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)  # "<status>: <reason>"
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    smsgate_twice: list[str] = field(default_factory=list)
    twice: list[str] = field(default_factory=list)  # two outbox entries, not recorded unconfirmed
    twice_unconfirmed: list[str] = field(default_factory=list)
    taken_but_failed: list[str] = field(default_factory=list)
    sent_not_taken: list[str] = field(default_factory=list)
    unconfirmed_taken: int = 0
    unconfirmed_not_taken: int = 0
    stray_entries: int = 0  # outbox entries of no accepted message


def check(accepted: dict[str, str], items: dict[str, dict[str, Any]], outbox: list[dict[str, Any]],
          queues_empty: bool) -> Findings:
    """`accepted`: message id -> its number; `items`: message id -> record (status, reason...)."""
    f = Findings(accepted=len(accepted))
    by_number = {digits(n): m for m, n in accepted.items()}
    taken: Counter[str] = Counter()
    smsgate_ids: Counter[str] = Counter()
    for entry in outbox:
        message_id = by_number.get(digits(entry.get("to", "")))
        if message_id is None:
            f.stray_entries += 1
            continue
        taken[message_id] += 1
        if entry.get("provider") == "smsgate" and entry.get("provider_message_id"):
            smsgate_ids[str(entry["provider_message_id"])] += 1
    f.smsgate_twice = sorted(i for i, n in smsgate_ids.items() if n > 1)
    for message_id in accepted:
        item = items.get(message_id)
        if item is None:
            f.lost.append(message_id)
            continue
        status = str(item.get("status"))
        f.statuses[status] += 1
        if item.get("reason") and status in ("failed", "unconfirmed"):
            f.reasons[f"{status}: {item['reason']}"] += 1
        if status not in DONE:
            f.stuck.append(message_id)
            if queues_empty:
                f.lost.append(message_id)
        n = taken[message_id]
        if n > 1:
            (f.twice_unconfirmed if status == "unconfirmed" else f.twice).append(message_id)
        if status == "failed" and n:
            f.taken_but_failed.append(message_id)
        if status in ("sent", "delivered") and not n:
            f.sent_not_taken.append(message_id)
        if status == "unconfirmed":
            if n:
                f.unconfirmed_taken += 1
            else:
                f.unconfirmed_not_taken += 1
    return f


def _ids(ids: list[str]) -> str:
    return f"{len(ids)}" + (f" (e.g. {', '.join(ids[:3])})" if ids else "")


def lines(f: Findings) -> list[Line]:
    statuses = ", ".join(f"{s} {n}" for s, n in f.statuses.most_common())
    reasons = ", ".join(f"{r} {n}" for r, n in f.reasons.most_common(6))
    return [
        Line(SECTION, "accepted messages", f"{f.accepted}"),
        Line(SECTION, "final statuses", statuses),
        Line(SECTION, "failed / unconfirmed reasons", reasons or "none"),
        Line.check(SECTION, "lost (no record, or unfinished with nothing queued)", _ids(f.lost), "0", not f.lost),
        Line.check(SECTION, "stuck (not done after the windows)", _ids(f.stuck), "0", not f.stuck),
        Line.check(SECTION, "sent twice by SMSGate (same message id twice)", _ids(f.smsgate_twice), "0", not f.smsgate_twice),
        Line.check(SECTION, "sent twice elsewhere, not recorded unconfirmed", _ids(f.twice), "0", not f.twice),
        Line(SECTION, "sent twice, recorded unconfirmed", _ids(f.twice_unconfirmed)),
        Line.check(SECTION, "taken by a provider but recorded failed", _ids(f.taken_but_failed), "0", not f.taken_but_failed),
        Line.check(SECTION, "recorded sent but in no outbox", _ids(f.sent_not_taken), "0", not f.sent_not_taken),
        Line(SECTION, "unconfirmed: taken / not taken by the provider", f"{f.unconfirmed_taken} / {f.unconfirmed_not_taken}"),
        Line(SECTION, "outbox entries of no accepted message", f"{f.stray_entries}"),
    ]
