"""Pydantic's validation errors -> the stable codes the send doors answer, in one table: the
API's error `code` (functions/api/errors.py) and the ingest door's rejection `reason`
(tamtam.ingest). Only the first error of a request is reported.

The two doors read the table alike but for one thing: the ingest door's reasons are the older,
coarser set, which never named a value's JSON type or shape; a request whose value has the
wrong type (`invalid_type`) or is not an object where one is due (`invalid_json`) is rejected
there as `invalid_value` (`Violation.reason`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

# pydantic error type -> stable code; any other type: invalid_value
CODES = {
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "json_invalid": "invalid_json",
    "model_type": "invalid_json",
    "model_attributes_type": "invalid_json",
    "dict_type": "invalid_json",
    "string_too_short": "too_short",
    "string_too_long": "too_long",
    "literal_error": "invalid_value",
    "string_type": "invalid_type",
    "int_type": "invalid_type",
    "int_parsing": "invalid_type",
    "float_type": "invalid_type",
    "float_parsing": "invalid_type",
    "bool_type": "invalid_type",
    "bool_parsing": "invalid_type",
    "list_type": "invalid_type",
    # raised by the contract's own checks (tamtam.contract.fields)
    "invalid_phone": "invalid_phone",
    "unknown_provider": "unknown_provider",
}
# the codes the ingest door reports as invalid_value
_NOT_INGEST_REASONS = frozenset({"invalid_json", "invalid_type"})
_NONE: dict[str, Any] = {"type": "invalid_value", "loc": (), "msg": "invalid request"}


@dataclass(frozen=True)
class Violation:
    """The first error of a request: pydantic's error `kind`, its stable `code`, the `field`
    at fault (dotted path, None for the whole body) and pydantic's `message`."""

    kind: str
    code: str
    field: str | None
    message: str

    @property
    def reason(self) -> str:
        """The code as the ingest door reports it."""
        return "invalid_value" if self.code in _NOT_INGEST_REASONS else self.code


def first_violation(exc: ValidationError) -> Violation:
    """The request's first validation error, with its stable code."""
    errors = exc.errors(include_url=False)
    first = errors[0] if errors else _NONE
    kind = str(first.get("type", ""))
    field = ".".join(str(part) for part in first.get("loc", ())) or None
    return Violation(kind, CODES.get(kind, "invalid_value"), field, str(first.get("msg", "invalid request")))
