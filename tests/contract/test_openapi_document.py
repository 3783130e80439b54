"""The OpenAPI document the API serves (GET /openapi.json, no key): a valid OpenAPI 3.1 document,
the same as the one `make openapi` commits (functions/api/openapi.json), and one that says what
the API's callers rely on: bearer keys, the one error shape, Idempotency-Key on sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.contract.harness import (
    COMMITTED_DOCUMENT,
    DOCUMENT_PATH,
    REQUEST_TIMEOUT,
    ContractStack,
    Unresolvable,
    resolve,
)

SENDS = (("post", "/v1/messages"), ("post", "/v1/messages/bulk"))
AUTHENTICATED = (*SENDS, ("get", "/v1/messages/{message_id}"), ("get", "/v1/batches/{batch_id}"))
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _short(exc: BaseException, limit: int = 400) -> str:
    """An exception in one line; a resolver's message quotes the whole document, cut it."""
    text = str(exc).split(" does not exist within ")[0]
    return f"{type(exc).__name__}: {text[:limit]}"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in (document.get("paths") or {}).items()
            for method, op in (item or {}).items() if method in HTTP_METHODS and isinstance(op, dict)]


def _diff(served: Any, committed: Any, at: str = "") -> list[str]:
    """Where two JSON values differ, as JSON pointers (the first few hundred)."""
    if isinstance(served, dict) and isinstance(committed, dict):
        out = []
        for key in sorted(set(served) | set(committed)):
            here = f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key not in committed:
                out.append(f"{here}: served only")
            elif key not in served:
                out.append(f"{here}: committed only")
            else:
                out += _diff(served[key], committed[key], here)
        return out
    if served != committed:
        return [f"{at or '/'}: served {json.dumps(served)[:120]} != committed {json.dumps(committed)[:120]}"]
    return []


def test_given_no_key_when_the_document_is_read_then_json_200(target: ContractStack) -> None:
    response = requests.get(target.document_url, timeout=REQUEST_TIMEOUT)

    assert response.status_code == 200, response.text[:1000]
    assert response.headers.get("Content-Type", "").startswith("application/json")


def test_the_served_document_is_a_valid_openapi_3_1_document(served_document: dict[str, Any]) -> None:
    version = served_document.get("openapi")
    assert isinstance(version, str) and version.startswith("3.1."), f"openapi: {version!r}, expected 3.1.x"
    failure = None
    try:
        errors = [f"{'/'.join(str(p) for p in e.path) or '/'}: {e.message}"
                  for e in OpenAPIV31SpecValidator(served_document).iter_errors()]
    except Exception as exc:  # noqa: BLE001 - whatever stops the validator (e.g. a reference it cannot follow) fails the test
        failure = f"openapi-spec-validator could not read the served document: {_short(exc)}"
    if failure:
        pytest.fail(failure)
    assert not errors, f"{len(errors)} errors in the served document:\n" + "\n".join(errors[:50])


def test_the_served_document_is_the_committed_one(served_document: dict[str, Any]) -> None:
    assert COMMITTED_DOCUMENT.is_file(), (
        f"{COMMITTED_DOCUMENT.relative_to(COMMITTED_DOCUMENT.parents[2])} does not exist: `make openapi` writes it")
    committed = json.loads(COMMITTED_DOCUMENT.read_text(encoding="utf-8"))

    differences = _diff(served_document, committed)

    assert not differences, (f"GET {DOCUMENT_PATH} differs from the committed document in {len(differences)} "
                             "places (run `make openapi`):\n" + "\n".join(differences[:100]))


def test_the_document_declares_bearer_keys_on_the_api(served_document: dict[str, Any]) -> None:
    schemes = (served_document.get("components") or {}).get("securitySchemes") or {}
    bearer = {name for name, s in schemes.items()
              if isinstance(s, dict) and s.get("type") == "http" and str(s.get("scheme", "")).lower() == "bearer"}
    assert bearer, f"no http bearer scheme (Authorization: Bearer <key>) in components.securitySchemes: {schemes}"
    operations = {(m, p): op for m, p, op in _operations(served_document)}
    unprotected = []
    for key in AUTHENTICATED:
        assert key in operations, f"{key[0].upper()} {key[1]} is not documented"
        security = operations[key].get("security", served_document.get("security")) or []
        if not any(bearer & set(requirement) for requirement in security):
            unprotected.append(f"{key[0].upper()} {key[1]}")
    assert not unprotected, f"operations that do not require the bearer scheme: {unprotected}"


def _error_shape_problem(document: dict[str, Any], schema: Any) -> str | None:
    """Why a response schema is not {"error": {code, message, field}} (each branch of a
    oneOf / anyOf must be), or None."""
    name = (schema or {}).get("$ref") if isinstance(schema, dict) else None
    schema = resolve(document, schema)
    if not isinstance(schema, dict) or not schema:
        return "no application/json schema"
    branches = schema.get("oneOf") or schema.get("anyOf")
    if branches:
        problems = [_error_shape_problem(document, branch) for branch in branches]
        return next((p for p in problems if p), None)
    error = resolve(document, (schema.get("properties") or {}).get("error"))
    fields = set((error or {}).get("properties") or {}) if isinstance(error, dict) else set()
    if "error" not in (schema.get("required") or []) or not {"code", "message", "field"} <= fields:
        return f"{name or schema.get('title') or 'an inline schema'} is not {{\"error\": {{code, message, field}}}}"
    return None


def test_every_documented_error_is_the_one_error_shape(served_document: dict[str, Any]) -> None:
    """Every 4xx and 5xx of every operation: application/json, {"error": {code, message, field}}."""
    wrong = []
    for method, path, op in _operations(served_document):
        for status, response in (op.get("responses") or {}).items():
            if str(status)[:1] not in ("4", "5"):
                continue
            try:
                media = ((resolve(served_document, response).get("content") or {}).get("application/json") or {})
                problem = _error_shape_problem(served_document, resolve(served_document, media).get("schema"))
            except Unresolvable as exc:
                problem = str(exc)
            if problem:
                wrong.append(f"{method.upper()} {path} {status}: {problem}")
    assert not wrong, f"{len(wrong)} error answers not documented in the one error shape:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("method", "path"), SENDS)
def test_sends_document_the_idempotency_key_header(served_document: dict[str, Any], method: str, path: str) -> None:
    op = (served_document.get("paths") or {}).get(path, {}).get(method)
    assert op, f"{method.upper()} {path} is not documented"
    item_parameters = (served_document["paths"][path].get("parameters") or [])
    parameters = [resolve(served_document, p) for p in (op.get("parameters") or []) + item_parameters]
    headers = {str(p.get("name", "")).lower() for p in parameters if p.get("in") == "header"}
    assert "idempotency-key" in headers, f"{method.upper()} {path} documents no Idempotency-Key header: {headers}"
