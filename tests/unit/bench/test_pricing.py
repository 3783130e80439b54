"""bench.pricing: the list prices and the cost of a usage."""

from __future__ import annotations

import pytest

from bench.pricing import Usage, cost_by_service, logs_cost_per_million, per_million, sqs_requests


def test_given_payloads_then_sqs_bills_a_request_per_started_64_kb():
    assert sqs_requests(0) == 1
    assert sqs_requests(65536) == 1
    assert sqs_requests(65537) == 2
    assert sqs_requests(200_000) == 4


def test_given_a_million_of_each_then_the_cost_is_the_list_price():
    usage = Usage(lambda_requests=1e6, lambda_gb_seconds=1e6, sqs_requests=1e6, ddb_write_units=1e6,
                  ddb_read_units=1e6, apigw_requests=1e6, secrets_calls=1e4, events_entries=1e6, kms_requests=1e4)
    cost = cost_by_service(usage)
    assert cost["Lambda"] == pytest.approx(0.20 + 13.3334)
    assert cost["SQS"] == pytest.approx(0.40)
    assert cost["DynamoDB"] == pytest.approx(1.25 + 0.25)
    assert cost["API Gateway"] == pytest.approx(3.50)
    assert cost["Secrets Manager"] == pytest.approx(0.05)
    assert cost["EventBridge"] == pytest.approx(1.00)
    assert cost["KMS"] == pytest.approx(0.03)


def test_given_the_usage_of_1000_messages_then_per_million_scales_it():
    usage = Usage(apigw_requests=1000, ddb_write_units=3000)
    cost = per_million(usage, 1000)
    assert cost["API Gateway"] == pytest.approx(3.50)
    assert cost["DynamoDB"] == pytest.approx(3.75)
    assert cost["SQS"] == 0


def test_logs_cost_per_million():
    # 1 KB a message: 1 GB per million messages, $0.50.
    assert logs_cost_per_million(1_000_000, 1000) == pytest.approx(0.50)
