"""What a rotation does with each provider's credentials.

- PasseInfo: the API key is renewed through the provider (the old key is refused at once), the
  new one becomes the pending version; senders meeting the refused key read AWSPENDING.
- SMSGate holding JWT tokens: a new pair is issued (with the Basic credentials kept beside the
  tokens), and once it is current the replaced pair is revoked by its id (`token_id`).
- FLOW SMS, Ventis, Message Pro, SMSGate with Basic only: passwords cannot be changed through
  an API, so the rotation re-checks them: the pending version is a copy of the current one and
  the test step logs in (or queries the balance) with it. Refused credentials fail the test
  step, which is what raises the alarm: the operator changes the password at the provider, then
  puts the new secret value (docs/secrets.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from tamtam.observability import logger
from tamtam.providers.base import AmbiguousError, PermanentError, ProviderClient
from tamtam.providers.registry import client_class
from tamtam.rotation.labels import RotationError


def client_for(provider: str, value: dict[str, Any]) -> ProviderClient:
    """The provider's client on one version of its secret; a value that does not match the
    client's model is a RotationError naming the fields only (never their values)."""
    try:
        return client_class(provider).from_secret(value)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
        raise RotationError(f"the {provider} secret does not match its model (fields: {fields})") from None
    except ValueError as exc:  # a client's own check of the fields it needs (our words, no values)
        raise RotationError(f"the {provider} secret is not usable: {exc}") from None


class Rotator:
    """The default: a re-check of credentials that cannot be changed through an API."""

    def __init__(self, provider: str):
        self.provider = provider

    def new_value(self, current: dict[str, Any]) -> dict[str, Any]:
        """createSecret: the JSON of the pending version."""
        client_for(self.provider, current)  # a broken current secret fails here, not later
        return dict(current)

    def test(self, pending: dict[str, Any]) -> None:
        """testSecret: one authenticated call with the pending version; raises when refused."""
        client_for(self.provider, pending).check_credentials()

    def replaced(self, new: dict[str, Any], previous: dict[str, Any] | None) -> None:
        """finishSecret, once the new version is current: retire what it replaced."""


class PasseInfoRotator(Rotator):
    def new_value(self, current: dict[str, Any]) -> dict[str, Any]:
        client = client_for(self.provider, current)
        try:
            new_key = client.renew_api_key()  # type: ignore[attr-defined]
        except AmbiguousError:
            # The renewal went out and its answer was lost: PasseInfo may hold a new key that
            # is stored nowhere, and asking again would renew once more (docs/secrets.md).
            logger.critical("new credentials issued but not stored: set the secret by hand",
                            extra={"provider": self.provider})
            raise
        logger.info("passeinfo api key renewed", extra={"provider": self.provider})
        return {**current, "api_key": new_key}


class SmsGateRotator(Rotator):
    @staticmethod
    def _jwt_mode(value: dict[str, Any]) -> bool:
        return bool(value.get("access_token"))

    def new_value(self, current: dict[str, Any]) -> dict[str, Any]:
        if not self._jwt_mode(current):
            return super().new_value(current)
        pair = client_for(self.provider, current).issue_token()  # type: ignore[attr-defined]
        if not pair.id:
            raise RotationError("SMSGate issued a token without an id: it could never be revoked")
        logger.info("smsgate token issued", extra={"provider": self.provider, "token_id": pair.id})
        value = {**current, "access_token": pair.access_token.get_secret_value(), "token_id": pair.id}
        if pair.refresh_token is not None:
            value["refresh_token"] = pair.refresh_token.get_secret_value()
        else:
            value.pop("refresh_token", None)  # the old pair's refresh token dies with it
        return value

    def replaced(self, new: dict[str, Any], previous: dict[str, Any] | None) -> None:
        old_id = (previous or {}).get("token_id")
        if not old_id or old_id == new.get("token_id"):
            if previous is not None and self._jwt_mode(previous) and not old_id:
                logger.warning("replaced smsgate token has no token_id: it stays valid until it expires")
            return
        try:
            client_for(self.provider, new).revoke_token(old_id)  # type: ignore[attr-defined]
        except PermanentError as exc:
            if exc.raw_status != "404":  # already gone: a repeated finishSecret
                raise
        logger.info("smsgate token revoked", extra={"provider": self.provider, "token_id": old_id})


_ROTATORS: dict[str, type[Rotator]] = {"passeinfo": PasseInfoRotator, "smsgate": SmsGateRotator}


def rotator_for(provider: str) -> Rotator:
    return _ROTATORS.get(provider, Rotator)(provider)
