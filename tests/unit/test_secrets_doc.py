"""docs/secrets.md and the providers' secret models agree: one field table per provider,
generated from its model (python -m local.secret_docs), and every example JSON is valid."""

from __future__ import annotations

import json
import re

import pytest

from local.secret_docs import DOC, render, secret_models, tables_in
from tamtam.providers.registry import PROVIDER_NAMES

TEXT = DOC.read_text(encoding="utf-8")


def test_every_provider_has_a_field_table() -> None:
    assert tables_in(TEXT) == set(PROVIDER_NAMES)


def test_the_field_tables_are_the_models_fields() -> None:
    assert render(TEXT) == TEXT, "docs/secrets.md is out of date: run python -m local.secret_docs"


def _section(provider: str) -> str:
    start = TEXT.index(f"<!-- fields:{provider} -->")
    end = TEXT.find("\n## ", start)
    return TEXT[start:] if end == -1 else TEXT[start:end]


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_the_example_secrets_are_valid(provider: str) -> None:
    examples = re.findall(r"```json\n(.*?)```", _section(provider), re.S)
    assert examples, f"no example JSON for {provider}"
    for example in examples:
        secret_models()[provider].model_validate(json.loads(example))


def test_a_field_added_to_a_model_shows_as_drift(monkeypatch) -> None:
    from pydantic import create_model

    from local import secret_docs

    models = secret_models()
    grown = create_model("Grown", __base__=models["ventis"], extra_field=(str, "x"))
    monkeypatch.setattr(secret_docs, "secret_models", lambda: {**models, "ventis": grown})
    assert "`extra_field`" in render(TEXT) and render(TEXT) != TEXT
