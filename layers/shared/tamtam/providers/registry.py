"""Which providers exist and how to build a client for each, imported lazily so that a
function only pays for the clients it uses."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from typing import Any

from tamtam.providers.base import ProviderClient

# name -> "module:ClassName". The name is the one used in routes, queues, secrets and the API.
_CLIENTS: dict[str, str] = {
    "passeinfo": "tamtam.providers.passeinfo:PasseInfoClient",
    "messagepro": "tamtam.providers.messagepro:MessageProClient",
    "flowsms": "tamtam.providers.flowsms:FlowSmsClient",
    "ventis": "tamtam.providers.ventis:VentisClient",
    "smsgate": "tamtam.providers.smsgate:SmsGateClient",
}

PROVIDER_NAMES: tuple[str, ...] = tuple(_CLIENTS)

# What each provider can carry. Kept here (not on the client classes) so that the API can
# route without importing any HTTP client code.
_CHANNELS: dict[str, frozenset[str]] = {
    "passeinfo": frozenset({"sms"}),
    "messagepro": frozenset({"sms", "whatsapp"}),
    "flowsms": frozenset({"sms"}),
    "ventis": frozenset({"sms"}),
    "smsgate": frozenset({"sms"}),
}


def channels(name: str) -> frozenset[str]:
    return _CHANNELS[name]


def client_class(name: str) -> type[ProviderClient]:
    module_name, _, class_name = _CLIENTS[name].partition(":")
    return getattr(import_module(module_name), class_name)


def build_client(name: str, secret: Mapping[str, Any]) -> ProviderClient:
    """A client for `name` from its Secrets Manager JSON (validated by the client's model)."""
    return client_class(name).from_secret(secret)
