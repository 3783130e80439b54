"""The token cache FLOW SMS, Ventis and SMSGate share: a token is used until `leeway` seconds
before its limit, then renewed with the refresh token while that one lives, else by a login;
a send refused for its token is renewed and sent once more; one lock covers a renewal."""

from __future__ import annotations

import math
import threading
import time

import pytest
import requests

from tamtam.providers.base import AuthError
from tamtam.providers.tokens import Grant, TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Provider:
    """Counts logins and refreshes; each hands out a new numbered token."""

    def __init__(self, clock: Clock, *, lifetime: float = 300.0, refresh_lifetime: float = 3_600.0) -> None:
        self.clock, self.lifetime, self.refresh_lifetime = clock, lifetime, refresh_lifetime
        self.calls: list[str] = []
        self.refresh_refused = False
        self.refresh_brings_refresh = True
        self.login_brings_refresh = True

    def login(self) -> Grant:
        self.calls.append("login")
        n = len(self.calls)
        now = self.clock()
        new_refresh = f"r{n}" if self.login_brings_refresh else None
        return Grant(f"a{n}", now + self.lifetime, new_refresh, now + self.refresh_lifetime)

    def refresh(self, refresh: str) -> Grant | None:
        self.calls.append(f"refresh {refresh}")
        if self.refresh_refused:
            return None
        n, now = len(self.calls), self.clock()
        new_refresh = f"r{n}" if self.refresh_brings_refresh else None
        return Grant(f"a{n}", now + self.lifetime, new_refresh, now + self.refresh_lifetime)


def answer(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = b'{"detail": "token refused"}' if status == 401 else b"{}"
    return response


def refused(response: requests.Response) -> bool:
    return response.status_code == 401


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock) -> Provider:
    return Provider(clock)


def cache_for(provider: Provider, clock: Clock, leeway: float = 30.0) -> TokenCache:
    return TokenCache(login=provider.login, refresh=provider.refresh, clock=clock, leeway=leeway)


def test_given_a_live_token_when_asked_again_before_the_leeway_then_no_renewal(provider, clock):
    cache = cache_for(provider, clock)
    first = cache.token()
    clock.now += 300 - 30 - 0.001
    assert cache.token() == first
    assert provider.calls == ["login"]


def test_given_a_token_within_the_leeway_of_its_limit_then_the_refresh_token_renews_it(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    clock.now += 300 - 30
    assert cache.token() == "a2"
    assert provider.calls == ["login", "refresh r1"]
    assert cache.refresh_token == "r2"


def test_given_a_refresh_token_within_the_leeway_of_its_limit_then_a_login_instead(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    clock.now += 3_600 - 30
    assert cache.token() == "a2"
    assert provider.calls == ["login", "login"]


def test_given_a_refused_refresh_token_then_a_login_and_the_refused_one_is_never_tried_again(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    provider.refresh_refused = True
    clock.now += 300
    assert cache.token() == "a3"  # refresh r1 refused (call 2), login (call 3)
    assert provider.calls == ["login", "refresh r1", "login"]
    assert cache.refresh_token == "r3"


def test_given_a_refused_refresh_token_and_a_login_without_one_then_the_next_renewal_is_a_login(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    provider.refresh_refused, provider.login_brings_refresh = True, False
    clock.now += 300
    cache.token()
    clock.now += 300
    cache.token()
    assert provider.calls == ["login", "refresh r1", "login", "login"]
    assert cache.refresh_token is None


def test_given_a_refresh_without_a_new_refresh_token_then_the_held_one_keeps_its_limit(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()  # r1, good until 1000 + 3600
    provider.refresh_brings_refresh = False
    clock.now += 300
    cache.token()  # refreshed with r1: no new refresh token, so r1 and its limit stay
    assert cache.refresh_token == "r1"
    clock.now = 1_000 + 3_600 - 30  # r1's own limit (less the leeway), not the refresh's time + 3600
    cache.token()
    assert provider.calls == ["login", "refresh r1", "login"]


def test_given_a_credentials_check_then_a_fresh_login_even_with_a_live_token(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    assert cache.login() == "a2"
    assert cache.token() == "a2"
    assert provider.calls == ["login", "login"]


def test_given_a_refused_send_then_renewed_once_and_sent_again_with_the_new_token(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    sent: list[str] = []

    def send(access: str) -> requests.Response:
        sent.append(access)
        return answer(401 if access == "a1" else 200)

    assert cache.send(send, refused).status_code == 200
    assert sent == ["a1", "a2"]
    assert provider.calls == ["login", "refresh r1"]


def test_given_a_retry_refused_too_then_auth_error_with_the_answer_and_no_third_send(provider, clock):
    cache = cache_for(provider, clock)
    sent: list[str] = []

    def send(access: str) -> requests.Response:
        sent.append(access)
        return answer(401)

    with pytest.raises(AuthError) as raised:
        cache.send(send, refused)
    assert (raised.value.raw_status, raised.value.detail) == ("401", "access token refused after renewal")
    assert "token refused" in (raised.value.raw_text or "")
    assert sent == ["a1", "a2"]


def test_given_a_retry_refused_too_and_no_raising_then_its_answer_is_returned(provider, clock):
    cache = cache_for(provider, clock)
    assert cache.send(lambda access: answer(401), refused, raise_refused=False).status_code == 401
    assert provider.calls == ["login", "refresh r1"]


def test_given_no_login_and_no_refresh_token_then_a_refusal_is_answered_without_a_retry():
    def refresh(token: str) -> Grant | None:
        raise AssertionError("nothing to refresh with")

    cache = TokenCache(login=None, refresh=refresh, access="only-access")
    sent: list[str] = []

    def send(access: str) -> requests.Response:
        sent.append(access)
        return answer(401)

    assert cache.send(send, refused, raise_refused=False).status_code == 401
    assert sent == ["only-access"]


def test_given_a_pair_without_limits_then_the_access_token_is_kept_until_refused_and_renew_trades_the_refresh():
    traded: list[str] = []

    def refresh(token: str) -> Grant | None:
        traded.append(token)
        return Grant(f"access-{len(traded)}", refresh=f"refresh-{len(traded)}", answer={"id": len(traded)})

    clock = Clock()
    cache = TokenCache(login=None, refresh=refresh, clock=clock, access="access-0", refresh_token="refresh-0")
    clock.now += 10 * 365 * 86_400
    assert cache.token() == "access-0"
    assert cache.renew().answer == {"id": 1}
    assert (cache.token(), cache.refresh_token, traded) == ("access-1", "refresh-1", ["refresh-0"])


def test_given_no_login_and_nothing_to_refresh_then_asking_for_a_token_is_an_auth_error():
    cache = TokenCache(login=None, refresh=lambda token: None)
    with pytest.raises(AuthError):
        cache.token()


def test_given_a_refusal_of_a_token_already_replaced_then_it_is_not_renewed_again(provider, clock):
    cache = cache_for(provider, clock)
    cache.token()
    cache.forget("a1")
    assert cache.token() == "a2"
    cache.forget("a1")  # a late refusal of the old token (another thread's send)
    assert cache.token() == "a2"
    assert provider.calls == ["login", "refresh r1"]


def test_given_threads_asking_at_once_for_an_expired_token_then_one_login_serves_them_all(clock):
    workers = 8
    asked, all_asked, count_lock = [0], threading.Event(), threading.Lock()
    logins: list[int] = []

    def login() -> Grant:
        all_asked.wait(timeout=5)  # every thread has asked: the others are at the cache's door
        time.sleep(0.05)
        logins.append(1)
        return Grant(f"a{len(logins)}", math.inf)

    cache = TokenCache(login=login, refresh=lambda token: None, clock=clock)
    tokens: list[str] = []

    def ask() -> None:
        with count_lock:
            asked[0] += 1
            if asked[0] == workers:
                all_asked.set()
        tokens.append(cache.token())

    threads = [threading.Thread(target=ask, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(logins) == 1
    assert tokens == ["a1"] * workers


def test_given_a_cache_and_a_grant_then_their_text_never_shows_a_token(provider, clock):
    cache = cache_for(provider, clock)
    grant = provider.login()
    cache.token()
    assert "a1" not in repr(grant) and "r1" not in repr(grant)
    assert "a2" not in repr(cache) and "r2" not in repr(cache)
