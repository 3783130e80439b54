"""The field tables of docs/secrets.md, generated from the providers' secret models (the
pydantic models the clients validate their secret with), so the doc cannot drift from them:

    python -m local.secret_docs          # rewrite the tables in docs/secrets.md
    python -m local.secret_docs --check  # exit 1 when a table is out of date (the tests do this)
"""

from __future__ import annotations

import argparse
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic_core import PydanticUndefined

REPO_ROOT = Path(__file__).resolve().parents[1]
DOC = REPO_ROOT / "docs" / "secrets.md"
_BLOCK = re.compile(r"(<!-- fields:(?P<provider>[a-z]+) -->\n)(?P<table>.*?)(<!-- /fields -->)", re.S)


def secret_models() -> dict[str, type[BaseModel]]:
    """Provider -> the pydantic model of its secret JSON."""
    from tamtam.providers.flowsms import FlowSmsSecret
    from tamtam.providers.messagepro import MessageProSecret
    from tamtam.providers.passeinfo import PasseInfoSecret
    from tamtam.providers.smsgate import SmsGateSecret
    from tamtam.providers.ventis import VentisSecret

    return {"passeinfo": PasseInfoSecret, "messagepro": MessageProSecret, "flowsms": FlowSmsSecret,
            "ventis": VentisSecret, "smsgate": SmsGateSecret}


def _type(annotation: Any) -> str:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in typing.get_args(annotation) if a is not type(None))
    if annotation is SecretStr:
        return "string (secret)"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, str(annotation))


def fields_table(model: type[BaseModel]) -> str:
    rows = ["| field | type | required | default |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        required = field.is_required()
        default = "" if required or field.default in (None, PydanticUndefined) else f"`{field.default}`"
        rows.append(f"| `{name}` | {_type(field.annotation)} | {'yes' if required else 'no'} | {default} |")
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    models = secret_models()

    def table(match: re.Match[str]) -> str:
        provider = match.group("provider")
        if provider not in models:
            raise SystemExit(f"docs/secrets.md has a table for unknown provider {provider!r}")
        return match.group(1) + fields_table(models[provider]) + match.group(4)

    return _BLOCK.sub(table, text)


def tables_in(text: str) -> set[str]:
    return {m.group("provider") for m in _BLOCK.finditer(text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.secret_docs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check, write nothing")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    fresh = render(text)
    if args.check:
        if fresh != text:
            print("docs/secrets.md is out of date: run python -m local.secret_docs", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
