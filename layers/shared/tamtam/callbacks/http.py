"""POSTing one callback: to the address that was checked (never a second resolution of the
name), with the URL's host for the Host header, TLS SNI and the certificate check, no redirect
followed, and one deadline for the whole exchange. The answer's body is never read.

The only module of tamtam.callbacks that talks HTTP (the delivery logic takes `post` as an
argument, so tests pass a fake).
"""

from __future__ import annotations

from dataclasses import dataclass

import urllib3

from tamtam.callbacks.urls import Target

USER_AGENT = "tamtam-callbacks/1"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (connection refused or dropped, timeout, TLS)
    error: str | None = None  # what went wrong before an answer, for the log line


def _ca_certs() -> str | None:
    try:
        import certifi  # noqa: PLC0415  (requests' CA bundle, in the layer)
    except ImportError:
        return None
    return str(certifi.where())


def _pool(target: Target, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(total=timeout)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, port=target.port, timeout=limits, retries=False, maxsize=1, cert_reqs="CERT_REQUIRED",
            ca_certs=_ca_certs(), server_hostname=target.host, assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(address, port=target.port, timeout=limits, retries=False, maxsize=1)


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    """POST `body` to the first checked address of `target`."""
    pool = _pool(target, target.addresses[0], timeout)
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers, "Host": target.host_header}
    try:
        response = pool.urlopen("POST", target.path, body=body, headers=sent, redirect=False, retries=False,
                                preload_content=False, assert_same_host=False)
        status = response.status
        response.close()
        return Answer(status=status)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Answer(status=None, error=type(exc).__name__)
    finally:
        pool.close()
