"""The rehearsal's throwaway AWS account: a moto server in a process of its own, on a free
loopback port, and boto3 clients for it.

A process of its own keeps its state apart from any moto used in the caller's process (tests use
in-process moto too); `stop()` ends that process and nothing else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

import boto3

HOST = "127.0.0.1"
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


class ServerError(Exception):
    """The moto server did not start."""


# Runs moto's server in the child, which first asks Linux for SIGTERM when its parent dies (so a
# rehearsal killed without stopping it leaves no server behind); stop() ends it on every normal exit.
_LAUNCH = """
import ctypes, os, runpy, signal, sys
parent = int(sys.argv.pop(1))
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (OSError, AttributeError):
    pass  # not Linux
if os.getppid() != parent:
    sys.exit(0)
sys.argv[0] = "moto_server"
runpy.run_module("moto.server", run_name="__main__")
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """moto's server bound to 127.0.0.1 on a port nobody holds, logging to `log_path`."""

    def __init__(self, log_path: Path, python: str = sys.executable) -> None:
        self.log_path = log_path
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self, attempts: int = 3, timeout: float = 30.0) -> str:
        """Start the server; return its endpoint URL. A port taken between the probe and the
        bind makes the server exit at once: then another port is tried."""
        for _ in range(attempts):
            port = _free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [self.python, "-c", _LAUNCH, str(os.getpid()), "-H", HOST, "-p", str(port)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
            self.endpoint = f"http://{HOST}:{port}"
            if self._wait_ready(timeout):
                return self.endpoint
            self.stop()
        log = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-10:]
        raise ServerError(f"moto server did not start after {attempts} attempts: " + "\n".join(log))

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with _DIRECT.open(f"{self.endpoint}/moto-api/data.json", timeout=2):
                    return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        return False

    def stop(self) -> None:
        """End the server process this object started (terminate, then kill after 10 s)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Account:
    """boto3 clients for the emulated account, one per service."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._session = boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    def pages(self, service: str, operation: str, key: str, **arguments: Any) -> list[Any]:
        """Every item under `key` of every page of a paginated operation."""
        paginator = self.client(service).get_paginator(operation)
        return [item for page in paginator.paginate(**arguments) for item in page.get(key, [])]
