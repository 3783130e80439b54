"""Which providers exist, what each can do, and how to build a client for each.

Clients are imported lazily so that a function only pays for the clients it uses; what a
provider can do is declared here, once, so that the api, the sender and the status poller
decide from the same facts without importing any HTTP client code. docs/providers.md gives the
source of each fact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

PUSH = "push"  # the provider calls our webhook with delivery reports
POLL = "poll"  # the provider answers status queries (the status poller asks)


@dataclass(frozen=True)
class Capabilities:
    """What one provider can do.

    - `channels`: what it carries ("sms", "whatsapp").
    - `reports`: how delivery reports come (PUSH, POLL, both, or none: a message it took then
      ends `sent`, final, "no delivery report from this provider").
    - `refuses_duplicate_ids`: it refuses a second message carrying an earlier one's id, so a
      send whose answer was lost may be asked again with the same id.
    - `list_max`: recipients one request may carry while the provider still reports each
      recipient on its own (1: one request a recipient).
    - `groups`: it sends to provider-side contact groups (one call, no report per member).
    """

    channels: frozenset[str]
    reports: frozenset[str]
    refuses_duplicate_ids: bool = False
    list_max: int = 1
    groups: bool = False

    @property
    def takes_lists(self) -> bool:
        return self.list_max > 1

    @property
    def reports_delivery(self) -> bool:
        return bool(self.reports)


_CAPABILITIES: dict[str, Capabilities] = {
    "passeinfo": Capabilities(channels=frozenset({"sms"}), reports=frozenset({POLL}), groups=True),
    "messagepro": Capabilities(channels=frozenset({"sms", "whatsapp"}), reports=frozenset({POLL}), groups=True),
    # FLOW takes `phone_numbers` lists, one `messages[]` item per number (seed 002); it states
    # no maximum: 100 is ours.
    "flowsms": Capabilities(channels=frozenset({"sms"}), reports=frozenset(), list_max=100),
    "ventis": Capabilities(channels=frozenset({"sms"}), reports=frozenset()),
    "smsgate": Capabilities(
        channels=frozenset({"sms"}), reports=frozenset({PUSH, POLL}), refuses_duplicate_ids=True, list_max=100
    ),
}


def capabilities(name: str) -> Capabilities:
    return _CAPABILITIES[name]


def channels(name: str) -> frozenset[str]:
    return _CAPABILITIES[name].channels


def client_class(name: str) -> type[ProviderClient]:
    module_name, _, class_name = _CLIENTS[name].partition(":")
    cls: type[ProviderClient] = getattr(import_module(module_name), class_name)
    return cls


def build_client(name: str, secret: Mapping[str, Any]) -> ProviderClient:
    """A client for `name` from its Secrets Manager JSON (validated by the client's model)."""
    return client_class(name).from_secret(secret)
