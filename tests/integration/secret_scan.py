"""Planted secrets and the scan for them (tests/integration/test_secret_scan.py).

Every planted value is random lowercase hex behind a tag of letters that are not hex digits,
shorter than what tamtam.redact takes for a key or a token by its look alone: only its field
name, its scheme or the models hiding their input keep it out. A value is found when any 10
characters of its random part appear (pydantic's error text shows long inputs in part,
`'...b2c3d4'}`; a tenant key's stored 8-character display prefix is not a leak), and Basic
credentials also as any 12 characters of their base64 form (an echoed `Authorization` header).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

WINDOW = 10  # characters of a planted value that count as a leak
B64_WINDOW = 12


def planted(tag: str, length: int = 14) -> str:
    """A value to plant: `tag` (no hex digit in it) + `length` random lowercase hex digits."""
    if re.search("[0-9a-f]", tag):
        raise ValueError(f"tag {tag!r} has hex digits: they would count as random ones")
    return tag + secrets.token_hex(length // 2)


def random_part(value: str) -> str:
    return re.search("[0-9a-f]*$", value).group()  # type: ignore[union-attr]


def windows(value: str, size: int) -> set[str]:
    return {value[i : i + size] for i in range(max(len(value) - size + 1, 1))}


@dataclass
class Needles:
    """What must never be found, by the name of the secret it gives away."""

    fragments: dict[str, set[str]] = field(default_factory=dict)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def value(self, name: str, value: str) -> None:
        self.fragments.setdefault(name, set()).update(windows(random_part(value), WINDOW))

    def basic(self, name: str, username: str, password: str) -> None:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.fragments.setdefault(name, set()).update(windows(encoded, B64_WINDOW))

    def pattern(self, name: str, pattern: str) -> None:
        self.patterns[name] = re.compile(pattern)

    def found_in(self, text: str) -> dict[str, int]:
        """The secrets `text` gives away, each with where it first shows."""
        found: dict[str, int] = {}
        for name, fragments in self.fragments.items():
            at = min((i for f in fragments if (i := text.find(f)) >= 0), default=-1)
            if at >= 0:
                found[name] = at
        for name, pattern in self.patterns.items():
            if match := pattern.search(text):
                found[name] = match.start()
        return found


def scan(needles: Needles, places: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Per place, `<secrets found>: …<the text around the first>…` for every text there that
    gives one away (an empty list: nothing found)."""
    leaks: dict[str, list[str]] = {}
    for place, texts in places.items():
        leaks[place] = []
        for text in texts:
            if found := needles.found_in(text):
                at = min(found.values())
                leaks[place].append(f"{', '.join(found)}: …{text[max(at - 200, 0) : at + 100]}…")
    return leaks


class LogLines(logging.Handler):
    """Every record, formatted as it leaves the function (the Powertools JSON formatter: message,
    extra keys, exception and its traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def capture_logs() -> Iterator[LogLines]:
    """A LogLines handler on the functions' one Logger, at DEBUG (a generator for a fixture).
    The sandbox's own log (`tamtam.sandbox`: the providers' access log, which shows what they
    were sent, as a real provider's would) is kept out of it: it is not the functions'."""
    from tamtam.observability import logger

    lines = LogLines()
    lines.setFormatter(logger.registered_formatter)
    level = logger.log_level
    provider_side = logging.getLogger("tamtam.sandbox")
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    provider_side.propagate = False
    try:
        yield lines
    finally:
        provider_side.propagate = True
        logger.removeHandler(lines)
        logger.setLevel(level)


def drain(sqs: Any, url: str) -> list[str]:
    """Every body a queue holds now (received, then deleted)."""
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages"):
        bodies += [m["Body"] for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(batch)])
    return bodies


def items(table: Any) -> list[str]:
    """Every item of the table, as JSON."""
    out: list[str] = []
    for page in table.meta.client.get_paginator("scan").paginate(TableName=table.name):
        out += [json.dumps(item, default=str) for item in page["Items"]]
    return out
