"""The token cache of the providers that log in (FLOW SMS, Ventis, SMSGate in JWT mode).

One `TokenCache` a client keeps, in memory (clients live as long as a warm Lambda). It holds an
access token until shortly before it expires (`leeway` seconds), then renews it: with the
refresh token while that one is alive, else with a fresh login. A send the provider refuses for
its token was not taken, so `send` renews the token once and sends again. One lock covers a
renewal, so threads sharing a client never renew the same token twice.

What stays with each client: how it logs in and refreshes (each returns a `Grant`, its
expiries already worked out from the provider's answer), how it recognises a refused token,
and its wire format.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from tamtam.providers import http
from tamtam.providers.base import AmbiguousError, AuthError, Reason, TransientError


@dataclass(frozen=True)
class Grant:
    """What a login or a refresh brought: an access token and when to stop using it, maybe a
    new refresh token and its own limit (seconds since the epoch, `inf`: no known end).
    No refresh token (None or empty) keeps the one held, with its limit."""

    access: str = field(repr=False)
    access_until: float = math.inf
    refresh: str | None = field(default=None, repr=False)
    refresh_until: float = math.inf
    answer: Any = field(default=None, repr=False, compare=False)  # the provider's own answer, if wanted


class TokenCache:
    """See the module docstring. `login` is None for a client that cannot log in by itself
    (SMSGate holds only a token pair): it renews only while it holds a refresh token.
    `refresh` answers None when the provider refuses the refresh token (the cache forgets it
    and logs in)."""

    def __init__(
        self,
        *,
        login: Callable[[], Grant] | None,
        refresh: Callable[[str], Grant | None],
        clock: Callable[[], float] = time.time,
        leeway: float = 0.0,
        access: str | None = None,
        refresh_token: str | None = None,
    ):
        self._login = login
        self._refresh = refresh
        self._clock = clock
        self._leeway = leeway
        self._lock = threading.Lock()
        self._access, self._access_until = access, math.inf
        self._refresh_token, self._refresh_until = refresh_token, math.inf

    def __repr__(self) -> str:  # never the tokens
        return (
            f"TokenCache(access={'held' if self._access else None}, refresh={'held' if self._refresh_token else None})"
        )

    @property
    def access(self) -> str | None:
        return self._access

    @property
    def refresh_token(self) -> str | None:
        return self._refresh_token

    @property
    def renewable(self) -> bool:
        return self._login is not None or self._refresh_token is not None

    def token(self) -> str:
        """The access token to send with: the cached one while it lives, else a renewed one."""
        with self._lock:
            now = self._clock()
            if self._access is not None and now < self._access_until - self._leeway:
                return self._access
            return self._renew(now).access

    def renew(self) -> Grant:
        """Renew now, whatever the access token's limit (SMSGate's `refresh_tokens`)."""
        with self._lock:
            return self._renew(self._clock())

    def login(self) -> str:
        """A fresh login, never a cached token (a credentials check); its tokens are kept."""
        with self._lock:
            return self._store(self._log_in()).access

    def forget(self, access: str) -> None:
        """The provider refused `access`: the next `token()` renews it (unless another thread
        renewed it meanwhile)."""
        with self._lock:
            if self._access == access:
                self._access = None

    def send(
        self,
        send: Callable[[str], requests.Response],
        refused: Callable[[requests.Response], bool],
        *,
        raise_refused: bool = True,
    ) -> requests.Response:
        """`send(access)`, and when the answer is a refused token (`refused`), renew the token
        and send once more. A refusal of the retry raises AuthError (`raise_refused`), or is
        answered as it is; so is a refusal the cache cannot renew for."""
        access = self.token()
        response = send(access)
        if not refused(response) or not self.renewable:
            return response
        self.forget(access)
        response = send(self.token())
        if raise_refused and refused(response):
            raise AuthError(**http.raw(response), detail="access token refused after renewal")
        return response

    # under the lock

    def _renew(self, now: float) -> Grant:
        if self._refresh_token is not None and now < self._refresh_until - self._leeway:
            grant = self._refresh(self._refresh_token)
            if grant is not None:
                return self._store(grant)
            self._refresh_token = None
        return self._store(self._log_in())

    def _log_in(self) -> Grant:
        if self._login is None:
            raise AuthError(detail="no refresh token to renew the access token with")
        return self._login()

    def _store(self, grant: Grant) -> Grant:
        self._access, self._access_until = grant.access, grant.access_until
        if grant.refresh:
            self._refresh_token, self._refresh_until = grant.refresh, grant.refresh_until
        return grant


def token_call(session: requests.Session, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
    """A call to a token endpoint. No message went out yet, so a call that got no answer is
    simply a failure (TransientError), not an ambiguous one."""
    try:
        return http.call(session, method, url, **kwargs)
    except AmbiguousError as exc:
        raise TransientError(Reason.PROVIDER_UNAVAILABLE, detail=f"no answer from {what}") from exc
