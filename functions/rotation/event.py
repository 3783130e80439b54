"""The event Secrets Manager sends a rotation function."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RotationEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    step: Literal["createSecret", "setSecret", "testSecret", "finishSecret"] = Field(alias="Step")
    secret_id: str = Field(alias="SecretId", min_length=1)
    token: str = Field(alias="ClientRequestToken", min_length=1)
