"""One request contract (tamtam.contract): the API's send routes and the ingest door validate a
send or a bulk request with the same models, and map its first validation error through the one
table of stable codes. A door that defines its own request model, its own field check or its own
map of pydantic errors fails here."""

from __future__ import annotations

import importlib
import inspect
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import BaseModel, ValidationError

from tamtam import ingest
from tamtam.contract import bodies, violations
from tamtam.settings import reset_settings

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "functions" / "api"
# the doors a send request comes through, and the bulk code that reads what they accepted
DOOR_FILES = sorted([*API.glob("*.py"), *(ROOT / "functions" / "ingest").glob("*.py"),
                     *(ROOT / "functions" / "fanout").glob("*.py"), ROOT / "layers/shared/tamtam/ingest.py",
                     *(ROOT / "layers/shared/tamtam/bulk").glob("*.py")])
# what only a send request takes (a request model forbids other fields; an answer does not):
# a text to a number, a number with its variables, a provider group
REQUEST_SHAPES = ({"to", "text"}, {"to", "vars"}, {"provider", "group_id"})


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TABLE_NAME", "t")
    monkeypatch.delenv("PHONE_DEFAULT_REGION", raising=False)
    reset_settings()
    yield
    reset_settings()


def _api_module(name: str) -> ModuleType:
    """A module of the api function's package (functions/ is its code root, as in Lambda)."""
    if str(API.parent) not in sys.path:
        sys.path.append(str(API.parent))
    return importlib.import_module(f"api.{name}")


def _route_body(method: str, path: str) -> type[BaseModel]:
    for module in ("messages", "batches"):  # each registers its routes on import
        _api_module(module)
    router = _api_module("router")
    return next(op.body for op in router.OPERATIONS if (op.method, op.path) == (method, path))


def test_given_the_send_routes_then_their_bodies_are_the_contracts_models():
    assert _route_body("POST", "/v1/messages") is bodies.SendMessageIn
    assert _route_body("POST", "/v1/messages/bulk") is bodies.BulkSendIn


def test_given_the_ingest_door_then_it_validates_with_the_contracts_models():
    assert ingest.SendMessageIn is bodies.SendMessageIn
    assert ingest.BulkSendIn is bodies.BulkSendIn


def _modules_of_doors() -> list[ModuleType]:
    modules = []
    for path in DOOR_FILES:
        if path.is_relative_to(ROOT / "layers/shared"):
            dotted = ".".join(path.relative_to(ROOT / "layers/shared").with_suffix("").parts)
            modules.append(importlib.import_module(dotted))
        elif path.parent == API:
            modules.append(_api_module(path.stem))
    return modules


def test_given_every_door_module_then_none_defines_a_request_model_of_its_own():
    own = []
    for module in _modules_of_doors():
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, BaseModel)
                and cls.__module__ == module.__name__
                and cls.model_config.get("extra") == "forbid"
            ):
                fields = set(cls.model_fields)
                own += [f"{module.__name__}.{name}" for shape in REQUEST_SHAPES if shape <= fields]
    assert own == []


@pytest.mark.parametrize("path", DOOR_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_given_every_door_file_then_no_field_check_nor_error_map_of_its_own(path: Path):
    text = path.read_text()
    assert "PydanticCustomError" not in text  # the checks of a request's fields: tamtam.contract.fields
    assert "extra_forbidden" not in text  # the map of pydantic's errors: tamtam.contract.violations


# (request, the API's status and code, the ingest door's reason, the field at fault)
CASES = [
    ({"text": "hi"}, 422, "missing_field", "missing_field", "to"),
    ({"to": "+224622000001", "text": "hi", "colour": "red"}, 422, "unknown_field", "unknown_field", "colour"),
    ({"to": "+2246", "text": "hi"}, 422, "invalid_phone", "invalid_phone", "to"),
    ({"to": "+224622000001", "text": ""}, 422, "too_short", "too_short", "text"),
    ({"to": "+224622000001", "text": "hi", "sender": "x" * 12}, 422, "too_long", "too_long", "sender"),
    (
        {"to": "+224622000001", "text": "hi", "provider": "twilio"},
        422,
        "unknown_provider",
        "unknown_provider",
        "provider",
    ),
    ({"to": "+224622000001", "text": "hi", "channel": "pigeon"}, 422, "invalid_value", "invalid_value", "channel"),
    ({"to": 224622000001, "text": "hi"}, 422, "invalid_type", "invalid_value", "to"),
    (
        {"to": "+224622000001", "text": "hi", "transactional": "maybe"},
        422,
        "invalid_type",
        "invalid_value",
        "transactional",
    ),
]
BULK_CASES = [
    ({"to": "+224622000001", "text": "hi"}, 422, "invalid_type", "invalid_value", "to"),
    ({"group": "club", "text": "hi"}, 400, "invalid_json", "invalid_value", "group"),
    ({"group": {"provider": "smsgate", "group_id": "1"}, "text": "hi"}, 422, "invalid_value", "invalid_value",
     "group.provider"),
    ({"recipients": [{"to": "+224622000001", "vars": {"a": "b"}, "x": 1}], "text": "hi"}, 422, "unknown_field",
     "unknown_field", "recipients.0.x"),
]


@pytest.mark.parametrize(("model", "request_", "status", "code", "reason", "field"),
                         [(bodies.SendMessageIn, *case) for case in CASES]
                         + [(bodies.BulkSendIn, *case) for case in BULK_CASES])
def test_given_an_invalid_request_then_each_door_answers_its_stable_code_from_the_one_table(
    model, request_, status, code, reason, field
):
    with pytest.raises(ValidationError) as by_api:  # the API validates the body's JSON text
        model.model_validate_json(json.dumps(request_))
    answer = _api_module("errors").from_validation(by_api.value)
    assert (answer.status, answer.body["error"]["code"]) == (status, code)
    assert answer.body["error"]["field"] == (field if status == 422 else None)
    with pytest.raises(ValidationError) as by_ingest:  # the ingest door, the request the envelope held
        model.model_validate(request_)
    rejected = ingest._rejected(by_ingest.value, "request.")
    assert (rejected.reason, rejected.field) == (reason, f"request.{field}")
    assert violations.first_violation(by_ingest.value).reason == reason


def test_given_a_model_of_the_contract_then_it_is_built_on_first_use_not_at_import():
    for model in (bodies.SendMessageIn, bodies.Recipient, bodies.GroupTarget, bodies.BulkSendIn):
        assert model.model_config.get("defer_build") is True
    assert _api_module("model_base").ApiModel.model_config.get("defer_build") is True
