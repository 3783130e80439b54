"""AWS list prices the bench uses (us-east-1 style, USD) and the cost of a measured usage.

Prices as given for the bench (issue 7): Lambda $0.20 per million requests and $0.0000133334
per GB-second (arm64); SQS $0.40 per million requests (a request per started 64 KB of
payload); DynamoDB on-demand $1.25 per million write units and $0.25 per million read units;
API Gateway REST $3.50 per million requests; Secrets Manager $0.05 per 10,000 calls;
EventBridge $1.00 per million events; KMS $0.03 per 10,000 requests. CloudWatch Logs ingestion
($0.50 per GB) is not in that list: it is reported beside the total, never in it.

DynamoDB's on-demand list price has been half of that since 1 November 2024 ($0.625 per million
write units, $0.125 per million read units, us-east-1: AWS's announcement "Amazon DynamoDB
reduces prices for on-demand throughput and global tables"). The targets were set at the prices
above, so the cost line keeps them; `DYNAMODB_SINCE_2024_11` prices an informational line beside
it, what the same use costs on today's bill.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

PRICES: dict[str, float] = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,
    "sqs_request": 0.40 / 1e6,
    "ddb_write_unit": 1.25 / 1e6,
    "ddb_read_unit": 0.25 / 1e6,
    "apigw_request": 3.50 / 1e6,
    "secrets_call": 0.05 / 1e4,
    "events_entry": 1.00 / 1e6,
    "kms_request": 0.03 / 1e4,
    "logs_gb": 0.50,
}
DYNAMODB_SINCE_2024_11: dict[str, float] = {"ddb_write_unit": 0.625 / 1e6, "ddb_read_unit": 0.125 / 1e6}
SQS_CHUNK_BYTES = 64 * 1024


@dataclass
class Usage:
    """What a run consumed (absolute counts, not per message)."""

    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    sqs_requests: float = 0.0
    ddb_write_units: float = 0.0
    ddb_read_units: float = 0.0
    apigw_requests: float = 0.0
    secrets_calls: float = 0.0
    events_entries: float = 0.0
    kms_requests: float = 0.0

    def per(self, messages: int) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) / messages for f in fields(self)})


_PRICE_OF = {
    "lambda_requests": "lambda_request",
    "lambda_gb_seconds": "lambda_gb_second",
    "sqs_requests": "sqs_request",
    "ddb_write_units": "ddb_write_unit",
    "ddb_read_units": "ddb_read_unit",
    "apigw_requests": "apigw_request",
    "secrets_calls": "secrets_call",
    "events_entries": "events_entry",
    "kms_requests": "kms_request",
}
SERVICE_OF = {
    "lambda_requests": "Lambda", "lambda_gb_seconds": "Lambda", "sqs_requests": "SQS",
    "ddb_write_units": "DynamoDB", "ddb_read_units": "DynamoDB", "apigw_requests": "API Gateway",
    "secrets_calls": "Secrets Manager", "events_entries": "EventBridge", "kms_requests": "KMS",
}


def sqs_requests(payload_bytes: int) -> int:
    """Billed SQS requests for one API call carrying `payload_bytes`."""
    return max(1, -(-payload_bytes // SQS_CHUNK_BYTES))


def cost_by_service(usage: Usage, prices: dict[str, float] | None = None) -> dict[str, float]:
    """USD per service for `usage`, at PRICES (or at `prices` where it names one)."""
    table = {**PRICES, **(prices or {})}
    out: dict[str, float] = {}
    for name, price in _PRICE_OF.items():
        service = SERVICE_OF[name]
        out[service] = out.get(service, 0.0) + getattr(usage, name) * table[price]
    return out


def per_million(usage: Usage, messages: int, prices: dict[str, float] | None = None) -> dict[str, float]:
    """USD per service for one million messages at the measured usage of `messages`."""
    return {service: cost * 1e6 for service, cost in cost_by_service(usage.per(messages), prices).items()}


def logs_cost_per_million(log_bytes: int, messages: int) -> float:
    return log_bytes / messages * 1e6 / 1e9 * PRICES["logs_gb"]
