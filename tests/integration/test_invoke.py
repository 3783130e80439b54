"""`make invoke`: every function that has events/ files runs with each of them through the runner
(local.invoke), with what the event refers to seeded, and answers without an unexpected error.
The only error expected is the authorizer's refusal of a missing or unknown key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.invoke import EventRunner, functions_with_events
from local.rotation import align_moto_current, cancel_rotations
from local.stack.invoker import FunctionError
from tamtam import aws
from tamtam.otp.settings import reset_otp_settings

CASES = [(function, path) for function, paths in functions_with_events().items() for path in paths]
EXPECTED_REFUSALS = {("authorizer", "missing_key"), ("authorizer", "unknown_key")}


@pytest.fixture
def runner(provisioned, sandbox, monkeypatch):
    yield EventRunner(provisioned, setenv=monkeypatch.setenv)
    # Rotation events leave a rotation half-done or AWSCURRENT moved: neither reaches the next test.
    cancel_rotations(aws.client("secretsmanager"), provisioned.secret_ids.values())
    align_moto_current()
    reset_otp_settings()  # the environment the runner completed is undone by monkeypatch


def test_every_function_with_events_is_covered() -> None:
    assert {"api", "authorizer", "sender", "rotation"} <= {function for function, _ in CASES}


@pytest.mark.parametrize(("function", "path"), CASES, ids=[f"{f}/{p.stem}" for f, p in CASES])
def test_given_an_events_file_when_invoked_then_no_unexpected_error(runner: EventRunner, function: str, path: Path):
    event = json.loads(path.read_text(encoding="utf-8"))
    try:
        result = runner.run(function, event)
    except FunctionError as error:
        assert (function, path.stem) in EXPECTED_REFUSALS, f"{error.error_type}: {error.error_message}"
        assert error.error_message == "Unauthorized"
        return
    assert (function, path.stem) not in EXPECTED_REFUSALS, "the authorizer let an unknown key through"
    if isinstance(result, dict) and "statusCode" in result:
        assert result["statusCode"] < 500, result
    if isinstance(result, dict) and "batchItemFailures" in result:
        assert result["batchItemFailures"] == [], result
    if function == "authorizer":
        assert result["context"]["tenant_id"] and result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
