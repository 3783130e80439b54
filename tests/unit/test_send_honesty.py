"""Below the sender (issue 11, point 1): what a failed TLS handshake means, and which writes
after a provider call are retried."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError

from tamtam.providers import http
from tamtam.providers.base import AmbiguousError, Reason, TransientError


@pytest.fixture
def not_tls() -> Iterator[str]:
    """A server that answers a TLS ClientHello with plain text: the handshake fails before any
    request is written (as with an expired or unknown certificate)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.getsockname()[1]}/send"
    finally:
        stop.set()
        server.close()


def test_given_a_failed_tls_handshake_then_transient_provider_unavailable_not_ambiguous(not_tls):
    with pytest.raises(TransientError) as raised:
        http.call(http.make_session(), "POST", not_tls, json={"to": "+224622000001"}, timeout=(2, 2))
    assert not isinstance(raised.value, AmbiguousError)
    assert raised.value.reason == Reason.PROVIDER_UNAVAILABLE
    assert isinstance(raised.value.__cause__, requests.exceptions.SSLError)


@pytest.fixture
def slept(monkeypatch) -> list[float]:
    """The backoffs tamtam.messaging.writes would have slept."""
    from tamtam.messaging import writes

    delays: list[float] = []
    monkeypatch.setattr(writes.time, "sleep", delays.append)
    return delays


@pytest.fixture
def writes(slept):
    from tamtam.messaging import writes

    return writes


def _error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "UpdateItem"
    )


@pytest.mark.parametrize(
    "fault",
    [
        _error("ProvisionedThroughputExceededException"),
        _error("ThrottlingException"),
        _error("InternalServerError", 500),
        _error("TransactionConflictException"),
        _error("ServiceUnavailable", 503),
        EndpointConnectionError(endpoint_url="x"),
    ],
)
def test_given_aws_side_faults_then_the_write_is_retried_until_it_lands(fault, writes):
    calls = []

    def write() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise fault
        return "written"

    assert writes.retried(write, what="sent") == "written"
    assert len(calls) == 3


def test_given_a_failed_condition_or_a_fault_that_persists_then_it_raises(writes):
    calls = []

    def refused() -> None:
        calls.append(1)
        raise _error("ConditionalCheckFailedException")

    with pytest.raises(ClientError):
        writes.retried(refused, what="sent")
    assert len(calls) == 1  # an answer, not a fault
    calls.clear()

    def throttled() -> None:
        calls.append(1)
        raise _error("ThrottlingException")

    with pytest.raises(ClientError):
        writes.retried(throttled, what="sent")
    assert len(calls) == writes.TRIES


def test_given_the_invocation_ending_then_no_retry_sleeps_past_it(writes, slept):
    def throttled() -> None:
        raise _error("ThrottlingException")

    with pytest.raises(ClientError):
        writes.retried(throttled, what="sent", deadline=writes.time.monotonic() + 0.001)
    assert slept == []
