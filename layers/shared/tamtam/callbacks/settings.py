"""Settings of the status callbacks, read from the environment on first use (like
tamtam.settings; the local stack resets them with the other caches).

`CALLBACK_ALLOW_LOOPBACK` is the local stack's switch (local/stack/stack.py turns it on):
receivers on 127.0.0.1 / ::1, over http or https. It is never set in AWS (template.yaml does not
name it), where callbacks go to public https addresses only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

from pydantic import Field

from tamtam.env_settings import EnvSettings

DAY = 24 * 3600


class CallbackSettings(EnvSettings):
    env_prefix: ClassVar[str] = "CALLBACK_"

    allow_loopback: bool = Field(
        False, description="receivers on loopback addresses, http allowed there (the local stack only)")
    timeout_seconds: float = Field(10.0, gt=0, le=25, description="one POST, connect to answer")
    backoff_base_seconds: int = Field(30, ge=1, description="wait before the second attempt; doubles each attempt")
    backoff_max_seconds: int = Field(3600, ge=1, description="longest wait between two attempts")
    retry_window_seconds: int = Field(
        DAY, ge=0, description="a failed delivery is tried again until this long after its first attempt, "
        "then dead-lettered: the last attempt is the first one at or after the window's end")


@lru_cache(maxsize=1)
def get_callback_settings() -> CallbackSettings:
    return CallbackSettings.from_env()


def reset_callback_settings() -> None:
    """For tests and the local stack, which change the environment."""
    get_callback_settings.cache_clear()
