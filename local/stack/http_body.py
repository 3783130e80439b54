"""HTTP/1.1 request bodies for the local API Gateway: Content-Length or chunked framing, a size
limit checked before the body is read (a declared length) or while it is read (chunks), and the
lingering close a server owes a client whose body it did not read."""

from __future__ import annotations

import re
import socket
import time
from email.message import Message
from typing import BinaryIO

MAX_LINE = 4096  # a chunk-size line or a trailer line
MAX_TRAILERS = 100
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


class BodyError(Exception):
    """The body cannot be taken: 400 (malformed framing), 408 (the client stopped sending it) or
    413 (over the limit)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def declared_length(headers: Message) -> int | None:
    """The Content-Length, None without one; BodyError 400 for several values or a non-number."""
    values = {value.strip() for value in headers.get_all("Content-Length") or []}
    if not values:
        return None
    if len(values) > 1:
        raise BodyError(400, "conflicting Content-Length headers")
    (value,) = values
    if not _DIGITS.fullmatch(value):
        raise BodyError(400, "Content-Length is not a number")
    return int(value)


def read_body(rfile: BinaryIO, headers: Message, limit: int) -> bytes:
    """The request body, framed by Content-Length or chunked Transfer-Encoding (a read that times
    out, per the socket's timeout, is a 408)."""
    try:
        return _read_body(rfile, headers, limit)
    except TimeoutError as exc:
        raise BodyError(408, "timed out waiting for the request body") from exc


def _read_body(rfile: BinaryIO, headers: Message, limit: int) -> bytes:
    encodings = headers.get_all("Transfer-Encoding")
    length = declared_length(headers)
    if encodings:
        if length is not None:
            raise BodyError(400, "both Content-Length and Transfer-Encoding")
        if [e.strip().lower() for e in ",".join(encodings).split(",")] != ["chunked"]:
            raise BodyError(400, "unsupported Transfer-Encoding")
        return _read_chunked(rfile, limit)
    if not length:
        return b""
    if length > limit:
        raise BodyError(413, "body over the limit")  # refused unread
    body = rfile.read(length)
    if len(body) < length:
        raise BodyError(400, "body shorter than its Content-Length")
    return body


def _read_chunked(rfile: BinaryIO, limit: int) -> bytes:
    body = bytearray()
    while size := _chunk_size(rfile.readline(MAX_LINE + 1)):
        if len(body) + size > limit:
            raise BodyError(413, "body over the limit")  # refused before the chunk is read
        chunk = rfile.read(size)
        if len(chunk) < size or rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n"):
            raise BodyError(400, "malformed chunk")
        body += chunk
    for _ in range(MAX_TRAILERS):  # trailer fields are read and dropped
        line = rfile.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return bytes(body)
        if not line.endswith(b"\n"):
            raise BodyError(400, "malformed trailer")
    raise BodyError(400, "too many trailer fields")


def _chunk_size(line: bytes) -> int:
    size = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
    if not line.endswith(b"\n") or not _HEX.fullmatch(size):
        raise BodyError(400, "malformed chunk size")
    return int(size, 16)


def linger(conn: socket.socket, idle: float = 1.0, budget: float = 5.0) -> None:
    """After answering a request whose body was not read: stop sending, then read and drop what
    the client still sends for a while. Closing with unread data would reset the connection, and
    a client still writing its body would lose the answer."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(idle)
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline and conn.recv(65536):
            pass
    except OSError:  # includes the idle timeout
        pass
