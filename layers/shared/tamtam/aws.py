"""boto3 clients, created once per warm Lambda on first use. The only module (with the
provider clients) that talks to boto3 directly; logic receives these as arguments."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_CONFIG).Table(name)


def reset() -> None:
    """For tests that switch endpoints (moto in-process vs server)."""
    client.cache_clear()
    table.cache_clear()
