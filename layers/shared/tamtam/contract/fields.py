"""The checked field types of the send requests. A phone number is normalised to E.164 here
(`invalid_phone` otherwise), a pinned provider must be one the gateway knows
(`unknown_provider`); a callback URL's address is checked later, by the door
(tamtam.callbacks.endpoints.accept_callback_url: `invalid_callback_url`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from tamtam.phone import InvalidPhoneNumber, to_e164
from tamtam.providers.registry import PROVIDER_NAMES
from tamtam.settings import get_settings


def e164(value: str) -> str:
    """The number in E.164, read in the deployment's default region when national."""
    try:
        return to_e164(value, get_settings().phone_default_region)
    except InvalidPhoneNumber as exc:
        raise PydanticCustomError("invalid_phone", "{reason}", {"reason": str(exc)}) from exc


def known_provider(value: str | None) -> str | None:
    """The provider unchanged, if absent or one of tamtam.providers.registry.PROVIDER_NAMES."""
    if value is not None and value not in PROVIDER_NAMES:
        raise PydanticCustomError(
            "unknown_provider", "unknown provider; one of: {names}", {"names": ", ".join(PROVIDER_NAMES)}
        )
    return value


PhoneNumber = Annotated[
    str,
    Field(description="E.164 (+224622000001) or national format of the default region", examples=["+224622000001"]),
    AfterValidator(e164),
]

# Status callbacks (README "Status callbacks"); the URL's address is checked by the door
# (tamtam.callbacks.endpoints.accept_callback_url: 422 `invalid_callback_url`).
CallbackUrl = Annotated[str | None, Field(
    min_length=1, max_length=2048, json_schema_extra={"format": "uri"},
    description="POST each status change of the message(s) here, signed with the account's callback secret "
    "(POST /v1/callback-secret): https, to a public address", examples=["https://example.com/tamtam/status"],
)]
Reference = Annotated[str | None, Field(
    min_length=1, max_length=128, description="your own reference, returned in every status callback",
    examples=["order-1042"],
)]
