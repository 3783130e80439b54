"""Fuzzing the API with its own document, on the local stack.

A short schemathesis run (the same as `make fuzz`, smaller; tests/contract/fuzzing.py), then the
requests a generator does not reliably make, each expecting the documented error in the one
JSON shape `{"error": {"code", "message", "field"}}`: a body that is not JSON, not UTF-8,
nested 100,000 levels deep or over API Gateway's 10 MB; an unknown route; an unknown method.
A failure prints the answer and a curl line that sends the same request again (the exact body
is kept in the test's temporary directory)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis import checks
from schemathesis.core.failures import FailureGroup

from tests.contract.fuzzing import fuzz
from tests.contract.harness import REQUEST_TIMEOUT, ContractStack, Unresolvable, resolve

# About 900 generated cases on 13 operations (the coverage phase's included), ~35 s on 2 cores; a
# fixed seed, so that a failure in CI replays (`make fuzz FUZZ_CASES=200 FUZZ_SEED=20261207`).
CASES = 200
SEED = 20261207
MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's request limit
DEPTH = 100_000
CONFORMANCE = [checks.status_code_conformance, checks.content_type_conformance,
               checks.response_schema_conformance, checks.response_headers_conformance]
SENDS = ("/v1/messages", "/v1/messages/bulk")


@dataclass(frozen=True)
class Malformed:
    """A body a send cannot take, and the documented answer: (status, codes)."""

    name: str
    body: bytes
    status: int
    codes: frozenset[str] | None  # None: any code (the gateway's own answer)


MALFORMED = [
    Malformed("not JSON", b'{"to": "+224622000001", "text": ', 400, frozenset({"invalid_json"})),
    # JSON text is UTF-8 (RFC 8259): either code says what is wrong.
    Malformed("not UTF-8", b'{"to": "+224622000001", "text": "caf\xe9 \xff\xfe"}', 400,
              frozenset({"invalid_encoding", "invalid_json"})),
    Malformed(f"{DEPTH:,} nested arrays", b"[" * DEPTH + b"]" * DEPTH, 400, frozenset({"invalid_json"})),
    Malformed(f"a field nested {DEPTH:,} levels", b'{"to": "+224622000001", "text": ' + b"[" * DEPTH + b"]" * DEPTH
              + b"}", 400, frozenset({"invalid_json"})),
    # API Gateway refuses it before any function runs (REQUEST_TOO_LARGE, template.yaml's 4XX).
    Malformed("over 10 MB", b'{"to": "+224622000001", "text": "' + b"a" * MAX_PAYLOAD + b'"}', 413, None),
]


def _curl(method: str, path: str, body_file: Path | None = None) -> str:
    """The request as a curl line against `make run`'s stack (KEY: a tenant's key)."""
    parts = ["curl", "-sS", "-i", "-X", method, f"http://127.0.0.1:3000{path}"]
    line = " ".join(shlex.quote(p) for p in parts) + ' -H "Authorization: Bearer $KEY"'
    if body_file is not None:
        line += f" -H 'Content-Type: application/json' --data-binary @{shlex.quote(str(body_file))}"
    return line


def _answer(response: requests.Response) -> str:
    return f"-> {response.status_code} {response.headers.get('Content-Type')}: {response.text[:600]}"


def assert_error(response: requests.Response, expected: dict[int, frozenset[str] | None], repro: str) -> dict[str, Any]:
    """The one error shape, with one of the `expected` statuses and (when given) codes."""
    where = f"{repro}\n{_answer(response)}"
    assert response.headers.get("Content-Type", "").startswith("application/json"), f"not JSON:\n{where}"
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"Content-Type is JSON, the body is not:\n{where}")
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error shape:\n{where}"
    assert isinstance(error, dict), f"not the error shape:\n{where}"
    assert set(error) == {"code", "message", "field"}, f"error is not {{code, message, field}}:\n{where}"
    assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str), where
    assert error["field"] is None or isinstance(error["field"], str), where
    assert response.status_code in expected, f"expected {sorted(expected)}:\n{where}"
    codes = expected[response.status_code]
    assert codes is None or error["code"] in codes, f"expected code {sorted(codes)}:\n{where}"
    assert error["code"] != "internal_error", where
    return error


def documented_codes(document: dict[str, Any], path: str, method: str, status: int) -> set[str]:
    """The error codes the document gives for one answer: its `x-error-codes` and examples."""
    try:
        operation = resolve(document, ((document.get("paths") or {}).get(path) or {}).get(method.lower())) or {}
        answer = resolve(document, (operation.get("responses") or {}).get(str(status))) or {}
        media = resolve(document, (answer.get("content") or {}).get("application/json")) or {}
        examples = [resolve(document, e).get("value") for e in (media.get("examples") or {}).values()]
    except Unresolvable:
        return set()
    codes = {str(code) for code in answer.get("x-error-codes") or []}
    for example in [media.get("example"), *examples]:
        if isinstance(example, dict) and isinstance(example.get("error"), dict):
            codes.add(str(example["error"].get("code")))
    return codes


def assert_documented(schema: Any, document: dict[str, Any], path: str, method: str, response: requests.Response,
                      repro: str) -> None:
    """The answer is one the document has for the operation: status, content type, headers, body,
    and an error code it names for that status."""
    try:
        operation = schema[path][method]
    except LookupError as exc:
        pytest.fail(f"{method} {path} is not in the document: {exc}")
    report = None
    try:
        operation.Case(media_type="application/json").validate_response(response, checks=CONFORMANCE)
    except FailureGroup as group:
        report = str(group).split("Reproduce with:")[0].strip()
    if report:
        pytest.fail(f"the answer is not the documented one for {method} {path}:\n{report}\n\nReproduce with:\n{repro}")
    codes = documented_codes(document, path, method, response.status_code)
    code = response.json()["error"]["code"]
    assert code in codes, (f"{method} {path} {response.status_code}: code {code!r} is not among the codes the document "
                           f"gives for it ({sorted(codes)}: x-error-codes, examples)\n{repro}\n{_answer(response)}")


@pytest.fixture(scope="module")
def api_schema(served_document: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_dict(served_document)


def test_given_the_served_document_when_fuzzed_then_no_check_fails(
        target: ContractStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = fuzz(target, CASES, workdir=tmp_path, seed=SEED, timeout=240)

    with capsys.disabled():  # the totals stay in the log of a passing run too
        print("\n" + result.summary())
    assert result.ok, f"{result.summary()}\n\n{result.failures_section()}"


@pytest.mark.parametrize("path", SENDS)
@pytest.mark.parametrize("case", MALFORMED, ids=lambda c: c.name)
def test_given_a_malformed_body_then_the_documented_error(
        target: ContractStack, api_schema: Any, served_document: dict[str, Any], tmp_path: Path, path: str,
        case: Malformed) -> None:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(case.body)
    repro = _curl("POST", path, body_file)

    response = requests.post(target.api_url + path, data=case.body, timeout=REQUEST_TIMEOUT,
                             headers={**target.auth(), "Content-Type": "application/json"})

    assert_error(response, {case.status: case.codes}, repro)
    assert_documented(api_schema, served_document, path, "POST", response, repro)


ROUTE_NOT_FOUND = {404: frozenset({"route_not_found"})}
NOT_A_METHOD_HERE = {**ROUTE_NOT_FOUND, 405: frozenset({"method_not_allowed"})}


@pytest.mark.parametrize(("method", "path", "expected"), [pytest.param(*case, id=f"{case[0]} {case[1]}") for case in (
    ("GET", "/v2/messages", ROUTE_NOT_FOUND),  # outside every route of the API
    ("GET", "/v1/nothing-here", ROUTE_NOT_FOUND),  # under /v1, no operation
    ("POST", "/openapi.json", NOT_A_METHOD_HERE),  # a route the API has, not with this method
    ("PATCH", "/v1/messages", NOT_A_METHOD_HERE),
    ("TRACE", "/v1/messages", NOT_A_METHOD_HERE),  # a method no route takes
    ("PURGE", "/v1/messages", NOT_A_METHOD_HERE),  # not an HTTP method API Gateway knows
)])
def test_given_an_unknown_route_or_method_then_a_json_error(
        target: ContractStack, method: str, path: str, expected: dict[int, frozenset[str] | None]) -> None:
    response = requests.request(method, target.api_url + path, headers=target.auth(), timeout=REQUEST_TIMEOUT)

    assert_error(response, expected, _curl(method, path))
