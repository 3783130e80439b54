"""Which URLs a callback may go to, checked when a URL is given (webhook endpoint, `callback_url`)
and again before every delivery, against the addresses its host resolves to then (a name that
resolved to a public address at creation may point inside the network later: DNS rebinding).

A URL is refused unless it is `https`, without credentials, and every address its host
resolves to is public: no private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback (127/8,
::1), link-local (169.254/16, where instance metadata lives; fe80::/10), multicast, reserved,
unspecified or otherwise non-global address, an IPv4 address written as IPv6 included.
`allow_loopback` (the local stack's setting) admits loopback addresses, and plain `http` to them.
The delivery then connects to the very address checked (tamtam.callbacks.http), never to a
second resolution of the name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

from tamtam.errors import InvalidRequest

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT_SECONDS = 2.0
CODE = "invalid_callback_url"

Resolver = Callable[[str, int], Iterable[str]]  # (host, port) -> addresses
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_resolving = ThreadPoolExecutor(max_workers=4, thread_name_prefix="callback-dns")


class InvalidCallbackUrl(InvalidRequest):
    code = CODE

    def __init__(self, message: str, *, field: str = "callback_url"):
        super().__init__(message, field=field, code=CODE)


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (one of `addresses`) and what to ask for."""

    url: str
    scheme: str  # https (http only to loopback with allow_loopback)
    host: str  # as in the URL, lower case, no brackets: for the Host header, SNI and the certificate
    port: int
    path: str  # path and query, at least "/"
    addresses: tuple[str, ...]  # every address the host resolved to, each one checked

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses (getaddrinfo), at most RESOLVE_TIMEOUT_SECONDS of waiting."""
    future = _resolving.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        answers = future.result(timeout=RESOLVE_TIMEOUT_SECONDS)
    except FutureTimeout as exc:
        raise OSError(f"no answer within {RESOLVE_TIMEOUT_SECONDS} s") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in answers))


def _unmapped(address: IpAddress) -> IpAddress:
    """An IPv4 address written as IPv6 (::ffff:10.0.0.1) is that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: IpAddress, *, allow_loopback: bool) -> str | None:
    """Why a callback may not go to `address`, or None when it may."""
    address = _unmapped(address)
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (("is_unspecified", "an unspecified address"), ("is_link_local", "a link-local address"),
              ("is_multicast", "a multicast address"), ("is_private", "a private address"),
              ("is_reserved", "a reserved address"))
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    return None if address.is_global else "an address that is not public"


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _split(url: str, field: str) -> tuple[str, str, int, str]:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallbackUrl(f"the URL is longer than {MAX_URL_LENGTH} characters", field=field)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidCallbackUrl("the URL holds spaces or control characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidCallbackUrl(f"not a URL: {exc}", field=field) from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidCallbackUrl("the URL must start with https://", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidCallbackUrl("the URL may not carry credentials (user:password@)", field=field)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidCallbackUrl("the URL has no host", field=field)
    if _literal(host) is None:
        try:
            host.encode("idna")
        except UnicodeError as exc:
            raise InvalidCallbackUrl("the URL's host is not a valid name", field=field) from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check_url(url: str, *, allow_loopback: bool, resolve: Resolver | None = None,
              field: str = "callback_url") -> Target:
    """The URL, checked, with the addresses it resolves to now; InvalidCallbackUrl (422
    `invalid_callback_url`) says why not."""
    scheme, host, port, path = _split(url, field)
    literal = _literal(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list((resolve or system_resolver)(host, port))
        except (OSError, UnicodeError) as exc:
            raise InvalidCallbackUrl(f"the host {host} does not resolve", field=field) from exc
        if not addresses:
            raise InvalidCallbackUrl(f"the host {host} does not resolve", field=field)
    parsed = []
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # a zone index (fe80::1%eth0) names no other host
        why = refusal(address, allow_loopback=allow_loopback)
        if why:
            # the address itself is not echoed: the answer must not map the network's names
            raise InvalidCallbackUrl(f"the URL points to {why}: callbacks go to public addresses only", field=field)
        parsed.append(address)
    if scheme == "http" and not (allow_loopback and all(_unmapped(a).is_loopback for a in parsed)):
        raise InvalidCallbackUrl("the URL must start with https://", field=field)
    return Target(url=url, scheme=scheme, host=host, port=port, path=path, addresses=tuple(str(a) for a in parsed))
