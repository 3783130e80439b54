"""The base of the request and answer models: each model's validator and serializer are built
the first time the model is used, not at import. An API invocation uses two or three of the
forty models, so the cold start stops paying for the others (docs/performance.md, cold start)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LazyModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
