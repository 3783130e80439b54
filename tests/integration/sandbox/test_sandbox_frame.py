"""The sandbox frame over real HTTP: dispatch, control API, outbox, each fault mode, stop()."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from local.sandbox.client import SandboxControl
from local.sandbox.server import SandboxServer, start_sandbox
from tests.integration.sandbox.conftest import PASSEINFO_HEADERS, SMSGATE_AUTH

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def send_passeinfo(url: str, contact: str = "622000001", timeout: float = 5.0) -> requests.Response:
    body = {"message": "hello", "contact": contact, "senderName": "TAMTAM"}
    return requests.post(
        f"{url}/passeinfo/v1/message/single_message", json=body, headers=PASSEINFO_HEADERS, timeout=timeout
    )


def send_smsgate(url: str, to: str = "+224622000002", message_id: str | None = None) -> requests.Response:
    body = {"phoneNumbers": [to], "textMessage": {"text": "hi"}}
    if message_id:
        body["id"] = message_id
    return requests.post(f"{url}/smsgate/3rdparty/v1/messages", json=body, auth=SMSGATE_AUTH, timeout=5)


def solde(url: str, timeout: float = 5.0) -> requests.Response:
    return requests.get(f"{url}/passeinfo/v1/user/get_solde", headers=PASSEINFO_HEADERS, timeout=timeout)


def test_given_a_started_sandbox_then_it_listens_on_loopback_and_reports_health(sandbox: SandboxServer, control):
    assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.port > 0
    assert sandbox.sandbox.base_url == sandbox.url
    assert control.health() == {"status": "ok", "providers": ["passeinfo", "smsgate"]}


def test_given_unknown_paths_then_404(sandbox: SandboxServer):
    assert requests.get(f"{sandbox.url}/nosuchprovider/x", timeout=5).status_code == 404
    assert requests.get(f"{sandbox.url}/_sandbox/nothing", timeout=5).status_code == 404
    assert requests.put(f"{sandbox.url}/_sandbox/faults/ventis", json={"mode": "error"}, timeout=5).status_code == 404


def test_given_an_unknown_provider_name_when_starting_then_value_error():
    with pytest.raises(ValueError, match="unknown provider"):
        start_sandbox(providers=["nosuchprovider"])


def test_given_sends_to_two_providers_then_the_outbox_filters_and_clears(sandbox: SandboxServer, control):
    assert send_passeinfo(sandbox.url).status_code == 200
    assert send_smsgate(sandbox.url, to="+224622000002").status_code == 202

    everything = control.outbox()
    assert [e["provider"] for e in everything] == ["passeinfo", "smsgate"]
    assert [e["to"] for e in control.outbox(provider="passeinfo")] == ["+224622000001"]
    assert [e["provider"] for e in control.outbox(to="+224622000002")] == ["smsgate"]
    assert [e["provider"] for e in control.outbox(to="224622000002")] == ["smsgate"]
    assert control.outbox(provider="smsgate", to="+224622000001") == []

    assert control.clear_outbox() == 2
    assert control.outbox() == []


def test_given_invalid_fault_requests_then_400(control):
    with pytest.raises(RuntimeError, match="400"):
        control.fault("passeinfo", "explode")
    with pytest.raises(RuntimeError, match="400"):
        control.fault("passeinfo", "error", colour="red")
    with pytest.raises(RuntimeError, match="404"):
        control.fault("ventis", "error")


def test_given_an_error_fault_for_one_request_then_only_that_request_fails_in_the_provider_shape(
    sandbox: SandboxServer, control
):
    control.fault("smsgate", "error", status=503, times=1)
    first, second = send_smsgate(sandbox.url), send_smsgate(sandbox.url)
    assert first.status_code == 503 and "queue limits exceeded" in first.json()["message"]
    assert second.status_code == 202
    assert len(control.outbox(provider="smsgate")) == 1


def test_given_a_reject_fault_then_the_provider_words_are_used(sandbox: SandboxServer, control):
    control.fault("passeinfo", "reject", reason="insufficient_credit")
    answer = send_passeinfo(sandbox.url)
    assert answer.status_code == 402
    assert answer.json() == {"status": "error", "message": "Insufficient SMS balance"}
    assert control.outbox() == []


def test_given_a_fault_with_match_then_other_paths_are_untouched(sandbox: SandboxServer, control):
    control.fault("passeinfo", "error", status=500, match="get_solde")
    assert solde(sandbox.url).status_code == 500
    assert send_passeinfo(sandbox.url).status_code == 200


def test_given_faults_when_cleared_per_provider_or_all_then_requests_succeed(sandbox: SandboxServer, control):
    control.fault("passeinfo", "error", status=500)
    control.fault("smsgate", "error", status=500)
    control.clear_faults("passeinfo")
    assert send_passeinfo(sandbox.url).status_code == 200
    assert send_smsgate(sandbox.url).status_code == 500
    control.clear_faults()
    assert send_smsgate(sandbox.url).status_code == 202


def test_given_a_slow_fault_then_the_answer_is_late_but_normal(sandbox: SandboxServer, control):
    control.fault("passeinfo", "slow", delay=0.3, times=1)
    started = time.monotonic()
    answer = solde(sandbox.url)
    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 200 and answer.json() == {"solde": 1000}


def test_given_a_timeout_fault_then_no_answer_comes_and_nothing_is_taken(sandbox: SandboxServer, control):
    control.fault("passeinfo", "timeout", delay=30)
    with pytest.raises(requests.ReadTimeout):
        send_passeinfo(sandbox.url, timeout=0.3)
    assert control.outbox() == []


def test_given_a_request_waiting_on_a_timeout_fault_when_stopping_then_stop_is_quick():
    server = start_sandbox(providers=["passeinfo"])
    SandboxControl(server.url).fault("passeinfo", "timeout", delay=60)
    outcome: list[BaseException] = []

    def waiting_client() -> None:
        try:
            solde(server.url, timeout=10)
        except requests.RequestException as exc:
            outcome.append(exc)

    client = threading.Thread(target=waiting_client)
    client.start()
    time.sleep(0.3)  # the request is now parked in the fault
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    client.join(5)
    assert not client.is_alive()
    assert outcome and isinstance(outcome[0], requests.ConnectionError)


def test_given_a_drop_fault_then_the_message_is_taken_but_the_connection_closes(sandbox: SandboxServer, control):
    control.fault("passeinfo", "drop", times=1)
    with pytest.raises(requests.ConnectionError) as raised:
        send_passeinfo(sandbox.url)
    assert not isinstance(raised.value, requests.Timeout)
    assert len(control.outbox(provider="passeinfo")) == 1
    assert control.state("passeinfo")["settings"]["balance"] == 999


def test_given_config_then_state_shows_it_and_unknown_settings_are_refused(control):
    settings = control.configure("passeinfo", balance=5)
    assert settings["balance"] == 5
    assert control.state("passeinfo")["settings"]["balance"] == 5
    with pytest.raises(RuntimeError, match="400"):
        control.configure("smsgate", no_such_setting=1)


def test_given_an_idle_keep_alive_connection_when_stopping_then_stop_is_quick_and_the_port_closes():
    server = start_sandbox(providers=["smsgate"])
    session = requests.Session()
    assert session.get(f"{server.url}/_sandbox/health", timeout=5).status_code == 200  # connection kept open
    started = time.monotonic()
    server.stop()
    server.stop()  # a second stop is harmless
    assert time.monotonic() - started < 2.0
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass
    session.close()


def test_given_python_m_local_sandbox_then_it_prints_the_url_and_serves_until_terminated():
    process = subprocess.Popen(
        [sys.executable, "-m", "local.sandbox", "--port", "0", "--providers", "passeinfo,smsgate"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": REPO_ROOT},
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_sandbox/health", timeout=5).json()["providers"] == ["passeinfo", "smsgate"]
    finally:
        process.terminate()
        code = process.wait(timeout=10)
        process.stdout.close()
    assert code == 0
