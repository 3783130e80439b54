"""A server of the local stack in a process of its own (moto, the provider sandbox): started
on 127.0.0.1, its output in a log file, ready once it answers HTTP, ended with its parent."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: end with the process that started it, even when that one is killed (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ChildServer:
    """`python -m <module> <args>` listening on 127.0.0.1:`port` (0: a free one)."""

    def __init__(self, module: str, args: list[str], *, port: int = 0, log_dir: Path, name: str,
                 start_timeout: float = 60.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}-{self.port}.log"
        self._command = [sys.executable, "-m", module, *[a.replace("{port}", str(self.port)) for a in args]]
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ChildServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "layers" / "shared"), str(ROOT),
                                                                         os.environ.get("PYTHONPATH")]))}
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                             preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self._start_timeout
        with requests.Session() as http:
            http.trust_env = False  # loopback: never through a proxy
            while True:
                try:
                    http.get(f"{self.url}/", timeout=2)
                    return self
                except requests.RequestException:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"{self._command[2]} did not start (see {self.log_path})") from None
                    time.sleep(0.1)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
