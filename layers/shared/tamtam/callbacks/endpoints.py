"""Managing where callbacks go: a tenant's webhook endpoints, its message-callback secret, and
the `callback_url` a send may carry. URLs are checked here (tamtam.callbacks.urls), with the
resolver given (tests pass a stub), before anything is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from tamtam import clock
from tamtam.callbacks import signing
from tamtam.callbacks.settings import get_callback_settings
from tamtam.callbacks.urls import Resolver, check_url
from tamtam.errors import Conflict, InvalidRequest, NotFound
from tamtam.ids import new_id
from tamtam.observability import logger
from tamtam.store import webhook_endpoints as store
from tamtam.store.webhook_endpoints import EndpointItem


@dataclass(frozen=True)
class Secret:
    """A secret as shown once: at creation, or when rolled."""

    value: str
    at: str


def _checked(url: str, field: str, resolve: Resolver | None) -> str:
    check_url(url, allow_loopback=get_callback_settings().allow_loopback, resolve=resolve, field=field)
    return url


def create(table: Any, tenant_id: str, url: str, event_types: list[str], *,
           resolve: Resolver | None = None) -> EndpointItem:
    _checked(url, "url", resolve)
    if len(store.list_for_tenant(table, tenant_id, consistent=True)) >= store.MAX_ENDPOINTS:
        raise Conflict(f"an account has at most {store.MAX_ENDPOINTS} webhook endpoints", code="too_many_endpoints")
    at = clock.iso()
    endpoint = EndpointItem(
        id=new_id("wep"),
        tenant_id=tenant_id,
        url=url,
        event_types=list(dict.fromkeys(event_types)),
        secret=SecretStr(signing.new_secret()),
        created_at=at,
        updated_at=at,
    )
    store.put_new(table, endpoint)
    logger.info("webhook endpoint created", extra={"tenant_id": tenant_id, "endpoint_id": endpoint.id})
    return endpoint


def owned(table: Any, tenant_id: str, endpoint_id: str) -> EndpointItem:
    endpoint = store.get(table, tenant_id, endpoint_id, consistent=False)
    if endpoint is None:
        raise NotFound("no such webhook endpoint", field="id")
    return endpoint


def delete(table: Any, tenant_id: str, endpoint_id: str) -> EndpointItem:
    endpoint = store.delete(table, tenant_id, endpoint_id)
    if endpoint is None:
        raise NotFound("no such webhook endpoint", field="id")
    logger.info("webhook endpoint deleted", extra={"tenant_id": tenant_id, "endpoint_id": endpoint_id})
    return endpoint


def roll(table: Any, tenant_id: str, endpoint_id: str) -> tuple[EndpointItem, Secret]:
    at = clock.iso()
    endpoint = store.roll_secret(table, tenant_id, endpoint_id, signing.new_secret(), at=at)
    if endpoint is None:
        raise NotFound("no such webhook endpoint", field="id")
    logger.info("webhook endpoint secret rolled", extra={"tenant_id": tenant_id, "endpoint_id": endpoint_id})
    return endpoint, Secret(value=endpoint.secret.get_secret_value(), at=at)


def new_callback_secret(table: Any, tenant_id: str) -> Secret:
    secret = Secret(value=signing.new_secret(), at=clock.iso())
    store.put_callback_secret(table, tenant_id, secret.value, at=secret.at)
    logger.info("callback secret created", extra={"tenant_id": tenant_id})
    return secret


def accept_callback_url(table: Any, tenant_id: str, url: str | None, *, resolve: Resolver | None = None) -> str | None:
    """A send's `callback_url`, checked: a URL callbacks may go to, and a secret to sign them
    with (POST /v1/callback-secret) already in place."""
    if url is None:
        return None
    _checked(url, "callback_url", resolve)
    if store.get_callback_secret(table, tenant_id) is None:  # consistent: one just created counts
        raise InvalidRequest("create the callback secret first (POST /v1/callback-secret): it signs the callbacks",
                             field="callback_url", code="callback_secret_missing")
    return url
