"""`make chaos`: 1,000 messages (260 single sends of which 80 scheduled, 140 OTPs, three bulks of
200) through the local stack under every fault below at once; then the faults stop, the retry and
redelivery windows run out and the invariants of bench.chaos_check are checked, one line each.
`tests/e2e/test_chaos.py` runs the same with `SHORT` (a few hundred messages).

The faults, and where each is made and counted (all counted from the run itself):
- providers: 5xx, timeouts, slow answers, answers lost after the message was taken (sandbox
  control API; applied ones from the sandbox's log) -- bench.chaos_provider `FaultInjector`;
- a provider whose TLS handshake fails: PasseInfo's base URL on a loopback server that breaks
  every handshake, for a few seconds every so often (handshakes counted by that server) --
  `TlsOutage`;
- AWS: throttles and 500s of DynamoDB, SQS, Secrets Manager, KMS and EventBridge, and
  TransactionConflict on batch items, through botocore's event hooks on the functions' clients
  -- bench.chaos_aws;
- invocations killed at every failpoint of tamtam.failpoints (the api between its enqueue and
  its record write included), and senders' invocations given too little time -- bench.chaos_kills;
- SQS at least once: 5 % of records delivered again later, and fan-out chunks delivered twice at
  the same moment (two concurrent invocations) -- local.stack.pollers `duplicate_rate`,
  `simultaneous`.
Faults stop once 97 % of the messages are done and every kind was applied `min_applied` times,
or `fault_seconds` after the traffic. When the traffic is done before every kind was applied
often enough (how many requests fall inside a TLS outage, or reach a failpoint that kills, is
chance), the run sends top-up singles through PasseInfo (`TOP_UP` every pass, 3 s apart), which
count as accepted messages like the others, until every kind is covered or the time is up.
Status events are read from the bus (bench.chaos_events), log lines from this process
(bench.chaos_logs), the requests the sandbox received from the wire (bench.chaos_provider `Wire`).

Short settings, for this run's local stack only (`Plan.env`): retries after 1 s (at most 4 s), a
claim is stale after 15 s, the providers' read timeout is 2 s (the injected timeouts hold 3 s),
provider secrets are cached 2 s, fan-out chunks of 20 recipients, the scheduler looks 3 s ahead,
the sweeper corrects the counters of batches quiet for 60 s,
and the main queues' visibility timeout is 20 s instead of infra's 180 s (a killed batch comes
back after 20 s instead of 3 minutes). The scheduled functions but the status poller, balance
checker and rotation (so the scheduler, and any sweeper) run 20 times faster than their rate.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.awscalls import CallCounter
from bench.chaos_aws import KINDS as AWS_KINDS
from bench.chaos_aws import AwsFaults
from bench.chaos_check import DONE, SECTION, Findings, check, check_batches, check_events, check_refused, digits, lines
from bench.chaos_events import BusTap
from bench.chaos_kills import POINTS, Kills
from bench.chaos_logs import LogCapture, Secrets, leaks
from bench.chaos_provider import MODES, FaultInjector, TlsOutage, TlsRefuser, Wire
from bench.report import MISS, NOT_MEASURED, Line
from bench.stack import ALL_PROVIDERS, Session, _reset_layer_caches, function_ids, started
from bench.traffic import bulk_supported, number, post_bulk
from local.stack.stack import REPO_ROOT

DETAILS = REPO_ROOT / ".bench" / "chaos-details.json"
SEED = int(os.environ.get("CHAOS_SEED", "7"))
OTP_TEMPLATE = "Chaos code {{code}} ok"
_OTP_CODE = re.compile(r"Chaos code (\d+) ok")
_UNSCHEDULED = {"status_poller", "balance_checker", "rotation"}  # schedules the chaos run does not fire
TOP_UP = 10  # singles a pass while a fault kind is applied too rarely and the traffic is done
_TOP_UP_BASE = 150_000  # their numbers' offset: apart from the singles', the bulks' and the codes'


@dataclass(frozen=True)
class Plan:
    singles: int = 260
    scheduled: int = 80  # of the singles
    otps: int = 140
    bulks: int = 3
    bulk_size: int = 200
    chunk: int = 20  # BULK_CHUNK_RECIPIENTS
    visibility: int = 20
    claim_stale: int = 15
    fault_seconds: float = 150  # faults stop at the latest this long after the traffic (or at 97 % done)
    wait_seconds: float = 480  # the whole run, faults and windows
    min_applied: int = 20  # each fault kind at least this often
    # per failpoint: each is reached a different number of times per message (the senders' points
    # once per attempt, the scheduler's per scheduled message, the fan-out's per slice of a chunk)
    kill_rates: dict[str, float] = field(default_factory=lambda: {
        "accept.enqueued": 0.1, "scheduler.enqueued": 0.3, "sender.before_claim": 0.012, "sender.claimed": 0.025,
        "sender.called": 0.04, "sender.recorded": 0.035, "fanout.written": 0.45, "fanout.enqueued": 0.45,
        "lifecycle.published": 0.4})
    kill_budget: int = 40
    short_rate: float = 0.1
    # Status changes go on the bus grouped per lifecycle invocation (STATUS_EVENTS=grouped): a
    # few PutEvents calls a second, so EventBridge faults need a high rate to be seen often.
    aws_rates: dict[str, float] = field(default_factory=lambda: {
        "dynamodb": 0.01, "sqs": 0.08, "secrets-manager": 0.15, "kms": 0.25, "eventbridge": 0.4})
    conflict_rate: float = 0.25
    aws_budget: int = 40
    twin_rate: float = 0.8
    duplicate_rate: float = 0.05
    tls_every: float = 20
    tls_period: float = 8
    schedule_speedup: float = 20
    seed: int = SEED

    @property
    def messages(self) -> int:
        return self.singles + self.otps + self.bulks * self.bulk_size

    def env(self) -> dict[str, str]:
        return {
            "RETRY_BASE_SECONDS": "1",
            "RETRY_MAX_SECONDS": "4",
            "CLAIM_STALE_SECONDS": str(self.claim_stale),
            "PROVIDER_RATE_LIMITS": json.dumps(dict.fromkeys(ALL_PROVIDERS, 1000)),
            "SECRET_MAX_AGE_SECONDS": "2",
            "BULK_CHUNK_RECIPIENTS": str(self.chunk),
            "SCHEDULER_LOOKAHEAD_SECONDS": "3",
            # The sweeper corrects counters of batches quiet this long: longer than the stream's
            # retries of a failing batch can take here (20 retries, pauses up to 5 s: about 90 s,
            # plus the invocations), or a change still in the stream would count twice.
            "SWEEP_QUIET_SECONDS": "150",
            # The run sends codes to consecutive numbers, exactly what the per-range velocity limit
            # refuses as SMS pumping (tamtam.otp.limits; a limit across tenants: no tenant setting).
            "OTP_RANGE_MAX_SENDS": "0",
            **{f"TAMTAM_{p.upper()}_READ_TIMEOUT": "2" for p in ALL_PROVIDERS},
            **{f"TAMTAM_{p.upper()}_CONNECT_TIMEOUT": "1" for p in ALL_PROVIDERS},
        }


FULL = Plan()
# The e2e run: a few hundred messages, every fault kind a few times, under ~3 minutes.
SHORT = Plan(singles=90, scheduled=20, otps=50, bulks=2, bulk_size=80, chunk=10, visibility=10, claim_stale=8,
             fault_seconds=45, wait_seconds=170, min_applied=3, kill_budget=10, short_rate=0.15,
             kill_rates={"accept.enqueued": 0.1, "scheduler.enqueued": 0.4, "sender.before_claim": 0.03,
                         "sender.claimed": 0.04, "sender.called": 0.06, "sender.recorded": 0.08, "fanout.written": 0.35,
                         "fanout.enqueued": 0.35, "lifecycle.published": 0.3},
             aws_rates={"dynamodb": 0.02, "sqs": 0.08, "secrets-manager": 0.15, "kms": 0.2, "eventbridge": 0.4},
             # Bulk recipients now share provider requests (tamtam.messaging.lists), so their
             # changes reach the batch counters in fewer transactions: a higher rate keeps the
             # conflicts at least `min_applied`.
             conflict_rate=0.4, aws_budget=10, tls_every=8, tls_period=5)


# -- traffic ---------------------------------------------------------------------------------

_SINGLE_KINDS = (("passeinfo", None), ("ventis", None), ("flowsms", None), ("passeinfo", "smsgate"),
                 ("passeinfo", "messagepro"))
_OTP_ROUTES = ("passeinfo", "flowsms", "ventis")


@dataclass
class Traffic:
    accepted: dict[str, str] = field(default_factory=dict)  # message id (or "otp:<id>") -> number
    otps: dict[str, str] = field(default_factory=dict)  # otp id -> number
    batches: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # numbers the API answered 5xx for
    other: Counter[int] = field(default_factory=Counter)  # other refusals, by status
    samples: dict[int, str] = field(default_factory=dict)  # status -> one answer's body
    lock: threading.Lock = field(default_factory=threading.Lock)
    top_ups: int = 0  # top-up singles sent (accepted or not)

    def answer(self, status: int, numbers: list[str], body: str = "") -> None:
        with self.lock:
            if status >= 500:
                self.refused += numbers
            else:
                self.other[status] += len(numbers)
            self.samples.setdefault(status, body[:300])


def _send_singles(session: Session, plan: Plan, traffic: Traffic) -> None:
    bodies = []
    for i in range(plan.singles):
        route, pinned = _SINGLE_KINDS[i % len(_SINGLE_KINDS)]
        body: dict[str, Any] = {"to": number(route, 100_000 + i), "text": f"chaos single {i}"}
        if pinned:
            body["provider"] = pinned
        if (
            i % max(plan.singles // max(plan.scheduled, 1), 1) == 0
            and sum("schedule_at" in b for b in bodies) < plan.scheduled
        ):
            body["schedule_at"] = 10 + i % 20  # seconds from the request
        bodies.append(body)

    def one(body: dict[str, Any]) -> None:
        if "schedule_at" in body:
            at = datetime.now(UTC) + timedelta(seconds=body["schedule_at"])
            body = {**body, "schedule_at": at.isoformat(timespec="seconds")}
        answer = session.post("/v1/messages", body)
        if answer.status_code == 202:
            with traffic.lock:
                traffic.accepted[answer.json()["id"]] = body["to"]
        else:
            traffic.answer(answer.status_code, [body["to"]], answer.text)

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(one, bodies))


def _top_up(session: Session, traffic: Traffic) -> None:
    """`TOP_UP` more singles through PasseInfo: its TLS outages and the api's failpoint only
    apply to traffic."""
    def one(k: int) -> None:
        to = number("passeinfo", _TOP_UP_BASE + k)
        answer = session.post("/v1/messages", {"to": to, "text": f"chaos top-up {k}"})
        if answer.status_code == 202:
            with traffic.lock:
                traffic.accepted[answer.json()["id"]] = to
        else:
            traffic.answer(answer.status_code, [to], answer.text)

    first = traffic.top_ups
    traffic.top_ups += TOP_UP
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(one, range(first, first + TOP_UP)))


def _send_otps(session: Session, plan: Plan, traffic: Traffic) -> None:
    def one(i: int) -> None:
        to = number(_OTP_ROUTES[i % len(_OTP_ROUTES)], 300_000 + i)
        answer = session.post("/v1/otp", {"to": to, "template": OTP_TEMPLATE})
        if answer.status_code in (200, 201, 202):
            with traffic.lock:
                traffic.otps[answer.json()["id"]] = to
        else:
            traffic.answer(answer.status_code, [to], answer.text)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(plan.otps)))


def _send_bulks(session: Session, plan: Plan, traffic: Traffic) -> None:
    """Guinea on its route, Gabon and Senegal mixed, Guinea pinned to SMSGate; a bulk answered
    5xx is not accepted: it is sent again with other numbers (at most 5 times)."""
    from tamtam.store.batches import message_id_for

    for b in range(plan.bulks):
        for attempt in range(5):
            base = 200_000 + b * 10_000 + attempt * 1_000
            if b % 3 == 1:
                to = [number("ventis" if i % 2 else "flowsms", base + i) for i in range(plan.bulk_size)]
            else:
                to = [number("passeinfo", base + i) for i in range(plan.bulk_size)]
            body: dict[str, Any] = {"to": to, "text": f"chaos bulk {b}"}
            if b % 3 == 2:
                body["provider"] = "smsgate"
            answer, _ = post_bulk(session, body)
            if answer.status_code == 202:
                batch_id = answer.json()["batch_id"]
                with traffic.lock:
                    traffic.batches.append(batch_id)
                    traffic.accepted.update({message_id_for(batch_id, i): n for i, n in enumerate(to)})
                break
            traffic.answer(answer.status_code, to, answer.text)
            if answer.status_code < 500:
                break


# -- the table, read at the end --------------------------------------------------------------


def _scan(session: Session) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(message id -> record, batch id -> BATCH item), every one of the table, read consistently."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    records: dict[str, dict[str, Any]] = {}
    batches: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": session.table, "ConsistentRead": True}
    while True:
        page = session.ddb.scan(**kwargs)
        for raw in page["Items"]:
            item = {k: plain.deserialize(v) for k, v in raw.items()}
            if item.get("sk") == "MSG":
                records[str(item["pk"]).split("#", 1)[1]] = item
            elif item.get("sk") == "BATCH":
                batches[str(item["pk"]).split("#", 1)[1]] = item
        if "LastEvaluatedKey" not in page:
            return records, batches
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Result:
    lines: list[Line]
    findings: Findings

    @property
    def failed(self) -> list[Line]:
        return [ln for ln in self.lines if ln.verdict in (MISS, NOT_MEASURED)]


@contextlib.contextmanager
def _installed(undo: list[Callable[[], None]]) -> Iterator[list[Callable[[], None]]]:
    try:
        yield undo
    finally:
        while undo:
            with contextlib.suppress(Exception):
                undo.pop()()


def _fire_schedules(session: Session, plan: Plan) -> Any:
    from local.stack.schedules import Schedules
    from local.stack.stack import schedules_from

    specs = [s for s in schedules_from(session.stack.provisioned)
             if session.stack.provisioned.functions[s.function].package not in _UNSCHEDULED]
    return Schedules(session.stack.invoker, specs, region=session.stack.region, speedup=plan.schedule_speedup).start()


def _wait(session: Session, ids: Callable[[], list[str]], until: float, stop_faults: threading.Event,
          quiet_after: float) -> None:
    """Until every message is done or `until`; faults stop once 97 % are done or at `quiet_after`."""
    while time.monotonic() < until:
        current = ids()
        statuses = session.statuses(current)
        done = sum(1 for s in statuses.values() if s in DONE)
        if done >= 0.97 * len(current) or time.monotonic() > quiet_after:
            stop_faults.set()
        if done == len(current) and stop_faults.is_set():
            return
        time.sleep(3)


def chaos(counter: CallCounter, plan: Plan = FULL) -> Result:
    started_at = time.monotonic()
    capture = LogCapture().install()
    try:
        return _chaos(counter, plan, capture, started_at)
    finally:
        capture.uninstall()
        _reset_layer_caches()  # breaker, pacing, settings of this run: not for a stack started after it


def _chaos(counter: CallCounter, plan: Plan, capture: LogCapture, started_at: float) -> Result:
    from bench.chaos_stack import short_visibility
    from local.sandbox.secrets import local_secret

    with started(counter, env=plan.env(), provision=short_visibility(plan.visibility),
                 duplicate_rate=plan.duplicate_rate) as session, _installed([]) as undo:
        stack = session.stack
        why = bulk_supported(session)
        if why:
            return Result([Line.missing(SECTION, "chaos run", why)], Findings())
        import boto3

        with counter.creating("bench"):
            sm = boto3.client("secretsmanager", endpoint_url=stack.moto_url, region_name=stack.region)
            events = boto3.client("events", endpoint_url=stack.moto_url, region_name=stack.region)
        senders = function_ids(stack, "sender")
        fanouts = function_ids(stack, "fanout")
        kills = Kills(rates=plan.kill_rates, budget=plan.kill_budget, seed=plan.seed,
                      short_functions=set(senders), short_rate=plan.short_rate).install(stack.invoker)
        undo.append(kills.uninstall)
        aws = AwsFaults(rates=plan.aws_rates, conflict_rate=plan.conflict_rate, budget=plan.aws_budget,
                        seed=plan.seed, alive=kills.alive).install()
        undo.append(aws.uninstall)
        refuser = TlsRefuser().start()
        undo.append(refuser.stop)
        wire = Wire(stack.sandbox_url, kills.alive, also=(f"https://127.0.0.1:{refuser.port}",)).install()
        undo.append(wire.uninstall)
        tap = BusTap(events=events, sqs=session.sqs, bus_name=stack.provisioned.bus_name).create()
        undo.append(tap.delete)
        provider_secrets = {p: local_secret(p, stack.sandbox_url) for p in ALL_PROVIDERS}
        outage = TlsOutage(sm=sm, secret_ids=stack.provisioned.secret_ids, secrets=provider_secrets,
                           sandbox_url=stack.sandbox_url, refuser=refuser, providers=("passeinfo",),
                           every=plan.tls_every, period=plan.tls_period).start()
        undo.append(outage.stop)
        injector = FaultInjector(stack.sandbox, seed=plan.seed, log_path=stack.sandbox_log).start()
        undo.append(injector.stop)
        stack.pollers.simultaneous = dict.fromkeys(fanouts, plan.twin_rate)
        schedules = _fire_schedules(session, plan)
        undo.append(schedules.stop)

        def stop_faults() -> None:
            stack.pollers.simultaneous = {}
            stack.pollers.duplicate_rate = 0.0
            kills.stop()
            aws.stop()
            outage.stop()
            injector.stop()

        traffic = Traffic()
        senders_threads = [threading.Thread(target=f, args=(session, plan, traffic), name=f.__name__)
                           for f in (_send_singles, _send_otps, _send_bulks)]
        for t in senders_threads:
            t.start()
        for t in senders_threads:
            t.join()
        traffic_done = time.monotonic()

        otp_ids: dict[str, str] = {}  # otp id -> message id, once the record is found

        def ids() -> list[str]:
            return list(traffic.accepted) + list(otp_ids.values())

        # OTP messages are found by their number (the API answers the OTP's id)
        time.sleep(2)
        faults_off = threading.Event()
        deadline = started_at + plan.wait_seconds
        while not faults_off.is_set():
            records, _ = _scan(session)
            by_number = {digits(r.get("to", "")): mid for mid, r in records.items()}
            otp_ids.update({o: by_number[digits(n)] for o, n in traffic.otps.items() if digits(n) in by_number})
            statuses = {m: str(records[m].get("status")) if m in records else "missing" for m in ids()}
            done = sum(1 for s in statuses.values() if s in DONE)
            total = len(traffic.accepted) + len(traffic.otps)
            injector.count()
            applied = _applied(injector, aws, kills, refuser.handshakes, stack.pollers.duplicated,
                               sum(stack.pollers.twinned[f] for f in fanouts))
            covered = all(n >= plan.min_applied for n in applied.values())
            # faults go on until 97 % are done and every kind was applied often enough (or time is up)
            if (
                (done >= 0.97 * total and covered)
                or time.monotonic() > traffic_done + plan.fault_seconds
                or time.monotonic() > deadline
            ):
                faults_off.set()
            else:
                if done >= 0.97 * total:  # not covered yet: more traffic for the faults to apply to
                    _top_up(session, traffic)
                time.sleep(3)
        fault_seconds = time.monotonic() - traffic_done
        stop_faults()
        _wait(session, ids, deadline, faults_off, 0)
        session.idle(min(60.0, max(5.0, deadline + 30 - time.monotonic())))
        schedules.stop()
        depths = session.queue_depths()
        records, batches = _scan(session)
        by_number = {digits(r.get("to", "")): mid for mid, r in records.items()}
        for otp_id, to in traffic.otps.items():
            otp_ids.setdefault(otp_id, by_number.get(digits(to), f"otp:{otp_id}"))
        accepted = dict(traffic.accepted)
        accepted.update({mid: traffic.otps[o] for o, mid in otp_ids.items()})
        outbox = stack.sandbox.outbox()
        tap.drain()
        injector.count()
        secrets = _secrets(session, sm, provider_secrets, wire, outbox, accepted, records, otp_ids)
        duplicated, twinned = stack.pollers.duplicated, sum(stack.pollers.twinned[f] for f in fanouts)
        kills.uninstall()
        aws.uninstall()
        wire.uninstall()

    findings = check(accepted, records, outbox, queues_empty=not any(depths.values()), received=wire.requests_for,
                     stopped=lambda phone: wire.requests_for(phone, stopped=True),
                     tls_refused=lambda phone: wire.requests_for(phone, refused=True))
    check_refused(findings, traffic.refused, outbox)
    check_batches(findings, {b: batches.get(b, {"state": "missing"}) for b in traffic.batches},
                  list(records.values()))
    check_events(findings, {m: records[m].get("history") or [] for m in accepted if m in records}, tap.event_ids,
                 tap.by_status, tap.received, tap.without_id)
    found = leaks(capture.lines, secrets)
    findings.leaks = sorted({f"{leak.what}: {leak.line[:160]}" for leak in found})
    findings.log_lines = len(capture.lines)
    _write_details(findings, accepted, records, outbox, wire.requests_for, traffic.samples, kills.deaths)

    applied = _applied(injector, aws, kills, refuser.handshakes, duplicated, twinned)
    low = {k: n for k, n in applied.items() if n < plan.min_applied}
    out = [
        Line(
            SECTION,
            "messages sent in",
            f"{plan.messages} ({plan.singles} single of which {plan.scheduled} scheduled, "
            f"{plan.otps} OTP, {plan.bulks} bulks of {plan.bulk_size})"
            f"{f', and {traffic.top_ups} top-up singles' if traffic.top_ups else ''}; refused by the API: "
            f"{len(traffic.refused)} (5xx), {sum(traffic.other.values())} (other"
            f"{': ' + ', '.join(f'{n} x{s}' for s, n in sorted(traffic.other.items())) if traffic.other else ''})",
        )
    ]
    out += lines(findings)
    out += [
        Line(
            SECTION,
            "provider faults applied (injected)",
            ", ".join(f"{m} {injector.applied[m]} ({injector.injected[m]})" for m in MODES),
        ),
        Line(SECTION, "TLS handshakes failed (PasseInfo outages)", f"{refuser.handshakes} ({outage.outages})"),
        Line(SECTION, "AWS faults applied (seen by the code after botocore's retries)", aws.summary()),
        Line(SECTION, "AWS calls of the functions", ", ".join(f"{s} {n}" for s, n in sorted(aws.calls.items()))),
        Line(SECTION, "failpoints: killed / reached", kills.summary()),
        Line(
            SECTION,
            "invocations killed / timed out (of which given a short time)",
            f"{kills.failed['Runtime.ExitError']} / {kills.failed['Sandbox.Timedout']} ({kills.short_given})",
        ),
        Line(SECTION, "fan-out chunks delivered twice at once; records redelivered later", f"{twinned}; {duplicated}"),
        Line.check(
            SECTION,
            f"fault kinds applied fewer than {plan.min_applied} times (of {len(applied)})",
            f"{len(low)}" + (f": {', '.join(f'{k} {n}' for k, n in sorted(low.items()))}" if low else ""),
            "0",
            not low,
        ),
        Line(
            SECTION,
            "messages left on queues / DLQs",
            json.dumps(left) if (left := {k: v for k, v in depths.items() if v}) else "none",
        ),
        Line(
            SECTION,
            "duration",
            f"{time.monotonic() - started_at:.0f} s (faults for {fault_seconds:.0f} s after the traffic)",
        ),
    ]
    if findings.flagged():
        out.append(Line(SECTION, "flagged messages, records and outbox entries", str(DETAILS.relative_to(REPO_ROOT))))
    return Result(out, findings)


def _applied(injector: FaultInjector, aws: AwsFaults, kills: Kills, handshakes: int, duplicated: int,
             twinned: int) -> dict[str, int]:
    """Every fault kind -> how often it was applied in the run."""
    applied = {f"provider {m}": injector.applied[m] for m in MODES}
    applied.update({k: aws.applied[k] for k in AWS_KINDS})
    applied.update({f"kill at {p}": kills.killed[p] for p in POINTS})
    applied["invocation timed out"] = kills.failed["Sandbox.Timedout"]
    applied["TLS handshake failed"] = handshakes
    applied["record redelivered later"] = duplicated
    applied["fan-out chunk delivered twice at once"] = twinned
    return applied


def _secrets(session: Session, sm: Any, provider_secrets: dict[str, dict[str, Any]], wire: Wire,
             outbox: list[dict[str, Any]], accepted: dict[str, str], records: dict[str, dict[str, Any]],
             otp_ids: dict[str, str]) -> Secrets:
    secrets = Secrets()
    for provider, secret in provider_secrets.items():
        secrets.add_provider_secret(provider, secret)
    secrets.add(session.key, "the tenant's API key")
    for token in wire.tokens:
        secrets.add(token, "a provider token")
    with contextlib.suppress(Exception):
        pepper = sm.get_secret_value(SecretId=session.stack.provisioned.otp_pepper_secret_id)["SecretString"]
        secrets.add(pepper, "the OTP pepper")
    otp_by_message = {mid: otp for otp, mid in otp_ids.items()}
    by_number = {digits(n): m for m, n in accepted.items()}
    for entry in outbox:
        m = _OTP_CODE.search(str(entry.get("text", "")))
        message_id = by_number.get(digits(entry.get("to", "")))
        if m and message_id:
            number_digits = digits(accepted[message_id])
            secrets.otps.append(
                (m.group(1), m.group(0), (message_id, otp_by_message.get(message_id, ""), number_digits))
            )
    return secrets


def _write_details(findings: Findings, accepted: dict[str, str], records: dict[str, Any],
                   outbox: list[dict[str, Any]], received: Callable[..., int], answers: dict[int, str],
                   deaths: dict[str, list[str]]) -> None:
    """Every message an invariant flagged, with its record, its outbox entries and the provider
    requests the sandbox received for it; the batches' and the logs' findings."""
    flagged = findings.flagged()
    numbers = {digits(accepted[m]): m for m in flagged if m in accepted}
    entries: dict[str, list[dict[str, Any]]] = {m: [] for m in flagged}
    for entry in outbox:
        if (m := numbers.get(digits(entry.get("to", "")))) is not None:
            entries[m].append(entry)
    details = {
        m: {
            "to": accepted.get(m),
            "record": records.get(m),
            "outbox": entries[m],
            "requests_received": received(accepted.get(m, "")),
            "requests_stopped": received(accepted.get(m, ""), stopped=True),
            "tls_handshakes_failed": received(accepted.get(m, ""), refused=True),
            "invocations_died": deaths.get(m, []),
        }
        for m in flagged
    }
    DETAILS.parent.mkdir(parents=True, exist_ok=True)
    DETAILS.write_text(
        json.dumps(
            {
                "api_refusals": answers,
                "smsgate_ids_twice": findings.smsgate_twice,
                "refused_but_sent": findings.refused_but_sent,
                "batches_incomplete": findings.batches_incomplete,
                "batches_miscounted": findings.batches_miscounted,
                "events_missing": (findings.events_missing or [])[:200],
                "leaks": (findings.leaks or [])[:50],
                "messages": details,
            },
            indent=1,
            default=str,
        )
    )


def run(counter: CallCounter) -> list[Line]:
    """`make chaos` (bench.runner): the full run."""
    size = os.environ.get("CHAOS_PLAN", "full")
    return chaos(counter, SHORT if size == "short" else FULL).lines

