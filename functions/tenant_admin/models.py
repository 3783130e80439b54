"""Bodies and answers of the operator API for tenant keys (functions/tenant_admin)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tamtam.tenant_keys import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS


class CreateKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="a label for the key, e.g. the system using it")


class RotateKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_seconds: int = Field(DEFAULT_GRACE_SECONDS, ge=0, le=MAX_GRACE_SECONDS, strict=True,
                               description="how long the old key keeps working")


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key_id: str
    name: str
    prefix: str | None
    status: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None
    rotated_from: str | None
    replaced_by: str | None


class NewKeyOut(KeyOut):
    api_key: str = Field(description="the key itself: shown this once, never stored")


class KeyListOut(BaseModel):
    tenant_id: str
    keys: list[KeyOut]


class RotationOut(BaseModel):
    key: NewKeyOut
    previous: KeyOut
