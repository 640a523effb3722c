"""Reading requests of the local service within its limits: deadlines, heads, bodies.

Every read has a deadline (``Limits.read_timeout`` for a whole request,
``Limits.idle_timeout`` between requests); the request line, the head and the body have
size limits; chunked bodies are decoded; ``100 Continue`` waits until the handler has
checked the token and the declared size. A plain head (the common case) is parsed by a
fast path that leaves what ``BaseHTTPRequestHandler.parse_request`` would.
"""

from __future__ import annotations

import io
import re
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from byocframe.emulator.connections import LimitedHTTPServer
from byocframe.emulator.limits import Limits
from byocframe.emulator.problems import ApiProblem, bad

__all__ = ["ClientStopped", "DeadlineReader", "RequestReader"]

_CHUNK_SIZE_LINE = re.compile(rb"[0-9a-fA-F]{1,15}")
#: A header line the fast path reads: a token name and printable ASCII (or tab) after it.
_PLAIN_FIELD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*\r\n")
#: Most header lines the fast path reads (http.client refuses more than 100 lines).
_PLAIN_FIELDS = 64
#: Longest header line the fast path reads (http.client refuses longer ones).
_PLAIN_LINE = 65536


class DeadlineReader(io.RawIOBase):
    """Socket reads with a deadline.

    An absolute deadline covers a whole request; while waiting for a request to begin,
    reads time out after an idle period instead.
    """

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.deadline: float | None = None
        self.idle = 60.0

    def readable(self) -> bool:
        """Always True: this is a reader."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Receive into ``buffer`` before the deadline (or the idle period) passes."""
        if self.deadline is None:
            timeout = self.idle
        else:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError("request deadline passed")
        self._sock.settimeout(timeout)
        return self._sock.recv_into(buffer)


class ClientStopped(Exception):
    """The client stopped sending mid-request (end of stream)."""


class RequestReader(BaseHTTPRequestHandler):
    """One connection's reading side: heads and bodies read within the server's `Limits`.

    A subclass answers and routes. The state it shares with that subclass, on the one
    handler object: ``_reader`` (the `DeadlineReader` under ``rfile``: set its
    ``deadline`` when a request begins), ``_body_pending`` (a body announced and not yet
    read), ``_expect_continue`` (``100 Continue`` owed before the body) and ``_answered``
    (a request was served on this connection).
    """

    server: LimitedHTTPServer

    def setup(self) -> None:
        """Put the socket's reads behind a `DeadlineReader`, and no delay on its writes."""
        super().setup()
        # answers are written as header + body; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every small answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = DeadlineReader(self.connection)
        self._reader.idle = self.server.limits.idle_timeout
        self.rfile: io.BufferedReader = io.BufferedReader(self._reader, 64 * 1024)
        self._body_pending = False
        self._expect_continue = False
        self._answered = False  # no request served on this connection yet

    def _read_head(self, limits: Limits) -> list[bytes]:
        """The request line and header lines, within the head size limits."""
        line = self.rfile.readline(limits.max_line_bytes + 1)
        for _ in range(4):  # RFC 9112 2.2: ignore empty lines before a request line
            if line not in (b"\r\n", b"\n"):
                break
            line = self.rfile.readline(limits.max_line_bytes + 1)
        if len(line) > limits.max_line_bytes:
            raise ApiProblem(
                414,
                "COMMON_BAD_PAYLOAD",
                f"The request line exceeds {limits.max_line_bytes} bytes.",
            )
        if not line.endswith(b"\n"):
            raise ClientStopped
        lines, total = [line], len(line)
        while True:
            line = self.rfile.readline(limits.max_header_bytes - total + 1)
            total += len(line)
            if total > limits.max_header_bytes:
                raise ApiProblem(
                    431,
                    "COMMON_BAD_PAYLOAD",
                    f"The request headers exceed {limits.max_header_bytes} bytes.",
                )
            if not line.endswith(b"\n"):
                raise ClientStopped
            lines.append(line)
            if line in (b"\r\n", b"\n"):
                return lines

    def _parse_head(self, head: list[bytes]) -> bool:
        """Parse the request line and headers with `BaseHTTPRequestHandler.parse_request`."""
        line_reader, self.rfile = self.rfile, io.BufferedReader(io.BytesIO(b"".join(head[1:])))
        try:
            return self.parse_request()
        finally:
            self.rfile = line_reader

    def _parse_plain(self, head: list[bytes]) -> bool:
        """Parse a plain head as `_parse_head` would, faster; False if it is not plain.

        Plain: ``METHOD SP target SP HTTP/1.1``, at most `_PLAIN_FIELDS` header lines
        of a token, a colon and printable ASCII, CRLF line ends, and no multipart or
        message content type (the email parser reads an empty body of those). The
        result is what ``parse_request`` leaves: command, path, version, the
        `http.client.HTTPMessage` of the headers, the connection and the expectation.
        """
        requestline = str(head[0], "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        fields = head[1:-1]
        if not (
            len(words) == 3
            and words[2] == "HTTP/1.1"
            and head[-1] == b"\r\n"
            and len(fields) <= _PLAIN_FIELDS
            and all(len(line) <= _PLAIN_LINE and _PLAIN_FIELD.fullmatch(line) for line in fields)
        ):
            return False
        headers = self.MessageClass()
        for line in fields:
            headers.set_raw(*headers.policy.header_source_parse([line.decode("iso-8859-1")]))
        headers.set_payload("")
        if headers.get_content_maintype() in ("multipart", "message"):
            return False
        command, path, version = words
        if path.startswith("//"):  # as parse_request does (gh-87389)
            path = "/" + path.lstrip("/")
        self.requestline = requestline
        self.command, self.path, self.request_version = command, path, version
        self.headers = headers
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close"
        if headers.get("Expect", "").lower() == "100-continue":
            self.handle_expect_100()
        return True

    def handle_expect_100(self) -> bool:
        """Defer ``100 Continue`` until the token and the declared size were checked."""
        self._expect_continue = True
        return True

    def _read_body(self) -> bytes:
        """The body (by Content-Length or chunked), within `Limits.max_body_bytes`."""
        limit = self.server.limits.max_body_bytes
        encoding = self.headers.get("Transfer-Encoding")
        lengths = self.headers.get_all("Content-Length") or []
        if encoding is not None:
            if lengths:
                raise bad("A request must not have both Content-Length and Transfer-Encoding.")
            if encoding.strip().lower() != "chunked":
                raise ApiProblem(
                    501,
                    "COMMON_BAD_PAYLOAD",
                    f"Transfer-Encoding {encoding[:40]!r} is not supported.",
                )
            self._continue()
            body = self._read_chunked(limit)
        elif lengths:
            text = lengths[0].strip()
            if len(set(lengths)) > 1 or not (text.isascii() and text.isdigit()) or len(text) > 18:
                raise bad(f"Content-Length must be a non-negative integer, got {lengths[0][:40]!r}")
            length = int(text)
            if length > limit:
                raise ApiProblem(
                    413,
                    "COMMON_BAD_PAYLOAD",
                    f"The request body has {length} bytes; at most {limit} are accepted.",
                )
            if length:
                self._continue()
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise ClientStopped
        else:
            body = b""
        self._body_pending = False
        return body

    def _continue(self) -> None:
        """Invite a client that sent ``Expect: 100-continue`` to send its body now."""
        if self._expect_continue:
            self._expect_continue = False
            self.send_response_only(100)
            self.end_headers()

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        chunks = self.server.limits.max_chunks
        for _ in range(chunks + 1):  # the last chunk, of size 0, is not counted
            line = self.rfile.readline(1025)
            if not line.endswith(b"\n"):
                raise ClientStopped if not line else bad("A chunk size line is malformed.")
            match = _CHUNK_SIZE_LINE.fullmatch(line.split(b";", 1)[0].strip())
            if match is None:
                raise bad("A chunk size is not a hexadecimal number.")
            size = int(match[0], 16)
            if len(body) + size > limit:
                raise ApiProblem(
                    413, "COMMON_BAD_PAYLOAD", f"The request body exceeds {limit} bytes."
                )
            if size == 0:
                break
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ClientStopped
            body += chunk
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise bad("A chunk is longer than its size says.")
        else:
            raise ApiProblem(
                413,
                "COMMON_BAD_PAYLOAD",
                f"The request body comes in more than {chunks} chunks (Limits.max_chunks); "
                "send it in fewer, larger chunks.",
            )
        self._read_trailers()
        return bytes(body)

    def _read_trailers(self) -> None:
        total, limit = 0, self.server.limits.max_header_bytes
        while True:
            line = self.rfile.readline(limit - total + 1)
            total += len(line)
            if total > limit:
                raise ApiProblem(431, "COMMON_BAD_PAYLOAD", "The chunked trailers are too large.")
            if not line.endswith(b"\n"):
                raise ClientStopped
            if line in (b"\r\n", b"\n"):
                return
