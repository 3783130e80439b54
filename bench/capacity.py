"""`python -m bench.capacity` (make capacity): where tamtam saturates on AWS and what it costs at
1 million messages an hour, computed from the last `make bench` figures and AWS's published
quotas. Standard library only; prints the tables of docs/capacity.md (`--write` puts them there,
`--check` exits 1 when the doc's tables are not what this prints).

Every input carries its source and its kind:
  measured  a figure of `make bench ONLY=cost BULK=2000` in docs/performance.md (commit
            8a1e67a, 2026-12-07), taken on the local emulator (moto serves one request at a time, so
            durations are upper bounds; request and unit counts are what the code does)
  quota     an AWS default quota, from the page named in the source
  setting   a default of this repository (template.yaml, tamtam settings)
  design    an estimate from the code or the docs, not measured: the doc says which
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.pricing import PRICES

HOUR = 3600
TARGET_PER_HOUR = 1_000_000
TARGET_RATE = TARGET_PER_HOUR / HOUR  # 277.8 messages a second
DOC = Path(__file__).resolve().parent.parent / "docs" / "capacity.md"
BEGIN, END = "<!-- capacity:begin (python -m bench.capacity --write) -->", "<!-- capacity:end -->"
SCENARIOS = ("singles", "bulk", "otp")


@dataclass(frozen=True)
class Fig:
    value: float
    kind: str  # measured | quota | setting | design
    source: str


# --- the bench (docs/performance.md, "Last figures", line 1 "cost") ---------------------------------
BENCH = "docs/performance.md, make bench ONLY=cost BULK=2000 on 8a1e67a, line `1 cost"


@dataclass(frozen=True)
class Invocations:
    """One function's measured invocations in a scenario: count, mean local wall time, memory."""

    function: str
    count: int
    ms: float
    memory_mb: int


@dataclass
class PerMessage:
    """AWS use per message of one scenario."""

    messages: int
    invocations: list[Invocations]
    apigw_requests: Fig
    ddb_write_units: Fig
    ddb_read_units: Fig
    sqs_requests: Fig
    putevents_calls: Fig
    events_entries: Fig
    secrets_calls: Fig
    kms_requests: Fig
    log_kib: Fig
    msg_writes: Fig  # writes of the message record: one stream record each (the lifecycle reads them)
    rate_item_writes: Fig  # writes of the pacing bucket items RATE#<provider>#...
    batch_item_writes: Fig  # writes of the BATCH#<id> item (counters)
    extra_lambda_s: float = 0.0  # design: invocation seconds not in `invocations` (OTP verify)
    extra_invocations: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def lambda_invocations(self) -> float:
        return sum(i.count for i in self.invocations) / self.messages + self.extra_invocations

    @property
    def lambda_seconds(self) -> float:
        """Execution seconds per message (what concurrency is made of)."""
        return sum(i.count * i.ms / 1000 for i in self.invocations) / self.messages + self.extra_lambda_s

    @property
    def lambda_gb_seconds(self) -> float:
        own = sum(i.count * i.ms / 1000 * i.memory_mb / 1024 for i in self.invocations) / self.messages
        return own + self.extra_lambda_s * 0.25


SINGLES = PerMessage(
    messages=1000,
    # `1,000 singles: Lambda/msg` (memory: template.yaml Globals 256 MB)
    invocations=[
        Invocations("Api", 1000, 52, 256),
        Invocations("PasseinfoSender", 333, 170, 256),
        Invocations("VentisSender", 333, 175, 256),
        Invocations("FlowsmsSender", 333, 170, 256),
        Invocations("Lifecycle", 49, 66, 256),
    ],
    apigw_requests=Fig(1.0, "measured", f"{BENCH} 1,000 singles: Lambda/msg` (Api 1000 invocations)"),
    ddb_write_units=Fig(6.72, "measured", f"{BENCH} 1,000 singles: DynamoDB units/msg`"),
    ddb_read_units=Fig(0.67, "measured", f"{BENCH} 1,000 singles: DynamoDB units/msg`"),
    sqs_requests=Fig(2.995, "measured", f"{BENCH} 1,000 singles: SQS requests/msg (billed)`"),
    putevents_calls=Fig(0.049, "measured", f"{BENCH} 1,000 singles: EventBridge calls/msg`"),
    events_entries=Fig(
        0.049, "measured", f"{BENCH} 1,000 singles: AWS cost per 1M` (EventBridge $0.049 at $1/M: grouped events)"
    ),
    secrets_calls=Fig(0.002, "measured", f"{BENCH} 1,000 singles: Secrets Manager calls/msg`"),
    kms_requests=Fig(0.002, "measured", f"{BENCH} 1,000 singles: AWS cost per 1M` (KMS $0.006 at $3/M)"),
    log_kib=Fig(1.2, "measured", f"{BENCH} 1,000 singles: logs (not in the cost)`"),
    msg_writes=Fig(
        4.130, "measured", f"{BENCH} 1,000 singles: DynamoDB calls/msg by item` (UpdateItem MSG 3.130, PutItem MSG 1)"
    ),
    rate_item_writes=Fig(
        1.149,
        "measured",
        f"{BENCH} 1,000 singles: DynamoDB calls/msg by item` (UpdateItem RATE 1.001, PutItem RATE 0.148)",
    ),
    batch_item_writes=Fig(0.0, "measured", "singles belong to no batch"),
)

BULK = PerMessage(
    messages=2000,
    # `2,000-recipient bulk: Lambda/msg` (Fanout: MemorySize 512 in template.yaml)
    invocations=[
        Invocations("Lifecycle", 81, 545, 256),
        Invocations("VentisSender", 67, 1222, 256),
        Invocations("PasseinfoSender", 67, 1208, 256),
        Invocations("FlowsmsSender", 67, 1532, 256),
        Invocations("Fanout", 3, 19931, 512),
        Invocations("Api", 1, 92, 256),
    ],
    apigw_requests=Fig(1 / 2000, "measured", f"{BENCH} 2,000-recipient bulk: Lambda/msg` (Api 1 invocation)"),
    ddb_write_units=Fig(5.81, "measured", f"{BENCH} 2,000-recipient bulk: DynamoDB units/msg`"),
    ddb_read_units=Fig(1.13, "measured", f"{BENCH} 2,000-recipient bulk: DynamoDB units/msg`"),
    sqs_requests=Fig(0.306, "measured", f"{BENCH} 2,000-recipient bulk: SQS requests/msg (billed)`"),
    putevents_calls=Fig(0.041, "measured", f"{BENCH} 2,000-recipient bulk: EventBridge calls/msg`"),
    events_entries=Fig(
        0.041, "measured", f"{BENCH} 2,000-recipient bulk: AWS cost per 1M` (EventBridge $0.041: grouped events)"
    ),
    secrets_calls=Fig(
        0.0, "measured", f"{BENCH} 2,000-recipient bulk: AWS cost per 1M` (none: cached since the singles)"
    ),
    kms_requests=Fig(0.0, "measured", f"{BENCH} 2,000-recipient bulk: AWS cost per 1M` (none)"),
    log_kib=Fig(0.5, "measured", f"{BENCH} 2,000-recipient bulk: logs (not in the cost)`"),
    msg_writes=Fig(
        4.0,
        "measured",
        f"{BENCH} 2,000-recipient bulk: DynamoDB calls/msg by item` (UpdateItem MSG 3.000, PutItem MSG 1.000)",
    ),
    rate_item_writes=Fig(
        0.213, "measured", f"{BENCH} 2,000-recipient bulk: DynamoDB calls/msg by item` (UpdateItem RATE 0.213)"
    ),
    batch_item_writes=Fig(
        0.088,
        "measured",
        f"{BENCH} 2,000-recipient bulk: DynamoDB calls/msg by item`"
        " (TransactWriteItems BATCH 0.043 x 2, UpdateItem BATCH 0.001, PutItem BATCH 0.001)",
    ),
)

# An OTP: no bench line measures its AWS use. Its send is a single send (the singles line) plus
# what tamtam.otp.logic adds, counted from the code (design): the limits (phone log: a consistent
# GetItem and a conditional PutItem; number, range and tenant-day counters: 3 UpdateItems), the
# code's record (PutItem), KMS Encrypt (api) and Decrypt (sender), the sender's GetItem of the
# code; and its verification: one more API request and api invocation (the singles' 54 ms), a
# GetItem and two UpdateItems (count_attempt, approve).
OTP_EXTRA_WRITES = 7.0
OTP_EXTRA_READS = 2.0  # consistent GetItem 1, two eventually consistent GetItems 0.5 each
OTP = PerMessage(
    messages=1000,
    invocations=SINGLES.invocations,
    apigw_requests=Fig(2.0, "design", "send + verify (tamtam.otp.logic)"),
    ddb_write_units=Fig(
        SINGLES.ddb_write_units.value + OTP_EXTRA_WRITES, "design", "singles + 7 (tamtam.otp.logic, limits, store)"
    ),
    ddb_read_units=Fig(
        SINGLES.ddb_read_units.value + OTP_EXTRA_READS, "design", "singles + 2 (phone log, code read twice)"
    ),
    sqs_requests=SINGLES.sqs_requests,
    putevents_calls=SINGLES.putevents_calls,
    events_entries=SINGLES.events_entries,
    secrets_calls=SINGLES.secrets_calls,
    kms_requests=Fig(SINGLES.kms_requests.value + 2, "design", "singles + Encrypt (api) + Decrypt (sender)"),
    log_kib=SINGLES.log_kib,
    msg_writes=SINGLES.msg_writes,
    rate_item_writes=SINGLES.rate_item_writes,
    batch_item_writes=SINGLES.batch_item_writes,
    extra_lambda_s=0.054,
    extra_invocations=1.0,
)
USE = {"singles": SINGLES, "bulk": BULK, "otp": OTP}

# --- AWS quotas (defaults; us-east-1 unless the region table says otherwise) ------------------------
APIGW_PAGE = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
LAMBDA_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_SCALING_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"
SQS_SCALING_PAGE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
DDB_PAGE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
DDB_HOT_PAGE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/throttling-key-range-limit-exceeded-mitigation.html"
DDB_NEW_TABLE_PAGE = "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"
EVENTS_PAGE = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
SECRETS_PAGE = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"
KMS_PAGE = "https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html"
SQS_PAGE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"

QUOTAS = {
    "lambda_concurrency": Fig(1000, "quota", f"{LAMBDA_PAGE} (concurrent executions, raisable to tens of thousands)"),
    "ddb_table_wru": Fig(40000, "quota", f"{DDB_PAGE} (on-demand, per table)"),
    "ddb_table_rru": Fig(40000, "quota", f"{DDB_PAGE} (on-demand, per table)"),
    "ddb_new_table_wru": Fig(
        4000,
        "quota",
        f"{DDB_NEW_TABLE_PAGE} (a new on-demand table at once; doubling a peak within 30 min may throttle)",
    ),
    "ddb_partition_wcu": Fig(1000, "quota", f"{DDB_HOT_PAGE} (per partition: 1,000 write, 3,000 read units a second)"),
    "secrets_get": Fig(10000, "quota", f"{SECRETS_PAGE} (GetSecretValue, since March 2025)"),
}
# Region-dependent quotas: API Gateway account throttle, EventBridge PutEvents (requests/s) and
# invocations (rule matches/s), KMS symmetric cryptographic requests (shared).
REGIONS = {
    "us-east-1": {"apigw": 10000, "putevents": 10000, "invocations": 18750, "kms": 100000},
    "eu-west-3": {"apigw": 10000, "putevents": 600, "invocations": 1100, "kms": 10000},
    "af-south-1": {"apigw": 2500, "putevents": 400, "invocations": 750, "kms": 10000},
}
REGION_SOURCES = {"apigw": APIGW_PAGE, "putevents": EVENTS_PAGE, "invocations": EVENTS_PAGE, "kms": KMS_PAGE}
REGION = "us-east-1"

# --- this repository's defaults ------------------------------------------------------------------
PACING_LIMITS = {
    "passeinfo": 20,
    "messagepro": 10,
    "flowsms": 20,
    "ventis": 10,
    "smsgate": 2,
}  # tamtam.pacing.slots.DEFAULT_LIMITS
PACING_SAFETY = 0.05  # PACING_SAFETY (tamtam.pacing.slots.PacingSettings.safety)
PACING_SLOTS_PER_PERIOD = 20  # tamtam.pacing.slots._SLOTS_PER_PERIOD
SETTINGS = {
    "sender_max_concurrency": Fig(
        2, "setting", "template.yaml <Provider>MaximumConcurrency default, per queue (tx and bulk)"
    ),
    "sender_batch": Fig(10, "setting", "template.yaml TxQueue/BulkQueue BatchSize"),
    "fanout_concurrency": Fig(5, "setting", "template.yaml FanoutQueue ScalingConfig MaximumConcurrency"),
    "fanout_chunk": Fig(500, "setting", "BULK_CHUNK_RECIPIENTS default (tamtam.bulk.intake)"),
    "usage_plan_rps": Fig(50, "setting", "template.yaml ApiThrottleRateLimit (per tenant, burst 100)"),
    "messages_per_minute": Fig(600, "setting", "send_limit_messages_per_minute (tamtam.settings)"),
    "bulk_per_hour": Fig(100000, "setting", "send_limit_bulk_recipients_per_hour (tamtam.settings)"),
    "otp_per_day": Fig(10000, "setting", "otp_tenant_limit, 10,000 a day (tamtam.otp.settings)"),
    "stream_parallelization": Fig(1, "setting", "template.yaml LifecycleFunction TableStream ParallelizationFactor"),
}
DESIGN = {
    "sender_batch_seconds": Fig(
        0.3, "design", "docs/performance.md, Cost: on AWS a batch of 10 takes ~0.3 s (local: 1.7-2.1 s)"
    ),
    "fanout_chunk_seconds": Fig(
        1.0, "design", "500 conditional PutItems 16 at a time + 50 SendMessageBatch calls (local: 17.7 s)"
    ),
    "gsi1_writes_per_msg": Fig(
        2, "design", "gsi1 STATUS#sent: the record's copy put at `sent`, deleted at its final status"
    ),
    "gsi3_writes_per_msg": Fig(1, "design", "gsi3 TENANT#<id>: one entry at creation (docs/architecture.md)"),
    "lifecycle_ms_per_record": Fig(
        5, "design", "guess: PutEvents of 10 entries, batch transactions, per 100-record invocation"
    ),
    "stream_shards": Fig(
        4, "design", "guess: a new on-demand table's 4,000 write units ~ 4 partitions, one shard each"
    ),
}

# --- the bill ------------------------------------------------------------------------------------
MONTHLY_FIXED = {  # design: the stack's resources billed by the month (list prices, us-east-1)
    "Secrets Manager": (6 * 0.40, "6 secrets (5 providers, the OTP pepper) x $0.40 a month"),
    "KMS": (2 * 1.00, "2 customer managed keys (OTP, state) x $1 a month"),
}
STORAGE_PRICE_GB_MONTH = 0.25  # DynamoDB Standard table class, us-east-1
STORAGE_KB = {
    "singles": 1.3,
    "bulk": 1.3,
    "otp": 1.8,
}  # design: record ~1 KB + gsi3 0.3 KB (+ OTP item); a batch's messages are in no index
RETENTION_MONTHS = 3  # message records' 90-day TTL
PROFILE = {"bulk": 30_000_000, "singles": 1_500_000, "otp": 300_000}  # a month: see docs/capacity.md
PROFILE_TEXT = ("one 1,000,000-recipient bulk hour a day, 50,000 single sends and 10,000 codes a day, 30 days")
# Code since the bench that its figures miss (design, $ per message): see docs/capacity.md. The
# run of 4e82a68 measured every write of the code it ran; sends through SMSGate and Message Pro
# also write the `LAST#` item, which the bench's providers do not (docs/capacity.md says so).
SINCE_BENCH: list[tuple[str, str, float, str]] = []


def per_message_cost(use: PerMessage) -> dict[str, float]:
    """USD per message, per service (bench/pricing.py's list prices)."""
    return {
        "DynamoDB": use.ddb_write_units.value * PRICES["ddb_write_unit"]
        + use.ddb_read_units.value * PRICES["ddb_read_unit"],
        "API Gateway": use.apigw_requests.value * PRICES["apigw_request"],
        "EventBridge": use.events_entries.value * PRICES["events_entry"],
        "Lambda": use.lambda_invocations * PRICES["lambda_request"]
        + use.lambda_gb_seconds * PRICES["lambda_gb_second"],
        "SQS": use.sqs_requests.value * PRICES["sqs_request"],
        "Secrets Manager": use.secrets_calls.value * PRICES["secrets_call"],
        "KMS": use.kms_requests.value * PRICES["kms_request"],
    }


def logs_cost(use: PerMessage) -> float:
    return use.log_kib.value * 1024 / 1e9 * PRICES["logs_gb"]


def since_bench(scenario: str) -> float:
    return sum(d for s, _, d, _ in SINCE_BENCH if s in (scenario, "all"))


def pacing_rate(limit: float, safety: float = PACING_SAFETY) -> float:
    """Messages a second tamtam.pacing lets through at a limit: k slots per period of P seconds."""
    period = math.ceil(PACING_SLOTS_PER_PERIOD / limit)
    slots = max(1, math.floor(limit * period * (1 - safety) + 1e-9))
    return slots / period


@dataclass(frozen=True)
class Row:
    scope: str  # deployment | tenant | provider | batch
    component: str
    limit: str
    kind: str
    rates: dict[str, float | None]  # scenario -> messages/s at saturation (None: not used)
    raised_by: str


def rows(region: str = REGION) -> list[Row]:
    q, s, d, r = QUOTAS, SETTINGS, DESIGN, REGIONS[region]
    every = dict.fromkeys(SCENARIOS)

    def each(fn: Callable[[PerMessage], float | None]) -> dict[str, float | None]:
        return {name: fn(USE[name]) for name in SCENARIOS}

    def over(limit: float, per: float) -> float | None:
        return limit / per if per > 0 else None

    paced = sum(pacing_rate(v) for v in PACING_LIMITS.values())
    lanes = (
        len(PACING_LIMITS)
        * s["sender_max_concurrency"].value
        * s["sender_batch"].value
        / d["sender_batch_seconds"].value
    )
    fanout = s["fanout_concurrency"].value * s["fanout_chunk"].value / d["fanout_chunk_seconds"].value
    shard_rate = (
        1000 / d["lifecycle_ms_per_record"].value * s["stream_parallelization"].value * d["stream_shards"].value
    )
    partition = q["ddb_partition_wcu"].value
    out = [
        Row(
            "deployment",
            "providers, paced (all five together)",
            f"{paced:.1f} msg/s",
            "setting",
            dict.fromkeys(SCENARIOS, paced),
            "PROVIDER_RATE_LIMITS (stack parameter ProviderRateLimits), once a provider confirms more",
        ),
        Row(
            "deployment",
            "sender functions (5 providers x 2 x 10 records / 0.3 s)",
            "MaximumConcurrency 2 per queue",
            "design",
            dict.fromkeys(SCENARIOS, lanes),
            "<Provider>MaximumConcurrency (2 to 1,000)",
        ),
        Row(
            "deployment",
            "fan-out (5 x 500 recipients / ~1 s)",
            "MaximumConcurrency 5",
            "design",
            {**every, "bulk": fanout},
            "FanoutQueue MaximumConcurrency in template.yaml; BULK_CHUNK_RECIPIENTS",
        ),
        Row(
            "deployment",
            "lifecycle on the stream (100 records / invocation)",
            "ParallelizationFactor 1, ~4 shards",
            "design",
            each(lambda u: shard_rate / u.msg_writes.value),
            "ParallelizationFactor (up to 10)",
        ),
        Row(
            "deployment",
            "gsi1 `STATUS#sent`: one partition key",
            f"{partition:,.0f} WCU/s",
            "quota",
            dict.fromkeys(SCENARIOS, partition / d["gsi1_writes_per_msg"].value),
            "none: a code change (gsi1pk sharded by id)",
        ),
        Row(
            "deployment",
            "Lambda concurrent executions",
            f"{q['lambda_concurrency'].value:,.0f}",
            "quota",
            each(lambda u: q["lambda_concurrency"].value / u.lambda_seconds),
            "Service Quotas: concurrent executions",
        ),
        Row(
            "deployment",
            "DynamoDB, new on-demand table",
            f"{q['ddb_new_table_wru'].value:,.0f} WRU/s",
            "quota",
            each(lambda u: q["ddb_new_table_wru"].value / u.ddb_write_units.value),
            "warm throughput (pre-warm the table and its GSIs)",
        ),
        Row(
            "deployment",
            "DynamoDB table writes",
            f"{q['ddb_table_wru'].value:,.0f} WRU/s",
            "quota",
            each(lambda u: q["ddb_table_wru"].value / u.ddb_write_units.value),
            "Service Quotas: table-level write throughput",
        ),
        Row(
            "deployment",
            "DynamoDB table reads",
            f"{q['ddb_table_rru'].value:,.0f} RRU/s",
            "quota",
            each(lambda u: over(q["ddb_table_rru"].value, u.ddb_read_units.value)),
            "Service Quotas: table-level read throughput",
        ),
        Row(
            "deployment",
            f"EventBridge PutEvents ({region})",
            f"{r['putevents']:,} requests/s",
            "quota",
            each(lambda u: over(r["putevents"], u.putevents_calls.value)),
            "Service Quotas: PutEvents throttle limit (L-9B653E91)",
        ),
        Row(
            "deployment",
            f"EventBridge invocations ({region}), a rule matching every status event",
            f"{r['invocations']:,}/s",
            "quota",
            each(lambda u: over(r["invocations"], u.events_entries.value)),
            "Service Quotas: invocations throttle limit (L-5540C5E3)",
        ),
        Row(
            "deployment",
            f"API Gateway account throttle ({region})",
            f"{r['apigw']:,} rps",
            "quota",
            each(lambda u: over(r["apigw"], u.apigw_requests.value)),
            "Service Quotas: throttle quota (L-8A5B8E43)",
        ),
        Row(
            "deployment",
            f"KMS symmetric requests ({region})",
            f"{r['kms']:,}/s",
            "quota",
            each(lambda u: over(r["kms"], u.kms_requests.value)),
            "Service Quotas: cryptographic operations (symmetric)",
        ),
        Row(
            "deployment",
            "Secrets Manager GetSecretValue",
            f"{q['secrets_get'].value:,.0f}/s",
            "quota",
            each(lambda u: over(q["secrets_get"].value, u.secrets_calls.value)),
            "none needed (secrets are cached per process)",
        ),
        Row(
            "tenant",
            "usage plan throttle",
            f"{s['usage_plan_rps'].value:.0f} rps",
            "setting",
            each(lambda u: over(s["usage_plan_rps"].value, u.apigw_requests.value)),
            "ApiThrottleRateLimit / BurstLimit",
        ),
        Row(
            "tenant",
            "send limit",
            f"{s['messages_per_minute'].value:.0f}/min",
            "setting",
            {**every, "singles": s["messages_per_minute"].value / 60},
            "messages_per_minute (tenant setting)",
        ),
        Row(
            "tenant",
            "bulk recipients limit",
            f"{s['bulk_per_hour'].value:,.0f}/h",
            "setting",
            {**every, "bulk": s["bulk_per_hour"].value / HOUR},
            "bulk_recipients_per_hour (tenant setting)",
        ),
        Row(
            "tenant",
            "codes a day",
            f"{s['otp_per_day'].value:,.0f}/day",
            "setting",
            {**every, "otp": s["otp_per_day"].value / 86400},
            "otp_tenant_limit (tenant setting)",
        ),
        Row(
            "tenant",
            "gsi3 `TENANT#<id>`: one partition key",
            f"{partition:,.0f} WCU/s",
            "quota",
            dict.fromkeys(SCENARIOS, partition / d["gsi3_writes_per_msg"].value),
            "none: a code change (shard the key)",
        ),
        Row(
            "tenant",
            "counter items (`LIMIT#`, the codes' day counter)",
            f"{partition:,.0f} WCU/s",
            "quota",
            # singles: the send limit's counter is written once per lease of up to 10 sends
            # (UpdateItem LIMIT 0.101 a message in the singles line); an OTP's day counter once a code
            {**every, "singles": partition / 0.101, "otp": partition},
            "none needed below the limits",
        ),
        Row(
            "provider",
            "pacing bucket `RATE#<provider>#<period>`",
            f"{partition:,.0f} WCU/s",
            "quota",
            each(lambda u: over(partition, u.rate_item_writes.value)),
            "none needed: far above any provider's rate",
        ),
        Row(
            "batch",
            "batch item `BATCH#<id>` (counters)",
            f"{partition:,.0f} WCU/s",
            "quota",
            each(lambda u: over(partition, u.batch_item_writes.value)),
            "none needed",
        ),
    ]
    return out


def bottlenecks(table: list[Row], scenario: str, n: int = 3) -> list[tuple[str, float]]:
    ranked = sorted((row.rates[scenario], row.component) for row in table
                    if row.scope == "deployment" and row.rates[scenario] is not None)
    return [(name, rate) for rate, name in ranked[:n]]  # type: ignore[misc]


def fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "-"
    if rate >= 1_000_000:
        return "> 1M"
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:,.1f}" if rate >= 1 else f"{rate:.3f}"


def md_table(header: list[str], lines: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(out)


def hourly_bill(scenario: str) -> dict[str, float]:
    return {k: v * TARGET_PER_HOUR for k, v in per_message_cost(USE[scenario]).items()}


def monthly_bill(profile: dict[str, int] = PROFILE) -> dict[str, float]:
    bill: dict[str, float] = {}
    for scenario, count in profile.items():
        for service, cost in per_message_cost(USE[scenario]).items():
            bill[service] = bill.get(service, 0.0) + cost * count
    for service, (cost, _) in MONTHLY_FIXED.items():
        bill[service] = bill.get(service, 0.0) + cost
    stored_gb = sum(count * RETENTION_MONTHS * STORAGE_KB[s] for s, count in profile.items()) / 1024 / 1024
    bill["DynamoDB storage"] = stored_gb * STORAGE_PRICE_GB_MONTH
    bill["CloudWatch Logs"] = sum(logs_cost(USE[s]) * count for s, count in profile.items())
    return bill


def render() -> str:
    parts: list[str] = []
    table = rows()
    lines = []
    for row in table:
        worst = min((v for v in row.rates.values() if v is not None), default=None)
        load = f"{TARGET_RATE / worst:,.2f}x" if worst else "-"
        lines.append([row.scope, row.component, row.limit, row.kind,
                      *(fmt_rate(row.rates[name]) for name in SCENARIOS), load, row.raised_by])
    parts.append(f"Saturation, messages a second, at the defaults ({REGION}); 1M/h = {TARGET_RATE:.1f}/s:\n")
    parts.append(
        md_table(["scope", "component", "limit", "kind", "singles", "bulk", "OTP", "1M/h needs", "raised by"], lines)
    )
    parts.append("\nFirst bottlenecks (deployment-wide rows, lowest first):\n")
    parts.append(
        md_table(
            ["scenario", "1st", "2nd", "3rd"],
            [[name, *(f"{c}: {fmt_rate(r)}/s" for c, r in bottlenecks(table, name))] for name in SCENARIOS],
        )
    )
    parts.append("\nProvider pacing, per provider (tamtam.pacing defaults, 5 % kept for jitter):\n")
    parts.append(
        md_table(
            ["provider", "limit", "paced", "per hour"],
            [
                [p, f"{v}/s", f"{pacing_rate(v):.1f}/s", f"{pacing_rate(v) * HOUR:,.0f}"]
                for p, v in PACING_LIMITS.items()
            ],
        )
    )
    parts.append("\nRegion-dependent quotas, where singles saturate:\n")
    region_lines = []
    for region in REGIONS:
        by = {row.component.split(" (")[0]: row.rates["singles"] for row in rows(region)}
        quota = REGIONS[region]
        region_lines.append([region, f"{quota['apigw']:,} -> {fmt_rate(by['API Gateway account throttle'])}",
                             f"{quota['putevents']:,} -> {fmt_rate(by['EventBridge PutEvents'])}",
                             f"{quota['invocations']:,} -> {fmt_rate(by['EventBridge invocations'])}",
                             f"{quota['kms']:,} -> {fmt_rate(by['KMS symmetric requests'])}"])
    parts.append(
        md_table(
            ["region", "API Gateway rps", "PutEvents/s", "invocations/s (a rule on every event)", "KMS/s"], region_lines
        )
    )
    services = list(per_message_cost(SINGLES))
    bills = {name: hourly_bill(name) for name in SCENARIOS}
    parts.append(f"\nThe bill for one hour at {TARGET_PER_HOUR:,} messages (USD, list prices of bench/pricing.py):\n")
    bill_lines = [[service, *(f"{bills[name][service]:,.2f}" for name in SCENARIOS)] for service in services]
    bill_lines.append(["**total**", *(f"**{sum(bills[name].values()):,.2f}**" for name in SCENARIOS)])
    bill_lines.append(
        [
            "CloudWatch Logs (not in the bench's cost)",
            *(f"{logs_cost(USE[n]) * TARGET_PER_HOUR:,.2f}" for n in SCENARIOS),
        ]
    )
    bill_lines.append(
        ["code since the bench (design)", *(f"+{since_bench(n) * TARGET_PER_HOUR:,.2f}" for n in SCENARIOS)]
    )
    parts.append(md_table(["service", "singles", "bulk", "OTP"], bill_lines))
    month = monthly_bill()
    total_messages = sum(PROFILE.values())
    parts.append(f"\nA month of the profile ({PROFILE_TEXT}: {total_messages:,} messages):\n")
    month_lines = [[service, f"{cost:,.2f}"] for service, cost in month.items()]
    month_lines.append(["**total**", f"**{sum(month.values()):,.2f}**"])
    parts.append(md_table(["service", "USD a month"], month_lines))
    return "\n".join(parts) + "\n"


def replace_block(text: str, block: str) -> str:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}{END}{tail}"


def doc_block(text: str) -> str:
    return text.split(BEGIN, 1)[1].split(END, 1)[0].lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the tables in docs/capacity.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/capacity.md's tables differ")
    args = parser.parse_args(argv)
    block = render()
    if args.write:
        DOC.write_text(replace_block(DOC.read_text(encoding="utf-8"), block), encoding="utf-8")
    elif args.check:
        if doc_block(DOC.read_text(encoding="utf-8")) != block:
            print("docs/capacity.md differs from python -m bench.capacity", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
