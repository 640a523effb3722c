"""The HTTP side of the local BYOC service: a hardened standard-library ``http.server``.

One thread per connection, at most ``Limits.max_connections`` of them; every read has a
deadline (``Limits.read_timeout`` for a whole request, ``Limits.idle_timeout`` between
requests); heads and bodies have size limits; chunked bodies are decoded; the token is
checked before a body is read. Every answer, protocol errors included, carries the
``{"error": ...}`` envelope, and an unexpected error is a 500, never a dropped reply.
Why not a WSGI server: ``docs/design/service.md``.

Routes live in `ROUTER` (`byocframe.emulator.routing`): the BYOC API's endpoints come
from `byocframe.emulator.byoc_api`; another API registers its own list there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import json
import logging
import re
import select
import socket
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from byocframe.emulator import byoc_api, validate
from byocframe.emulator.auth import FailureThrottle, TokenIssuer
from byocframe.emulator.catalog import CATALOG_ROOT, Catalog
from byocframe.emulator.faults import Faults, RateLimit
from byocframe.emulator.ingest import Ingestor
from byocframe.emulator.limits import Limits
from byocframe.emulator.problems import ApiProblem, bad
from byocframe.emulator.render import error_body
from byocframe.emulator.routing import Request, Route, Router
from byocframe.emulator.store import Store

__all__ = ["API_ROOTS", "ROUTER", "TOKEN_PATHS", "BYOCServer"]

log = logging.getLogger("byocframe.emulator")

API_ROOTS = ("/api/v1/byoc", "/byoc/v1")
TOKEN_PATHS = ("/oauth/token", "/auth/realms/main/protocol/openid-connect/token")

#: Every route the service answers; other APIs register theirs here.
ROUTER = Router()
ROUTER.add(API_ROOTS, byoc_api.ROUTES)
ROUTER.add(API_ROOTS, byoc_api.ADMIN_ROUTES, faulty=False)

_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})
_CHUNK_SIZE_LINE = re.compile(rb"[0-9a-fA-F]{1,15}")
#: A header line the fast path reads: a token name and printable ASCII (or tab) after it.
_PLAIN_FIELD = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*\r\n")
#: Most header lines the fast path reads (http.client refuses more than 100 lines).
_PLAIN_FIELDS = 64
#: Longest header line the fast path reads (http.client refuses longer ones).
_PLAIN_LINE = 65536
#: Codes of the answers the HTTP layer itself gives.
_CODES = {405: "COMMON_METHOD_NOT_ALLOWED", 501: "COMMON_METHOD_NOT_ALLOWED"}


class BYOCServer(ThreadingHTTPServer):
    """A threading HTTP server holding the service's state.

    Parameters
    ----------
    address : (host, port)
        Port 0 picks a free one.
    store : Store
    issuer : TokenIssuer
    ingestor : Ingestor
    faults : Faults, optional
    rate_limit : RateLimit, optional
    limits : Limits, optional
        Timeouts and sizes; `Limits` defaults when omitted.
    throttle : FailureThrottle, optional
        Slows down repeated failures at the token endpoint.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        store: Store,
        issuer: TokenIssuer,
        ingestor: Ingestor,
        *,
        faults: Faults | None = None,
        rate_limit: RateLimit | None = None,
        limits: Limits | None = None,
        throttle: FailureThrottle | None = None,
    ):
        super().__init__(address, RequestHandler)
        self.store = store
        self.issuer = issuer
        self.ingestor = ingestor
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.limits = limits or Limits()
        self.throttle = throttle or FailureThrottle()
        self.catalog = Catalog(store, limits=self.limits)
        self.requests_served = 0
        self._count_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)
        self._per_address: dict[str, int] = {}
        self._address_lock = threading.Lock()
        self._left = threading.Condition(self._address_lock)
        #: Connections waiting for their next request, oldest first, per address.
        self._idle: dict[str, dict[socket.socket, None]] = {}

    @property
    def base_url(self) -> str:
        """``http://host:port`` (what sentinelhub-py calls ``sh_base_url``)."""
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def count_request(self) -> None:
        """Count one answered API request."""
        with self._count_lock:
            self.requests_served += 1

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a connection on its own thread, or answer 503 at once.

        503 when the client's address already holds `Limits.max_connections_per_address`
        connections, or when all `Limits.max_connections` slots are taken.
        """
        address = str(client_address[0]) if client_address else ""
        cap = self.limits.max_connections_per_address
        with self._address_lock:
            held = self._per_address.get(address, 0)
            if held >= cap and self._evict_idle(address):
                # a keep-alive connection of the same client made room: wait for it to go
                self._left.wait_for(lambda: self._per_address.get(address, 0) < cap, 1.0)
                held = self._per_address.get(address, 0)
            if held < cap:
                self._per_address[address] = held + 1
        if held >= cap:
            self._refuse(
                request,
                f"Too many connections from your address ({cap}, "
                "Limits.max_connections_per_address); close some or retry shortly.",
            )
            return
        if not self._slots.acquire(blocking=False) and not self._slot_from_idle():
            self._leave(address)
            self._refuse(request, "Too many connections; retry shortly.")
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            self._leave(address)
            raise

    def _leave(self, address: str) -> None:
        with self._address_lock:
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)
            self._left.notify_all()

    def waiting(self, address: str, sock: socket.socket, idle: bool) -> None:
        """Note that a kept-alive connection waits for its next request, or no longer does."""
        with self._address_lock:
            if idle:
                self._idle.setdefault(address, {})[sock] = None
            else:
                self._idle.get(address, {}).pop(sock, None)

    def _evict_idle(self, address: str | None) -> bool:
        """Close the oldest idle keep-alive connection (of ``address``, or of anyone).

        Idle connections cost a client nothing to open again, while a refused one costs
        it a request: at a limit, idle connections give way first. A connection whose
        next request has begun to arrive is not idle. Called with the address lock held.
        """
        pools = [self._idle.get(address, {})] if address is not None else self._idle.values()
        for pool in pools:
            for sock in list(pool):
                del pool[sock]
                with contextlib.suppress(OSError, ValueError):
                    ready, _, _ = select.select([sock], [], [], 0)
                    if ready:  # a request (or the end) is arriving: not idle after all
                        continue
                    sock.shutdown(socket.SHUT_RDWR)  # its handler sees the end and leaves
                    return True
        return False

    def _slot_from_idle(self) -> bool:
        """A service-wide slot, after closing someone's idle connection (within 1 s)."""
        with self._address_lock:
            evicted = self._evict_idle(None)
        return evicted and self._slots.acquire(timeout=1.0)

    def _refuse(self, request: Any, message: str) -> None:
        body = json.dumps(error_body(503, "COMMON_EXCEPTION", message)).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            request.settimeout(0.5)  # the answer fits in the socket buffer
            request.sendall(head.encode() + body)
        self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection and give its slots back."""
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
            self._leave(str(client_address[0]) if client_address else "")


class _DeadlineReader(io.RawIOBase):
    """Socket reads with a deadline.

    An absolute deadline covers a whole request; while waiting for a request to begin,
    reads time out after an idle period instead.
    """

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.deadline: float | None = None
        self.idle = 60.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.deadline is None:
            timeout = self.idle
        else:
            timeout = self.deadline - time.monotonic()
            if timeout <= 0:
                raise TimeoutError("request deadline passed")
        self._sock.settimeout(timeout)
        return self._sock.recv_into(buffer)


class _Closed(Exception):
    """The client stopped sending mid-request (end of stream)."""


class RequestHandler(BaseHTTPRequestHandler):
    """One connection of the service: requests read within the limits, then routed."""

    protocol_version = "HTTP/1.1"
    server: BYOCServer
    server_version = "byocframe-local-byoc"

    def setup(self) -> None:
        super().setup()
        # answers are written as header + body; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every small answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reader = _DeadlineReader(self.connection)
        self._reader.idle = self.server.limits.idle_timeout
        self.rfile: io.BufferedReader = io.BufferedReader(self._reader, 64 * 1024)
        self._body_pending = False
        self._expect_continue = False
        self._answered = False  # no request served on this connection yet

    def log_message(self, format: str, *args: Any) -> None:
        # the request line holds no secrets (tokens travel in headers, ids in the path)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)

    # ---------------------------------------------------------------- one request
    def handle_one_request(self) -> None:
        limits = self.server.limits
        self._reader.deadline = None  # idle until the next request's first byte
        self.request_version = "HTTP/1.1"  # how protocol errors are answered
        self.command = self.requestline = ""
        self._body_pending = self._expect_continue = False
        address = str(self.client_address[0]) if self.client_address else ""
        # kept alive after an answer: may be closed to make room (a new connection may not)
        self.server.waiting(address, self.connection, self._answered)
        try:
            if not self.rfile.peek(1):
                self.close_connection = True
                return
        except (TimeoutError, OSError):
            self.close_connection = True
            return
        finally:
            self.server.waiting(address, self.connection, False)
        self._answered = True
        self._reader.deadline = time.monotonic() + limits.read_timeout
        try:
            head = self._read_head(limits)
            self.raw_requestline = head[0]
            if not self._parse_plain(head) and not self._parse_head(head):
                return  # answered by send_error
            self._body_pending = bool(
                self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length")
            )
            if self.command not in _METHODS:
                self.send_error(501, f"Unsupported method {self.command[:20]!r}")
                return
            self._dispatch(self.command)
            self.wfile.flush()
        except TimeoutError:
            self.send_error(408, f"The request was not received within {limits.read_timeout} s")
        except _Closed:  # it began (peek saw a byte) and then the client stopped sending
            self.send_error(400, "The request ended before it was complete")
        except ApiProblem as problem:  # the head broke a limit: the rest is unread
            self.close_connection = True
            self._error(problem)
        except OSError:
            self.close_connection = True

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
            raise _Closed
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
                raise _Closed
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
                raise _Closed
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
        while True:
            line = self.rfile.readline(1025)
            if not line.endswith(b"\n"):
                raise _Closed if not line else bad("A chunk size line is malformed.")
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
                raise _Closed
            body += chunk
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise bad("A chunk is longer than its size says.")
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
                raise _Closed
            if line in (b"\r\n", b"\n"):
                return

    # ---------------------------------------------------------------- dispatch
    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        try:
            if url.path in TOKEN_PATHS and method == "POST":
                self._token(self._read_body())
                return
            if url.path == CATALOG_ROOT or url.path.startswith(CATALOG_ROOT + "/"):
                # the body is read once the token was checked, as on the BYOC routes
                self.server.catalog.serve(self, self.server, method, self._read_body)
                if self._body_pending:  # refused before its body: it cannot be read as a request
                    self.close_connection = True
                return
            if not ROUTER.knows(url.path):
                raise ApiProblem(404, "COMMON_NOT_FOUND", f"No such endpoint: {url.path[:200]}")
            client = self._authenticate()  # before the body is read
            route, params = ROUTER.match(method, url.path)
            query = {
                k: v[-1]
                for k, v in urllib.parse.parse_qs(
                    url.query, keep_blank_values=True, max_num_fields=50
                ).items()
            }
            body = self._read_body()
            host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
            request = Request(
                store=self.server.store,
                ingestor=self.server.ingestor,
                method=method,
                path=url.path,
                host=host,
                params=params,
                query=query,
                body=None,
            )
            self._serve(client, route, request, body)
        except ApiProblem as problem:
            self._error(problem)
        except (_Closed, OSError):
            raise
        except ValueError as err:  # parse_qs: too many fields
            self._error(bad(f"The query string is malformed ({err})."))
        except Exception:
            log.exception("unexpected error answering %s %s", method, url.path[:200])
            self.close_connection = True
            self._error(ApiProblem(500, "COMMON_EXCEPTION", "Internal error; see the server log."))

    def _serve(self, client: str, route: Route, request: Request, body: bytes) -> None:
        """Apply the injected faults and the rate limit, then run the endpoint."""
        faults, faulty = self.server.faults, route.faulty
        fate = faults.decide() if faulty and faults.active else "ok"
        if faulty and faults.latency:
            time.sleep(faults.latency)
        if faulty and self.server.rate_limit is not None:
            wait = self.server.rate_limit.acquire(client)
            if wait:
                self._throttle(wait)
                return
        if fate == "error":
            raise ApiProblem(503, "COMMON_EXCEPTION", "Injected failure: service unavailable.")
        if fate == "throttle":
            self._throttle(faults.retry_after_ms)
            return
        if fate == "drop_before":
            self._drop()
            return
        if request.method in ("POST", "PUT"):
            request.body = validate.parse_body(body)
        status, answer = route.endpoint(request)
        if fate == "drop_after":
            self._drop()
            return
        self.server.count_request()
        self._send(status, answer)

    # ---------------------------------------------------------------- auth
    def _authenticate(self) -> str:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        client = self.server.issuer.check(token.strip()) if scheme.lower() == "bearer" else None
        if client is None:
            raise ApiProblem(
                401,
                "COMMON_UNAUTHORIZED",
                "Missing, invalid or expired access token." if header else "Missing access token.",
            )
        return client

    def _token(self, body: bytes) -> None:
        address = str(self.client_address[0]) if self.client_address else ""
        throttle = self.server.throttle
        wait = throttle.wait(address)
        if wait > 0:
            self._send(
                429,
                {
                    "error": "slow_down",
                    "error_description": "Too many failed attempts; retry later.",
                },
                headers={"Retry-After": str(max(1, int(wait * 1000)))},
            )
            return
        try:
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
        except ValueError:
            form = {}
        grant = (form.get("grant_type") or [""])[0]
        client_id = form["client_id"][0] if form.get("client_id") else None
        secret = form["client_secret"][0] if form.get("client_secret") else None
        basic = self.headers.get("Authorization", "")
        if client_id is None and basic.startswith("Basic "):
            try:
                raw = base64.b64decode(basic[6:].strip(), validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            client_id, _, secret = raw.decode("utf-8", "replace").partition(":")
        if grant != "client_credentials":
            self._send(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Only client_credentials is supported.",
                },
            )
            return
        if not self.server.issuer.credentials_ok(client_id, secret):
            throttle.failed(address)
            log.info("failed token request from %s", address)
            self._send(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Invalid client or Invalid client credentials",
                },
            )
            return
        throttle.succeeded(address)
        self._send(200, self.server.issuer.issue())

    # ---------------------------------------------------------------- answers
    def _send(self, status: int, answer: Any, headers: dict[str, str] | None = None) -> None:
        # reads may have left a nearly spent deadline on the socket; writes get their own
        self.connection.settimeout(self.server.limits.read_timeout)
        if self._body_pending:  # an unread body would be taken for the next request
            self.close_connection = True
        if status == 204 or answer is None:
            data, kind = b"", None
        else:
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            kind = "application/json"
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.wfile.write(self._head() + data)  # one write: one segment for a small answer

    def _head(self) -> bytes:
        """The answer's head as `end_headers` would write it (not written here)."""
        socket_writer, self.wfile = self.wfile, io.BytesIO()
        try:
            self.end_headers()
            return self.wfile.getvalue()
        finally:
            self.wfile = socket_writer

    def _error(self, problem: ApiProblem) -> None:
        envelope = error_body(problem.status, problem.code, problem.message, problem.errors)
        self._send(problem.status, envelope)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a protocol error with the JSON envelope (not http.server's HTML)."""
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # parse_request may have left HTTP/0.9: no head
        status = HTTPStatus(code)
        text = message or status.phrase
        if explain and explain != text:
            text = f"{text}: {explain}"
        code_name = _CODES.get(code, "COMMON_EXCEPTION" if code >= 500 else "COMMON_BAD_PAYLOAD")
        self.log_message("protocol error %d: %s", code, text)
        with contextlib.suppress(OSError):
            self._error(ApiProblem(code, code_name, text[:500]))

    def _throttle(self, wait_ms: int) -> None:
        envelope = error_body(429, "RATE_LIMIT_EXCEEDED", "You have exceeded your rate limit")
        self._send(429, envelope, headers={"Retry-After": str(int(wait_ms))})

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
