"""GET /openapi.json and GET /docs (no API key): the OpenAPI document written at build time
(`make openapi` -> openapi.json beside this file) and a Swagger UI page for it, its script and
style inlined from the Swagger UI files that ship with aws-lambda-powertools (no internet)."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

from api.router import Answer, Call, operation

DOCUMENT = Path(__file__).with_name("openapi.json")


@cache
def _document() -> str:
    return DOCUMENT.read_text(encoding="utf-8")


@cache
def _swagger_assets() -> tuple[str, str]:
    spec = importlib.util.find_spec("aws_lambda_powertools")
    assert spec is not None and spec.origin is not None  # noqa: S101 - narrows for mypy; powertools is a dependency
    folder = Path(spec.origin).parent / "event_handler" / "openapi" / "swagger_ui"
    return (folder / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"), \
        (folder / "swagger-ui.min.css").read_text(encoding="utf-8")


def _page() -> str:
    script, style = _swagger_assets()
    spec = json.dumps(json.loads(_document()))  # one line, and no "</script>" can close the tag early
    spec = spec.replace("</", "<\\/")
    return (
        "<!DOCTYPE html><html><head><meta charset='UTF-8'><title>tamtam API</title>"
        f"<style>{style}</style></head><body><div id='swagger-ui'></div><script>{script}</script>"
        "<script>SwaggerUIBundle({dom_id: '#swagger-ui', deepLinking: true, "
        f"presets: [SwaggerUIBundle.presets.apis], spec: {spec}}});</script></body></html>"
    )


@operation("GET", "/openapi.json", summary="This API's OpenAPI document", tag="docs", public=True, documented=False)
def openapi_document(call: Call) -> Answer:
    return Answer(status=200, body=_document())


@operation("GET", "/docs", summary="The OpenAPI document in Swagger UI", tag="docs", public=True, documented=False)
def docs_page(call: Call) -> Answer:
    return Answer(status=200, body=_page(), content_type="text/html; charset=utf-8")
