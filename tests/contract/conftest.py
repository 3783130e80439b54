"""Contract fixtures: one local stack (`make run`'s LocalStack, tests/contract/harness.py) for the
whole package, with one tenant; it stops when the package is done. The document under test is
the one the stack serves at GET /openapi.json, read once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract.harness import ContractStack, contract_stack


@pytest.fixture(scope="package")
def target() -> Iterator[ContractStack]:
    with contract_stack() as stack:
        yield stack


@pytest.fixture(scope="package")
def served_document(target: ContractStack) -> dict[str, Any]:
    return target.served_document()
