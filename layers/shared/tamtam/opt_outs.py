"""Opt-outs (README "Inbound messages and opt-outs"): the keywords an inbound text is matched
against, and the check every send path makes before it accepts a recipient.

- A received text whose whole content, trimmed of spaces and of trailing `.`/`!`, compared
  without case or accents, is an opt-out keyword (settings `opt_out_keywords`: STOP, ARRET
  (so ARRÊT, Arrêt), STOPALL, UNSUBSCRIBE, DESABONNER) puts its sender on the tenant's list; an
  opt-in keyword (`opt_in_keywords`: START) takes it off. "Stop sending me this" is not a
  keyword: only a text that is nothing but the keyword.
- A single send to a number on the list answers 422 `recipient_opted_out` (field `to`),
  unless it is marked transactional and the tenant's setting `opt_outs_exempt_transactional`
  (default true) lets it through. In a bulk the number is rejected with that code and counted
  in `rejected_count`. One-time codes are never blocked: the person asked for the code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any, Literal

from tamtam import tenant_settings
from tamtam.errors import InvalidRequest
from tamtam.settings import get_settings
from tamtam.store import opt_outs

OPTED_OUT = "recipient_opted_out"
Action = Literal["opt_out", "opt_in"]
_TRAILING = " \t\r\n.!"


def normalise(text: str) -> str:
    """Upper case, accents removed (NFKD without the combining marks), spaces and trailing
    `.`/`!` trimmed: `" Arrêt! "` -> `ARRET`."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.strip().rstrip(_TRAILING).strip().upper()


def keyword_action(text: str, *, opt_out: Iterable[str] | None = None,
                   opt_in: Iterable[str] | None = None) -> tuple[Action, str] | None:
    """(`opt_out` | `opt_in`, the keyword as configured) when the text is a keyword, else None."""
    settings = get_settings()
    said = normalise(text)
    if not said:
        return None
    for action, words in (("opt_out", opt_out if opt_out is not None else settings.opt_out_keywords),
                          ("opt_in", opt_in if opt_in is not None else settings.opt_in_keywords)):
        for word in words:
            if normalise(word) == said:
                return action, word  # type: ignore[return-value]
    return None


def check_single(table: Any, tenant_id: str, to: str, *, transactional: bool = False) -> None:
    """Raise 422 `recipient_opted_out` when `to` is on the tenant's list and the send may not
    go to it (one GetItem, and for a transactional send the cached tenant settings first)."""
    if transactional and tenant_settings.opt_outs_exempt_transactional(table, tenant_id):
        return
    if opt_outs.get(table, tenant_id, to) is not None:
        raise InvalidRequest("this number opted out of your messages (it replied STOP); "
                             "DELETE /v1/opt-outs/{phone} if it asked to hear from you again",
                             field="to", code=OPTED_OUT)


def opted_out(table: Any, tenant_id: str, numbers: Iterable[str]) -> set[str]:
    """The numbers of a bulk that are on the tenant's list."""
    return opt_outs.opted_out_among(table, tenant_id, numbers)
