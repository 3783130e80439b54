"""The base of the API's request and answer models: the layer's `LazyModel`
(tamtam.contract.base), so that the send requests the API shares with the ingest door and the
API's own models are built alike, each the first time it is used, not at import. An invocation
uses two or three of the forty models, so the cold start stops paying for the others
(docs/performance.md, cold start)."""

from __future__ import annotations

from tamtam.contract.base import LazyModel as ApiModel

__all__ = ["ApiModel"]
