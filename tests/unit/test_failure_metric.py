"""count_failure: one EMF document per failed message, its provider and reason as dimensions,
the reason kept to the stable codes (bounded cardinality)."""

from __future__ import annotations

import json

import pytest

from tamtam.observability import FAILURE_METRIC, count_failure, metrics


def failure_documents(out: str) -> list[dict]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in documents if "_aws" in d and FAILURE_METRIC in d]


def test_given_a_failure_then_one_emf_document_counts_it_by_provider_and_reason(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "tamtam")
    count_failure("passeinfo", "invalid_number")
    [document] = failure_documents(capsys.readouterr().out)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.namespace
    assert directive["Metrics"] == [{"Name": FAILURE_METRIC, "Unit": "Count"}]
    assert directive["Dimensions"] == [["Provider", "Reason", "service"]]  # the dashboard's SEARCH schema
    assert (document["Provider"], document["Reason"]) == ("passeinfo", "invalid_number")
    assert document[FAILURE_METRIC] == [1.0]


@pytest.mark.parametrize(
    ("provider", "reason", "dimensions"),
    [
        ("messagepro", "retries_exhausted", ("messagepro", "retries_exhausted")),
        ("passeinfo", "otp_expired", ("passeinfo", "otp_expired")),
        ("smsgate", "Invalid API key: refused", ("smsgate", "other")),  # free text never becomes a dimension
        ("ventis", "x" * 200, ("ventis", "other")),
        ("flowsms", None, ("flowsms", "unknown")),
        (None, "enqueue_failed", ("none", "enqueue_failed")),
    ],
)
def test_given_any_reason_then_the_dimension_is_a_stable_code(capsys, provider, reason, dimensions):
    count_failure(provider, reason)
    [document] = failure_documents(capsys.readouterr().out)
    assert (document["Provider"], document["Reason"]) == dimensions
