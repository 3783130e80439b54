"""The POST itself, against real servers on 127.0.0.1: it goes to the address that was checked
while TLS (SNI and the certificate) and Host name the URL's host, no redirect is followed, and
one deadline bounds the whole exchange."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tamtam.callbacks import http
from tamtam.callbacks.urls import Target

HOST = "hooks.example.com"


class Server:
    def __init__(self, status: int = 200, *, delay: float = 0.0, headers: dict[str, str] | None = None):
        self.requests: list[dict[str, Any]] = []
        self.server_names: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.requests.append({"path": self.path, "host": self.headers["Host"], "body": body,
                                       "signature": self.headers.get("Tamtam-Signature")})
                time.sleep(delay)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 (a followed redirect would GET)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a refused handshake is the point of a test
        self.port = self.httpd.server_address[1]

    def tls(self, cert: Path, key: Path) -> Server:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        return self

    def __enter__(self) -> Server:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for hooks.example.com (and nothing else)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def trust(certificate, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(http, "_ca_certs", lambda: str(certificate[0]))
    yield


def target(scheme: str, host: str, port: int, path: str = "/hook?x=1") -> Target:
    return Target(url=f"{scheme}://{host}:{port}{path}", scheme=scheme, host=host, port=port, path=path,
                  addresses=("127.0.0.1",))


def test_given_https_then_it_connects_to_the_checked_address_with_the_names_sni_certificate_and_host(certificate,
                                                                                                      trust):
    with Server(204).tls(*certificate) as server:
        answer = http.post(target("https", HOST, server.port), b'{"id":"m:1"}', {"Tamtam-Signature": "t=1,v1=ab"},
                           timeout=5)
    assert answer == http.Answer(status=204)
    assert server.server_names == [HOST]
    assert server.requests == [{"path": "/hook?x=1", "host": f"{HOST}:{server.port}", "body": b'{"id":"m:1"}',
                                "signature": "t=1,v1=ab"}]


def test_given_a_certificate_for_another_name_then_no_request_is_made(certificate, trust):
    with Server(200).tls(*certificate) as server:
        answer = http.post(target("https", "other.example.com", server.port), b"{}", {}, timeout=5)
    assert answer.status is None and answer.error and server.requests == []


def test_given_a_redirect_then_it_is_the_answer_and_is_not_followed():
    elsewhere = Server(200)
    with elsewhere, Server(307, headers={"Location": f"http://127.0.0.1:{elsewhere.port}/stolen"}) as server:
        answer = http.post(target("http", "127.0.0.1", server.port), b"{}", {}, timeout=5)
    assert answer.status == 307 and len(server.requests) == 1 and elsewhere.requests == []


def test_given_a_receiver_slower_than_the_timeout_then_no_answer_within_the_timeout():
    with Server(200, delay=3) as server:
        started = time.monotonic()
        answer = http.post(target("http", "127.0.0.1", server.port), b"{}", {}, timeout=0.5)
        took = time.monotonic() - started
    assert answer.status is None and answer.error == "ReadTimeoutError" and took < 1.5


def test_given_nothing_listening_then_no_answer():
    with Server(200) as server:
        port = server.port
    answer = http.post(target("http", "127.0.0.1", port), b"{}", {}, timeout=2)
    assert answer.status is None and answer.error
