"""The HTTP side of the local BYOC service: a hardened standard-library ``http.server``.

One thread per connection, held within the connection limits
(`byocframe.emulator.connections`); requests are read within deadlines and size limits
(`byocframe.emulator.reading`); the token is checked before a body is read. Every
answer, protocol errors included, carries the ``{"error": ...}`` envelope, and an
unexpected error is a 500, never a dropped reply.
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
import socket
import threading
import time
import urllib.parse
from http import HTTPStatus
from typing import Any

from byocframe.emulator import byoc_api, validate
from byocframe.emulator.auth import FailureThrottle, TokenIssuer
from byocframe.emulator.catalog import CATALOG_ROOT, Catalog
from byocframe.emulator.connections import LimitedHTTPServer
from byocframe.emulator.faults import Faults, RateLimit
from byocframe.emulator.ingest import Ingestor
from byocframe.emulator.limits import Limits
from byocframe.emulator.problems import ApiProblem, bad
from byocframe.emulator.reading import ClientStopped, RequestReader
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
#: Codes of the answers the HTTP layer itself gives.
_CODES = {405: "COMMON_METHOD_NOT_ALLOWED", 501: "COMMON_METHOD_NOT_ALLOWED"}


class BYOCServer(LimitedHTTPServer):
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
        super().__init__(address, RequestHandler, limits or Limits())
        self.store = store
        self.issuer = issuer
        self.ingestor = ingestor
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.throttle = throttle or FailureThrottle()
        self.catalog = Catalog(store, limits=self.limits)
        self.requests_served = 0
        self._count_lock = threading.Lock()

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


class RequestHandler(RequestReader):
    """One connection of the service: requests read within the limits, then routed."""

    protocol_version = "HTTP/1.1"
    server: BYOCServer
    server_version = "byocframe-local-byoc"

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
        self.server.waiting(address, self.connection, True, evictable=self._answered)
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
        except ClientStopped:  # it began (peek saw a byte) and then the client stopped sending
            self.send_error(400, "The request ended before it was complete")
        except ApiProblem as problem:  # the head broke a limit: the rest is unread
            self.close_connection = True
            self._error(problem)
        except OSError:
            self.close_connection = True

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
            most = self.server.limits.max_query_fields
            try:
                fields = urllib.parse.parse_qs(
                    url.query, keep_blank_values=True, max_num_fields=most
                )
            except ValueError:  # more fields than max_num_fields
                raise bad(
                    f"The query string has more than max_query_fields={most} parameters; "
                    "send fewer (a search's many values go in a POST body)"
                ) from None
            query = {k: v[-1] for k, v in fields.items()}
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
        except (ClientStopped, OSError):
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
