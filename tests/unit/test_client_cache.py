"""ClientCache.pending: the client a sender tries after the current credentials failed twice."""

from __future__ import annotations

from typing import Any

from tamtam.messaging.clients import ClientCache
from tamtam.secrets import PENDING, SecretUnavailable

OLD = {"base_url": "https://passeinfo.test", "client_id": "c", "api_key": "old-key"}
NEW = {**OLD, "api_key": "new-key"}


class Secrets:
    """A fake Secrets Manager: AWSCURRENT (by refetch or cache) and AWSPENDING values."""

    def __init__(self, current: dict[str, Any], pending: dict[str, Any] | None = None):
        self.current, self.pending = current, pending

    def __call__(self, provider: str, *, force: bool = False, stage: str = "AWSCURRENT") -> dict[str, Any]:
        if stage == PENDING:
            if self.pending is None:
                raise SecretUnavailable("no pending version")
            return self.pending
        return self.current


def test_given_a_rotation_in_flight_then_pending_is_a_client_on_the_pending_key():
    cache = ClientCache(Secrets(OLD, pending=NEW))
    cache.get("passeinfo")
    client = cache.pending("passeinfo")
    assert client is not None and client.secret.api_key.get_secret_value() == "new-key"


def test_given_the_pending_version_is_the_key_in_use_then_there_is_nothing_else_to_try():
    cache = ClientCache(Secrets(OLD, pending=OLD))
    cache.get("passeinfo")
    assert cache.pending("passeinfo") is None


def test_given_no_rotation_then_nothing_else_to_try():
    cache = ClientCache(Secrets(OLD))
    cache.get("passeinfo")
    assert cache.pending("passeinfo") is None


def test_given_the_rotation_finished_after_the_refetch_then_the_new_current_key_is_tried():
    secrets = Secrets(OLD)
    cache = ClientCache(secrets)
    cache.refresh("passeinfo")  # read just before finishSecret moved AWSCURRENT
    secrets.current = NEW  # ... which also took AWSPENDING away
    client = cache.pending("passeinfo")
    assert client is not None and client.secret.api_key.get_secret_value() == "new-key"


def test_given_another_sender_cached_the_new_key_after_this_one_was_refused_then_pending_still_offers_it():
    # Given: this sender refetched AWSCURRENT just before finishSecret (old key, refused) ...
    secrets = Secrets(OLD, pending=NEW)
    cache = ClientCache(secrets)
    refused = cache.refresh("passeinfo")
    # ... then the rotation finished and a concurrent sender refetched: the cache holds NEW
    secrets.current, secrets.pending = NEW, None
    cache.refresh("passeinfo")
    # When: this sender asks what else to try after its refused call
    client = cache.pending("passeinfo", tried=refused)
    # Then: the new key, which this sender never tried
    assert client is not None and client.secret.api_key.get_secret_value() == "new-key"


def test_given_the_refused_client_holds_the_only_key_there_is_then_nothing_else_to_try():
    cache = ClientCache(Secrets(OLD))
    refused = cache.refresh("passeinfo")
    assert cache.pending("passeinfo", tried=refused) is None
