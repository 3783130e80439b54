"""HTTP plumbing shared by the provider clients: one pooled session per client, timeouts on
every call, and transport failures mapped to the error kinds of `base`.

The line that matters: a failure *before* the request reached the provider (refused
connection, DNS, connect timeout, a TLS handshake that failed: an expired or unknown
certificate) is transient and safe to retry; a failure *after* it went out (read timeout,
connection dropped mid-answer) is ambiguous.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NameResolutionError, NewConnectionError

from tamtam.providers.base import AmbiguousError, PermanentError, Reason, TransientError

DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds


def make_session(pool_size: int = 10) -> requests.Session:
    """A session that reuses connections; no automatic retries (the sender owns retries)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _never_connected(exc: requests.ConnectionError) -> bool:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, (NewConnectionError, NameResolutionError, ConnectionRefusedError)):
            return True
        inner = getattr(cause, "reason", None)
        cause = inner if isinstance(inner, BaseException) else (cause.__cause__ or cause.__context__)
        if cause is None and exc.args and isinstance(exc.args[0], BaseException) and id(exc.args[0]) not in seen:
            cause = exc.args[0]
    return False


def call(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> requests.Response:
    """One HTTP call with transport errors mapped to TransientError / AmbiguousError.
    The caller maps the HTTP answer itself (each provider has its own error shapes)."""
    try:
        return session.request(method, url, timeout=timeout, **kwargs)
    except requests.ConnectTimeout as exc:
        raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail="connect timeout") from exc
    except requests.ReadTimeout as exc:
        raise AmbiguousError(Reason.TIMEOUT, detail="no answer within the read timeout") from exc
    except requests.exceptions.SSLError as exc:  # the handshake failed: no request was written
        raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail="TLS handshake failed") from exc
    except requests.ConnectionError as exc:
        if _never_connected(exc):
            raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail="connection refused") from exc
        raise AmbiguousError(Reason.TIMEOUT, detail="connection lost before the answer") from exc


RAW_TEXT_MAX = 300  # how much of an answer an error keeps


def raw(response: requests.Response) -> dict[str, str]:
    """An answer's status and the start of its text, as a ProviderError's raw_status/raw_text."""
    return {"raw_status": str(response.status_code), "raw_text": response.text[:RAW_TEXT_MAX]}


def json_or_none(response: requests.Response) -> Any:
    """The answer's JSON body, or None when it has none."""
    try:
        return response.json()
    except ValueError:
        return None


def unexpected(response: requests.Response, what: str) -> Exception:
    """The error for an answer to `what` that no mapping expected: transient for a 5xx or 429
    (the provider took nothing), else permanent."""
    if response.status_code >= 500 or response.status_code == 429:
        return TransientError(Reason.PROVIDER_UNAVAILABLE, **raw(response), detail=what)
    return PermanentError(Reason.PROVIDER_UNAVAILABLE, **raw(response), detail=f"unexpected answer to {what}")
