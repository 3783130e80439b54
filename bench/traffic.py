"""Traffic the scenarios send: phone numbers per route, single sends from a few threads, bulks."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.stack import Session

# One destination per default route (tamtam.routing): Guinea -> passeinfo (then messagepro),
# Gabon -> ventis, Senegal (elsewhere) -> flowsms; each route ends with smsgate. Mobile numbers
# libphonenumber accepts: +224 62x xx xx xx, +241 06/07 xx xx xx, +221 77 xxx xx xx.
ROUTES = ("passeinfo", "ventis", "flowsms")


def number(route: str, n: int) -> str:
    """The n-th number of a route (distinct for n below 10 million, 2 million for Gabon)."""
    if route == "passeinfo":
        return f"+22462{n % 10_000_000:07d}"
    if route == "ventis":
        return f"+24106{n % 1_000_000:06d}" if n // 1_000_000 % 2 == 0 else f"+24107{n % 1_000_000:06d}"
    if route == "flowsms":
        return f"+22177{n % 10_000_000:07d}"
    raise ValueError(f"no numbers for route {route!r}")


def mixed_numbers(count: int, offset: int = 0) -> list[str]:
    """`count` distinct numbers, round-robin over the three default routes."""
    return [number(ROUTES[i % len(ROUTES)], offset + i) for i in range(count)]


def digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


@dataclass
class Accepted:
    ids: list[str] = field(default_factory=list)
    refused: dict[int, int] = field(default_factory=dict)  # HTTP status -> how many
    seconds: float = 0.0


def send_singles(session: Session, bodies: list[dict[str, Any]], threads: int = 4) -> Accepted:
    """POST /v1/messages for each body from `threads` threads; the accepted ids in order."""
    out = Accepted()

    def one(body: dict[str, Any]) -> tuple[int, str | None]:
        for attempt in range(3):
            try:
                answer = session.post("/v1/messages", body)
            except requests.RequestException:
                time.sleep(0.5 * (attempt + 1))
                continue
            ok = answer.status_code in (200, 202)  # the local stack may answer 200 (see docs/performance.md)
            return answer.status_code, answer.json().get("id") if ok else None
        return 0, None

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for status, message_id in pool.map(one, bodies):
            if message_id:
                out.ids.append(message_id)
            else:
                out.refused[status] = out.refused.get(status, 0) + 1
    out.seconds = time.monotonic() - started
    return out


def post_bulk(session: Session, body: dict[str, Any], timeout: float = 60) -> tuple[requests.Response, float]:
    """POST /v1/messages/bulk with a pre-encoded body; (answer, seconds to the answer)."""
    payload = json.dumps(body).encode()
    with session._lock:
        session.api_requests += 1
    http = requests.Session()
    http.trust_env = False
    try:
        started = time.perf_counter()
        answer = http.post(session.stack.api_url + "/v1/messages/bulk", data=payload, timeout=timeout,
                           headers={"Authorization": f"Bearer {session.key}", "Content-Type": "application/json"})
        return answer, time.perf_counter() - started
    finally:
        http.close()


def bulk_supported(session: Session) -> str | None:
    """None when bulks can go through the pipeline, else why not."""
    fanouts = [lid for lid, spec in session.stack.provisioned.functions.items()
               if spec.package == "fanout" and spec.sqs_events]
    if not fanouts:
        return "no fan-out function polling the fanout queue in template.yaml"
    return None
