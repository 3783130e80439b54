"""Line 7 of `make bench`: provider requests per bulk message, for each provider.

A bulk of `SIZE` recipients pinned to each provider in turn goes through the local stack; the
provider sandbox numbers each HTTP request, so the figure is requests that reached the provider
divided by messages it received. At a provider that takes lists (registry `list_max` > 1: FLOW
SMS, SMSGate) the recipients of one SQS batch share a request, so the figure measures the
design: at most one request per sender batch (10 records) there, one per message elsewhere.
"""

from __future__ import annotations

from bench.awscalls import CallCounter
from bench.report import Line
from bench.stack import started
from bench.traffic import number, post_bulk
from tamtam.providers.registry import PROVIDER_NAMES, capabilities

SECTION = "7 lists"
SIZE = 40
# A number each provider takes (Guinea for PasseInfo, Message Pro and SMSGate).
_ROUTE = {"passeinfo": "passeinfo", "messagepro": "passeinfo", "flowsms": "flowsms", "ventis": "ventis",
          "smsgate": "passeinfo"}
_TIMEOUT = 180.0


def run(counter: CallCounter) -> list[Line]:
    lines: list[Line] = []
    with started(counter) as session:
        for i, provider in enumerate(PROVIDER_NAMES):
            what = f"{provider}: provider requests per bulk message ({SIZE} recipients)"
            numbers = [number(_ROUTE[provider], 4_000_000 + i * 1_000 + n) for n in range(SIZE)]
            answer, _ = post_bulk(session, {"to": numbers, "text": f"list bench {provider}", "provider": provider})
            if answer.status_code != 202:
                lines.append(Line.missing(SECTION, what, f"answered {answer.status_code}: {answer.text[:100]}"))
                continue
            batch = session.wait_batch(answer.json()["batch_id"], timeout=_TIMEOUT)
            received = [
                o for o in session.stack.sandbox.outbox(provider=provider) if o["text"] == f"list bench {provider}"
            ]
            requests = len({o["request"] for o in received})
            if not received or not batch.get("finished_at"):
                lines.append(Line.missing(SECTION, what, f"batch not finished, {len(received)} received"))
                continue
            caps = capabilities(provider)
            ceiling = 1.0 if not caps.takes_lists else 1 / min(caps.list_max, 10) + 0.15
            value = f"{requests / len(received):.2f} ({requests} requests, {len(received)} messages)"
            target = "<= 1 a message" if not caps.takes_lists else f"<= {ceiling:.2f} (a request per sender batch)"
            lines.append(Line.check(SECTION, what, value, target, requests / len(received) <= ceiling))
    return lines
