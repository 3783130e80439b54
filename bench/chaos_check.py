"""The invariants `make chaos` checks, from what was accepted, what the table says, what the
providers' outboxes hold, what reached the sandbox, what the bus carried and what was logged.
Every message goes to its own number, so an outbox entry or a provider request names its
message by its recipient.

- lost 0: every accepted message has a record, and none is left unfinished with nothing queued
  to finish it;
- stuck 0: every message is done (sent, delivered, failed, unconfirmed, cancelled, expired);
- sent twice 0: SMSGate never holds one of its message ids twice for one recipient (a list
  request's recipients share an id), and no provider holds one message twice unless the message
  is recorded `unconfirmed`;
- ambiguity recorded: no message a provider took is recorded `failed`, and none recorded
  `sent` is missing from every outbox;
- unconfirmed only when the request may have reached the provider: no `unconfirmed` message
  whose number the sandbox never received a request for (bench.chaos_provider `Wire`);
- a send the API refused (5xx) never reaches a provider (it was not accepted);
- every batch `completed` (`finished_at` set), its `count_<status>` equal to a recount of its
  records;
- every entry of every message's `history` has its event on the bus (`event_id`
  "<message id>:<index>");
- no secret in any log line (bench.chaos_logs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
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
    # checked only when the run observed them (None: not measured)
    unconfirmed_never_received: list[str] | None = None  # not explained by a death in flight (below)
    # Unconfirmed, never received, and its sender died between its dispatch mark and its outcome
    # write: its request was about to leave, or in flight (a TLS handshake failing, then death
    # before the release was written). From what the table holds it may have reached the
    # provider: `unconfirmed` is the honest status (docs/lifecycle.md).
    never_received_stopped: int = 0
    never_received_tls: int = 0
    refused: int = 0  # API answers 5xx (not accepted)
    refused_but_sent: list[str] | None = None  # numbers
    batches: int = 0
    batches_incomplete: list[str] | None = None  # "<batch id> (<why>)"
    batches_miscounted: list[str] | None = None  # "<batch id> (<status> <counter>≠<recount>, ...)"
    transitions: int = 0
    events_missing: list[str] | None = None  # "<message id>:<n>"
    events_received: int = 0
    events_without_id: int = 0
    events_by_status_missing: int = 0  # transitions with no event of that message and status at all
    leaks: list[str] | None = None  # "<what>: <line>"
    log_lines: int = 0

    def flagged(self) -> list[str]:
        """Message ids an invariant flagged."""
        events = {e.rsplit(":", 1)[0] for e in self.events_missing or []}
        return sorted({*self.lost, *self.stuck, *self.twice, *self.twice_unconfirmed, *self.taken_but_failed,
                       *self.sent_not_taken, *(self.unconfirmed_never_received or []), *list(events)[:50]})


def check(accepted: dict[str, str], items: dict[str, dict[str, Any]], outbox: list[dict[str, Any]],
          queues_empty: bool, received: Callable[[str], int] | None = None,
          stopped: Callable[[str], int] | None = None, tls_refused: Callable[[str], int] | None = None) -> Findings:
    """`accepted`: message id -> its number; `items`: message id -> record (status, reason...);
    `received`: number -> provider requests the sandbox received naming it."""
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
            # A list request holds one id for all its recipients: an id twice for one number.
            smsgate_ids[f"{entry['provider_message_id']} to {digits(entry.get('to', ''))}"] += 1
    f.smsgate_twice = sorted(i for i, n in smsgate_ids.items() if n > 1)
    if received is not None:
        f.unconfirmed_never_received = []
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
            if received is not None and not received(accepted[message_id]):
                if stopped is not None and stopped(accepted[message_id]):
                    f.never_received_stopped += 1
                elif tls_refused is not None and tls_refused(accepted[message_id]):
                    f.never_received_tls += 1
                else:
                    f.unconfirmed_never_received.append(message_id)  # type: ignore[union-attr]
    return f


def check_refused(f: Findings, refused_numbers: list[str], outbox: list[dict[str, Any]]) -> None:
    """Sends the API answered with a 5xx: not accepted, so never sent."""
    f.refused = len(refused_numbers)
    refused = {digits(n) for n in refused_numbers}
    f.refused_but_sent = sorted({digits(e.get("to", "")) for e in outbox} & refused)


def check_batches(f: Findings, batches: dict[str, dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """`batches`: batch id -> its BATCH item (flat); `records`: every message record (flat)."""
    recount: dict[str, Counter[str]] = {b: Counter() for b in batches}
    for record in records:
        if record.get("batch_id") in recount:
            recount[record["batch_id"]][str(record.get("status"))] += 1
    f.batches = len(batches)
    f.batches_incomplete, f.batches_miscounted = [], []
    for batch_id, item in batches.items():
        counts = {k[len("count_"):]: int(v) for k, v in item.items() if k.startswith("count_")}
        actual = recount[batch_id]
        if not item.get("finished_at"):
            done = sum(n for s, n in actual.items() if s in DONE)
            f.batches_incomplete.append(
                f"{batch_id} (state {item.get('state')}, {done}/{item.get('total')} records done,"
                f" counters say {sum(n for s, n in counts.items() if s in DONE)})"
            )
        wrong = [f"{s} {counts.get(s, 0)}≠{actual.get(s, 0)}" for s in sorted(set(counts) | set(actual))
                 if counts.get(s, 0) != actual.get(s, 0)]
        if wrong:
            f.batches_miscounted.append(f"{batch_id} ({', '.join(wrong)})")


def check_events(f: Findings, histories: dict[str, list[dict[str, Any]]], event_ids: Mapping[str, int],
                 by_status: Mapping[tuple[str, str], int], received: int, without_id: int) -> None:
    """`histories`: message id -> its history entries; `event_ids`: event_id -> events seen."""
    f.events_missing, f.transitions = [], 0
    f.events_received, f.events_without_id = received, without_id
    for message_id, history in histories.items():
        for n, entry in enumerate(history):
            f.transitions += 1
            if not event_ids.get(f"{message_id}:{n}"):
                f.events_missing.append(f"{message_id}:{n}")
            if not by_status.get((message_id, str(entry.get("status")))):
                f.events_by_status_missing += 1


def _ids(ids: list[str]) -> str:
    return f"{len(ids)}" + (f" (e.g. {', '.join(ids[:3])})" if ids else "")


def lines(f: Findings) -> list[Line]:
    statuses = ", ".join(f"{s} {n}" for s, n in f.statuses.most_common())
    reasons = ", ".join(f"{r} {n}" for r, n in f.reasons.most_common(6))
    out = [
        Line(SECTION, "accepted messages", f"{f.accepted}"),
        Line(SECTION, "final statuses", statuses),
        Line(SECTION, "failed / unconfirmed reasons", reasons or "none"),
        Line.check(SECTION, "lost (no record, or unfinished with nothing queued)", _ids(f.lost), "0", not f.lost),
        Line.check(SECTION, "stuck (not done after the windows)", _ids(f.stuck), "0", not f.stuck),
        Line.check(
            SECTION, "sent twice by SMSGate (same message id twice)", _ids(f.smsgate_twice), "0", not f.smsgate_twice
        ),
        Line.check(SECTION, "sent twice elsewhere, not recorded unconfirmed", _ids(f.twice), "0", not f.twice),
        Line(SECTION, "sent twice, recorded unconfirmed", _ids(f.twice_unconfirmed)),
        Line.check(
            SECTION, "taken by a provider but recorded failed", _ids(f.taken_but_failed), "0", not f.taken_but_failed
        ),
        Line.check(SECTION, "recorded sent but in no outbox", _ids(f.sent_not_taken), "0", not f.sent_not_taken),
        Line(
            SECTION,
            "unconfirmed: taken / not taken by the provider",
            f"{f.unconfirmed_taken} / {f.unconfirmed_not_taken}",
        ),
    ]
    if f.unconfirmed_never_received is not None:
        out.append(Line.check(SECTION, "unconfirmed, the sandbox never received a request (sender not dead in flight)",
                              _ids(f.unconfirmed_never_received), "0", not f.unconfirmed_never_received))
        out.append(Line(SECTION, "unconfirmed, never received, sender died in flight (after its dispatch mark)",
                        f"{f.never_received_stopped + f.never_received_tls} ({f.never_received_stopped} with the "
                        f"request about to leave, {f.never_received_tls} after a failed TLS handshake)"))
    if f.refused_but_sent is not None:
        out.append(
            Line.check(
                SECTION,
                f"answered 5xx (not accepted, {f.refused}) but sent",
                _ids(f.refused_but_sent),
                "0",
                not f.refused_but_sent,
            )
        )
    if f.batches_incomplete is not None:
        out.append(Line.check(SECTION, f"batches not completed (of {f.batches})", _ids(f.batches_incomplete), "0",
                              not f.batches_incomplete))
    if f.batches_miscounted is not None:
        out.append(Line.check(SECTION, "batches whose counters differ from a recount", _ids(f.batches_miscounted), "0",
                              not f.batches_miscounted))
    if f.events_missing is not None:
        extra = f"; {f.events_received} events read"
        if f.events_without_id:
            extra += (
                f", {f.events_without_id} without event_id"
                f" ({f.events_by_status_missing} transitions have no event of their status at all)"
            )
        out.append(Line.check(SECTION, f"history entries without their event on the bus (of {f.transitions})",
                              _ids(f.events_missing) + extra, "0", not f.events_missing))
    if f.leaks is not None:
        out.append(
            Line.check(
                SECTION,
                f"log lines holding a key, token, password or code (of {f.log_lines})",
                _ids(f.leaks),
                "0",
                not f.leaks,
            )
        )
    out.append(Line(SECTION, "outbox entries of no accepted message", f"{f.stray_entries}"))
    return out
