"""The committed OpenAPI document (functions/api/openapi.json, served by the api function) is
what the code says, and each documented operation is one the api function routes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "functions" / "api" / "openapi.json"
PROVIDER_WEBHOOKS = ("/v1/webhooks/smsgate", "/v1/webhooks/messagepro")  # called by providers, without a key


def test_given_the_code_then_the_committed_document_is_up_to_date():
    answer = subprocess.run([sys.executable, "-m", "local.openapi", "--check"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr


def test_given_the_document_then_every_error_answer_has_the_one_shape_and_lists_its_codes():
    doc = json.loads(DOCUMENT.read_text())
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert {"200", "201", "202"} & set(op["responses"]), (method, path)
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                assert response["x-error-codes"], (method, path, status)
                schema = response["content"]["application/json"]["schema"]
                refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
                assert "#/components/schemas/ErrorBody" in refs, (method, path, status)
                assert set(response["content"]["application/json"]["examples"]) == set(response["x-error-codes"])


def test_given_authenticated_routes_then_they_document_401_and_the_bearer_scheme():
    doc = json.loads(DOCUMENT.read_text())
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {**doc["components"]["securitySchemes"]["bearerAuth"],
                                                                  "type": "http", "scheme": "bearer"}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if op.get("security") == []:
                assert path in PROVIDER_WEBHOOKS
                continue
            assert "unauthorized" in op["responses"]["401"]["x-error-codes"], (method, path)
            if method == "post" and not path.endswith("/verify") and path not in PROVIDER_WEBHOOKS:
                assert {"$ref": "#/components/parameters/IdempotencyKey"} in op["parameters"], path
