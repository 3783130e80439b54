"""The ingest door's configuration (tamtam.ingest.Door): which sources may send, for which
tenants, and which IAM principals send directly to the queue for which source.

infra/ writes it to one SSM parameter (var.ingest_sources, var.ingest_senders: infra/ingest.tf)
whose name the function gets in INGEST_SOURCES_PARAMETER (template.yaml Globals). It is read on
first use and again at most once every `ingest_door_cache_seconds`: a change made with
`terraform apply` holds within a minute, without a redeployment. Unset, the door is closed
(every request is rejected). A parameter that cannot be read, or does not hold a Door, raises:
the records fail and come back (and the function's error alarm says why).
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from pydantic import Field

from tamtam import aws
from tamtam.env_settings import EnvSettings
from tamtam.ingest import Door


class DoorSettings(EnvSettings):

    ingest_sources_parameter: str = Field("", description="the SSM parameter holding the door's configuration (JSON)")
    ingest_door_cache_seconds: float = Field(60.0, ge=0, description="how long a read of it is used")


@lru_cache(maxsize=1)
def get_door_settings() -> DoorSettings:
    return DoorSettings.from_env()


_lock = threading.Lock()
_cached: tuple[float, str, Door] | None = None  # (read at, parameter name, door)


def door() -> Door:
    """The configuration, from the cache while it is fresh."""
    global _cached
    settings = get_door_settings()
    name = settings.ingest_sources_parameter
    if not name:
        return Door()
    with _lock:
        cached = _cached
    if cached is not None and cached[1] == name and time.monotonic() - cached[0] < settings.ingest_door_cache_seconds:
        return cached[2]
    value = aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    read = Door.model_validate_json(value)
    with _lock:
        _cached = (time.monotonic(), name, read)
    return read


def reset_cache() -> None:
    """For tests that change the configuration or the environment."""
    global _cached
    with _lock:
        _cached = None
    get_door_settings.cache_clear()
