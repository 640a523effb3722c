"""The HTTP side of the local BYOC service (standard library ``http.server``)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from byocframe.emulator.auth import TokenIssuer
from byocframe.emulator.catalog import CATALOG_ROOT, Catalog
from byocframe.emulator.faults import Faults, RateLimit
from byocframe.emulator.ingest import Ingestor
from byocframe.emulator.store import ApiProblem, Store, bad

__all__ = ["TOKEN_PATHS", "BYOCServer"]

log = logging.getLogger("byocframe.emulator")

API_ROOTS = ("/api/v1/byoc", "/byoc/v1")
TOKEN_PATHS = ("/oauth/token", "/auth/realms/main/protocol/openid-connect/token")

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), name)
    for m, p, name in [
        ("GET", r"/collections", "list_collections"),
        ("POST", r"/collections", "create_collection"),
        ("GET", r"/collections/(?P<cid>[^/]+)", "get_collection"),
        ("PUT", r"/collections/(?P<cid>[^/]+)", "update_collection"),
        ("DELETE", r"/collections/(?P<cid>[^/]+)", "delete_collection"),
        ("POST", r"/collections/(?P<cid>[^/]+)/copyTiles", "copy_tiles"),
        ("GET", r"/collections/(?P<cid>[^/]+)/tiles", "list_tiles"),
        ("POST", r"/collections/(?P<cid>[^/]+)/tiles", "create_tile"),
        ("GET", r"/collections/(?P<cid>[^/]+)/tiles/(?P<tid>[^/]+)", "get_tile"),
        ("PUT", r"/collections/(?P<cid>[^/]+)/tiles/(?P<tid>[^/]+)", "update_tile"),
        ("DELETE", r"/collections/(?P<cid>[^/]+)/tiles/(?P<tid>[^/]+)", "delete_tile"),
        ("POST", r"/collections/(?P<cid>[^/]+)/tiles/(?P<tid>[^/]+)/reingest", "reingest"),
        ("PUT", r"/_emulator/buckets/(?P<bucket>[^/]+)", "register_files"),
        ("GET", r"/global/(?P<cid>[^/]+)", "global_lookup"),
    ]
]


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
    ):
        super().__init__(address, _Handler)
        self.store = store
        self.issuer = issuer
        self.ingestor = ingestor
        self.faults = faults or Faults()
        self.rate_limit = rate_limit
        self.catalog = Catalog(store)
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: BYOCServer
    server_version = "byocframe-local-byoc"

    def setup(self) -> None:
        super().setup()
        # answers are written as header + body; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every small answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # the request line holds no secrets (tokens travel in headers, ids in the path)
        log.debug("%s %s", self.address_string(), format % args)

    # ---------------------------------------------------------------- dispatch
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        try:
            if url.path in TOKEN_PATHS and method == "POST":
                self._token(body)
                return
            if url.path == CATALOG_ROOT or url.path.startswith(CATALOG_ROOT + "/"):
                self.server.catalog.serve(self, self.server, method, body)
                return
            root = next((r for r in API_ROOTS if url.path.startswith(r + "/")), None)
            if root is None:
                raise ApiProblem(404, "COMMON_NOT_FOUND", f"No such endpoint: {url.path}")
            client = self._authenticate()
            rest = url.path[len(root) :]
            handler, params = self._route(method, rest)
            query = {
                k: v[-1]
                for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()
            }
            admin = rest.startswith("/_emulator/")
            self._serve(client, handler, params, query, body, method, faulty=not admin)
        except ApiProblem as problem:
            self._error(problem)

    def _serve(
        self,
        client: str,
        handler: Callable[..., tuple[int, Any]],
        params: dict[str, str],
        query: dict[str, str],
        body: bytes,
        method: str,
        *,
        faulty: bool = True,
    ) -> None:
        faults = self.server.faults
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
        payload = self._json(body) if method in ("POST", "PUT") else None
        status, answer = handler(params=params, query=query, body=payload)
        if fate == "drop_after":
            self._drop()
            return
        self.server.count_request()
        self._send(status, answer)

    def _route(self, method: str, rest: str) -> tuple[Callable[..., tuple[int, Any]], dict]:
        allowed = False
        for route_method, pattern, name in _ROUTES:
            match = pattern.fullmatch(rest)
            if match:
                if route_method == method:
                    return getattr(self, "_" + name), match.groupdict()
                allowed = True
        if allowed:
            raise ApiProblem(405, "COMMON_METHOD_NOT_ALLOWED", f"{method} is not allowed here.")
        raise ApiProblem(404, "COMMON_NOT_FOUND", f"No such endpoint: {rest}")

    # ---------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    @staticmethod
    def _json(body: bytes) -> Any:
        if not body.strip():
            return {}
        try:
            value = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise bad(f"The request body is not valid JSON ({err}).") from None
        if not isinstance(value, dict):
            raise bad("The request body must be a JSON object.")
        return value

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
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        grant = (form.get("grant_type") or [""])[0]
        client_id: str | None = form["client_id"][0] if form.get("client_id") else None
        secret: str | None = form["client_secret"][0] if form.get("client_secret") else None
        if client_id is None and self.headers.get("Authorization", "").startswith("Basic "):
            import base64

            raw = base64.b64decode(self.headers["Authorization"][6:]).decode("utf-8", "replace")
            client_id, _, secret = raw.partition(":")
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
            self._send(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Invalid client or Invalid client credentials",
                },
            )
            return
        self._send(200, self.server.issuer.issue())

    def _send(self, status: int, answer: Any) -> None:
        if status == 204 or answer is None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, problem: ApiProblem) -> None:
        inner: dict[str, Any] = {
            "status": problem.status,
            "reason": HTTPStatus(problem.status).phrase,
            "message": problem.message,
            "code": problem.code,
        }
        if problem.errors is not None:
            inner["errors"] = problem.errors
        self._send(problem.status, {"error": inner})

    def _throttle(self, wait_ms: int) -> None:
        data = json.dumps(
            {
                "error": {
                    "status": 429,
                    "reason": "Too Many Requests",
                    "message": "You have exceeded your rate limit",
                    "code": "RATE_LIMIT_EXCEEDED",
                }
            }
        ).encode()
        self.send_response(429)
        self.send_header("Retry-After", str(int(wait_ms)))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _self_url(self, query: dict[str, str], **changes: Any) -> str:
        url = urllib.parse.urlsplit(self.path)
        params = {**query, **changes}
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}{url.path}?{urllib.parse.urlencode(params)}"

    def _page(
        self, items: list[str], next_token: str | None, query: dict[str, str], count: int
    ) -> bytes:
        links: dict[str, str] = {
            "currentToken": query.get("viewtoken", ""),
            "@id": self._self_url(query, count=count),
        }
        if next_token:
            links["nextToken"] = next_token
            links["next"] = self._self_url(query, viewtoken=next_token, count=count)
        if query.get("viewtoken"):
            links["previousToken"] = ""  # keyset pages do not walk backwards
        return (
            b'{"data":['
            + ",".join(items).encode()
            + b'],"links":'
            + json.dumps(links).encode()
            + b"}"
        )

    @staticmethod
    def _count(query: dict[str, str]) -> int:
        text = query.get("count")
        if text is None or text == "":
            return 100
        try:
            count = int(text)
        except ValueError:
            raise bad(f"count must be an integer from 1 to 100, got {text!r}") from None
        if count < 1:
            raise bad(f"count must be an integer from 1 to 100, got {count}")
        return min(count, 100)

    @staticmethod
    def _token_param(query: dict[str, str]) -> str | None:
        if "viewToken" in query and "viewtoken" not in query:
            query["viewtoken"] = query.pop("viewToken")
        return query.get("viewtoken") or None

    # ---------------------------------------------------------------- endpoints
    def _list_collections(self, *, params, query, body):
        count = self._count(query)
        docs, token = self.server.store.collections(
            search=query.get("search") or None, count=count, token=self._token_param(query)
        )
        return 200, self._page([json.dumps(d) for d in docs], token, query, count)

    def _create_collection(self, *, params, query, body):
        return 201, {"data": self.server.store.create_collection(body)}

    def _get_collection(self, *, params, query, body):
        return 200, {"data": self.server.store.collection(params["cid"])}

    def _update_collection(self, *, params, query, body):
        self.server.store.update_collection(params["cid"], body)
        return 204, None

    def _delete_collection(self, *, params, query, body):
        self.server.store.delete_collection(params["cid"])
        return 204, None

    def _copy_tiles(self, *, params, query, body):
        target = query.get("toCollection")
        if not target:
            raise bad("toCollection is required")
        self.server.store.copy_tiles(params["cid"], target)
        return 204, None

    def _list_tiles(self, *, params, query, body):
        count = self._count(query)
        items, token = self.server.store.tiles_page(
            params["cid"],
            count=count,
            token=self._token_param(query),
            sort=query.get("sort") or "created:asc",
            path=query.get("path"),
            status=query.get("status") or None,
        )
        return 200, self._page(items, token, query, count)

    def _create_tile(self, *, params, query, body):
        doc = self.server.store.create_tile(params["cid"], body)
        tile_id = json.loads(doc)["id"]
        answer = b'{"data":' + doc.encode() + b"}"
        self.server.ingestor.submit(params["cid"], tile_id)
        return 201, answer

    def _get_tile(self, *, params, query, body):
        return 200, b'{"data":' + self.server.store.tile(
            params["cid"], params["tid"]
        ).encode() + b"}"

    def _update_tile(self, *, params, query, body):
        self.server.store.update_tile(params["cid"], params["tid"], body)
        return 204, None

    def _delete_tile(self, *, params, query, body):
        self.server.store.delete_tile(params["cid"], params["tid"])
        return 204, None

    def _reingest(self, *, params, query, body):
        self.server.store.reingest(params["cid"], params["tid"])
        self.server.ingestor.submit(params["cid"], params["tid"])
        return 204, None

    def _global_lookup(self, *, params, query, body):  # location: set_meta("location", ...)
        doc, where = self.server.store.collection(params["cid"]), self.server.store.get_meta
        location = where("location") or "aws-eu-central-1"
        return 200, {"data": {"id": doc["id"], "s3Bucket": doc["s3Bucket"], "location": location}}

    def _register_files(self, *, params, query, body):
        self.server.store.register_files(params["bucket"], body)
        return 204, None
