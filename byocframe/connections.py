"""Keep-alive HTTP(S) exchanges on the standard library's ``http.client``.

requests and urllib3 spend most of the client's time per request on loopback (about
0.9 ms against 0.3 ms for ``http.client`` alone), and a bulk push sends thousands of
small requests. `ConnectionPool` does the one thing the client needs from them, a
request and its whole answer over a reused connection, and answers with a
``requests.Response`` so everything above it stays as it is. Proxies and client
certificates are left to requests (see `byocframe.transport.HTTPTransport`).
"""

from __future__ import annotations

import functools
import http.client
import os
import select
import socket
import ssl
import threading
import urllib.parse
import weakref
import zlib
from collections.abc import Callable
from typing import Any, TypeAlias

import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_ANSWER_BYTES",
    "AnswerTooLarge",
    "ConnectionPool",
    "Timeout",
    "route",
]

#: What a lean exchange accepts: the encodings it can decode.
ACCEPT_ENCODING = "gzip, deflate"

#: requests' timeout: seconds for every socket operation, or (connect, read).
Timeout: TypeAlias = float | tuple[float | None, float | None] | None
Verify: TypeAlias = bool | str
_Key: TypeAlias = tuple[str, str, int, Verify]


@functools.lru_cache(maxsize=64)
def _origin_of(prefix: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(prefix)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def route(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and request target (path and query) of an absolute URL.

    The origin part is parsed once per distinct ``scheme://host:port`` (cached).

    Examples
    --------
    >>> route("https://sh.dataspace.copernicus.eu/api/v1/byoc/collections?count=5")
    ('https', 'sh.dataspace.copernicus.eu', 443, '/api/v1/byoc/collections?count=5')
    >>> route("http://127.0.0.1:8000")
    ('http', '127.0.0.1', 8000, '/')
    """
    start = url.find("//")
    end = url.find("/", start + 2) if start != -1 else -1
    if end == -1 or "?" in url[:end] or "#" in url[:end]:
        parts = urllib.parse.urlsplit(url)
        scheme, host, port = _origin_of(f"{parts.scheme}://{parts.netloc}")
        return scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    scheme, host, port = _origin_of(url[:end])
    return scheme, host, port, url[end:].partition("#")[0]


def _dropped(sock: socket.socket | None) -> bool:
    """Whether an idle kept-alive socket was closed by the server (it reads as ready)."""
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _tls(verify: Verify) -> ssl.SSLContext:
    """A TLS context checking certificates as requests would with ``verify``."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    where = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)


def _decoder(encoding: str) -> Callable[[bytes], bytes] | None:
    """The decoder of a Content-Encoding (None: none needed)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding == "gzip":
        return lambda data: _whole(zlib.decompressobj(16 + zlib.MAX_WBITS), data)
    if encoding == "deflate":

        def inflate(data: bytes) -> bytes:
            try:
                return _whole(zlib.decompressobj(), data)
            except zlib.error:  # some servers send deflate without its zlib header
                return _whole(zlib.decompressobj(-zlib.MAX_WBITS), data)

        return inflate
    raise requests.exceptions.ContentDecodingError(
        f"the answer is encoded as {encoding!r}, which was not asked for"
    )


#: Largest answer body read, on the wire and once decoded (64 MiB: a listing page of 100
#: tiles is about 100 KB). A larger one is a `AnswerTooLarge`, found before it is held
#: in memory; raise it with ``byocframe.connections.MAX_ANSWER_BYTES = ...``.
MAX_ANSWER_BYTES = 64 * 2**20


class AnswerTooLarge(requests.RequestException):
    """An answer body over `MAX_ANSWER_BYTES` (declared, sent or decoded)."""


def _too_large(what: str) -> AnswerTooLarge:
    return AnswerTooLarge(
        f"the answer {what} more than {MAX_ANSWER_BYTES:,} bytes "
        "(byocframe.connections.MAX_ANSWER_BYTES); raise it if the service is trusted"
    )


def _whole(decompressor: Any, data: bytes) -> bytes:
    """Decompress ``data``, which must hold the whole stream (a cut one is an error)."""
    out = decompressor.decompress(data, MAX_ANSWER_BYTES + 1)
    if len(out) > MAX_ANSWER_BYTES or decompressor.unconsumed_tail:
        raise _too_large("decodes to")
    if not decompressor.eof:
        raise zlib.error("the compressed body ends before its stream does")
    return out


def _read_bounded(answer: http.client.HTTPResponse) -> bytes:
    """The answer's body, refused past `MAX_ANSWER_BYTES` (declared or as it comes)."""
    declared = (answer.getheader("Content-Length") or "").strip()
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise _too_large("declares")
    chunks: list[bytes] = []
    total = 0
    while chunk := answer.read(1 << 16):
        total += len(chunk)
        if total > MAX_ANSWER_BYTES:
            raise _too_large("sends")
        chunks.append(chunk)
    data = b"".join(chunks)
    if declared.isdigit() and len(data) < int(declared):  # closed before its end
        raise http.client.IncompleteRead(data, int(declared) - len(data))
    return data


#: Most header lines an informational (1xx) answer may have (as http.client's limit).
_MAX_HEADERS = 100
#: Longest header line read (as http.client's limit).
_MAX_LINE = 65536


class _Answer(http.client.HTTPResponse):
    """An answer that skips informational (1xx) answers before the final one.

    http.client skips only ``100 Continue``; it takes a ``103 Early Hints`` for the
    answer and leaves the real one unread on the connection, where the next request
    would read it as its own (RFC 9110 15.2: a client must accept 1xx answers it did
    not expect). ``101 Switching Protocols`` is left to `ConnectionPool.send`'s check.
    """

    def _read_status(self) -> tuple[str, int, str]:
        # the one hook http.client offers: begin() calls it for each status line
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not 100 < status < 200 or status == 101:
                return version, status, reason
            for _ in range(_MAX_HEADERS + 1):  # skip its header lines
                line = self.fp.readline(_MAX_LINE + 1)
                if len(line) > _MAX_LINE:
                    raise http.client.LineTooLong("header line")
                if line in (b"\r\n", b"\n", b""):
                    break
            else:
                raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


class ConnectionPool:
    """Reused connections, per origin and certificate setting, for lean exchanges.

    Parameters
    ----------
    maxsize : int
        Idle connections kept per origin (more may be open at once; the extra ones
        are closed after their exchange).
    track : callable, optional
        Called with each connection before it sends, e.g. to cut it at a deadline.

    Examples
    --------
    >>> pool = ConnectionPool(maxsize=4)
    >>> pool.idle()
    0
    >>> pool.close()
    """

    def __init__(
        self,
        maxsize: int = 10,
        track: Callable[[http.client.HTTPConnection], None] | None = None,
    ):
        self.maxsize = max(1, maxsize)
        self._track = track
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._contexts: dict[Verify, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        # idle sockets are closed when a forgotten pool is collected, as urllib3 does
        weakref.finalize(self, _close_idle, self._idle, self._lock)

    def idle(self) -> int:
        """How many connections wait for reuse."""
        with self._lock:
            return sum(len(kept) for kept in self._idle.values())

    def _take(self, key: _Key, connect: float | None) -> http.client.HTTPConnection:
        while True:
            with self._lock:
                kept = self._idle.get(key)
                connection = kept.pop() if kept else None
            if connection is None:
                break
            if not _dropped(connection.sock):
                return connection
            connection.close()
        scheme, host, port, verify = key
        if scheme == "https":
            with self._lock:
                context = self._contexts.get(verify)
                if context is None:
                    context = self._contexts[verify] = _tls(verify)
            fresh: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=connect, context=context
            )
        else:
            fresh = http.client.HTTPConnection(host, port, timeout=connect)
        fresh.response_class = _Answer
        return fresh

    def _give_back(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            kept = self._idle.setdefault(key, [])
            if len(kept) < self.maxsize:
                kept.append(connection)
                return
        connection.close()

    def send(
        self, request: requests.PreparedRequest, timeout: Timeout, verify: Verify
    ) -> requests.Response:
        """One exchange; the answer's body is read and decoded before returning.

        Raises
        ------
        requests.ConnectionError, requests.Timeout, requests.exceptions.ContentDecodingError
            As requests would for the same failure.
        """
        url = request.url or ""
        scheme, host, port, target = route(url)
        key = (scheme, host, port, verify if scheme == "https" else True)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        body = request.body
        if not isinstance(body, bytes | str | None):
            raise TypeError("a lean exchange sends bytes or str bodies only, not a stream")
        connection = self._take(key, connect)
        if self._track is not None:
            self._track(connection)
        try:
            if connection.sock is None:
                connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(read)
            connection.request(
                request.method or "GET",
                target,
                body=body.encode() if isinstance(body, str) else body,
                headers=dict(request.headers),
            )
            answer = connection.getresponse()
            if answer.status < 200:  # 101: what follows is not HTTP
                raise http.client.HTTPException(f"unexpected informational answer {answer.status}")
            data = _read_bounded(answer)
        except AnswerTooLarge:
            connection.close()
            raise
        except TimeoutError as err:
            late = connection.sock is not None  # connected: the answer was late
            connection.close()
            kind = requests.exceptions.ReadTimeout if late else requests.exceptions.ConnectTimeout
            raise kind(f"{url}: {err}", request=request) from err
        except (OSError, http.client.HTTPException) as err:
            connection.close()
            raise requests.ConnectionError(f"{url}: {err!r}", request=request) from err
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        for name, value in answer.getheaders():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if answer.will_close:
            connection.close()
        else:
            self._give_back(key, connection)
        decode = _decoder(headers.get("Content-Encoding", ""))
        if decode is not None and data:
            try:
                data = decode(data)
            except AnswerTooLarge:
                raise
            except zlib.error as err:
                raise requests.exceptions.ContentDecodingError(
                    f"{url}: the answer's {headers['Content-Encoding']} body is damaged ({err})",
                    request=request,
                ) from err
        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        response.headers = headers
        response.encoding = get_encoding_from_headers(headers)
        response._content = data
        response._content_consumed = True
        response.url = url
        response.request = request
        return response

    def close(self) -> None:
        """Close every idle connection."""
        _close_idle(self._idle, self._lock)


def _close_idle(idle: dict[_Key, list[http.client.HTTPConnection]], lock: threading.Lock) -> None:
    with lock:
        kept = [connection for connections in idle.values() for connection in connections]
        idle.clear()
    for connection in kept:
        connection.close()
