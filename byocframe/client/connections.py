"""What the client adds to urllib3: a request deadline, 1xx skipped, bounded bodies.

urllib3 bounds each socket operation, not an exchange: a peer that sends one byte every
half second never trips a timeout of one second. `Watch` is a deadline for everything one
request does on its connections (connect, send, headers, body); one watchdog thread shuts
their sockets down when it passes. The connection classes here register with the current
`Watch` when they send, through urllib3's documented ``ConnectionCls`` of a pool.

http.client (under urllib3) skips only ``100 Continue``: it takes a ``103 Early Hints`` for
the answer and leaves the real one on the connection, where the next request would read it
as its own (RFC 9110 15.2: a client must accept 1xx answers it did not expect). The
connections here read their answers through a reader that passes over them.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import itertools
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from byocframe.exceptions import AnswerTooLarge

__all__ = [
    "ACCEPT_ENCODING",
    "MAX_ANSWER_BYTES",
    "MAX_ANSWER_VALUES",
    "MAX_INFORMATIONAL",
    "POOL_CLASSES",
    "Watch",
    "check_values",
    "decode_body",
    "read_body",
]

#: What the client accepts: the encodings `decode_body` decodes.
ACCEPT_ENCODING = "gzip, deflate"

#: Largest answer body read, on the wire and once decoded (64 MiB: a listing page of 100
#: tiles is about 100 KB). A larger one is an `AnswerTooLarge`, found before it is held
#: in memory; raise it with ``byocframe.client.connections.MAX_ANSWER_BYTES = ...``.
MAX_ANSWER_BYTES = 64 * 2**20

#: Most JSON values (array elements, object members, containers) one answer may hold
#: before it is parsed. Python takes 60-70 bytes for an empty object or a two-letter
#: text: a 64 MiB answer of 22 million ``{}`` took 1.5 GB and 4 s to parse; within this
#: bound, at most about 300 MB. A page of 100 tiles whose covers have the most vertices
#: `byocframe.geo.geojson.MAX_VERTICES` lets through holds about 3 million values. Raise
#: it with ``byocframe.client.connections.MAX_ANSWER_VALUES = ...``.
MAX_ANSWER_VALUES = 4_000_000

#: Most informational (1xx) answers passed over before the final one; more is an error
#: (raise it with ``byocframe.client.connections.MAX_INFORMATIONAL = ...``).
MAX_INFORMATIONAL = 16

#: Most header lines of one informational answer, and the longest line (http.client's).
_MAX_HEADERS = 100
_MAX_LINE = 65536


# ---------------------------------------------------------------------- the deadline
class Watch:
    """The connections one request uses; the watchdog cuts them at its deadline.

    Examples
    --------
    >>> with Watch.deadline(5.0) as watch:
    ...     pass
    >>> watch.expired, watch.done
    (False, True)
    """

    _local = threading.local()

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def deadline(cls, seconds: float) -> Iterator[Watch]:
        """Watch every connection this thread sends on inside the block."""
        watch = cls(seconds)
        previous = getattr(cls._local, "watch", None)
        cls._local.watch = watch
        _WATCHDOG.add(time.monotonic() + seconds, watch)
        try:
            yield watch
        finally:
            with watch._lock:
                watch.done = True
            _WATCHDOG.finished()
            cls._local.watch = previous

    @classmethod
    def track(cls, connection: Any) -> None:
        """Register a connection with the current thread's watch, if any.

        The connection's ``watch`` becomes that watch (or None): another request's
        watch no longer cuts it.

        Raises
        ------
        TimeoutError
            The watch's deadline has passed already (e.g. while the request waited for
            a free connection, or while it connected): nothing more is sent, since the
            watchdog, which cut the sockets it knew, will not come back for this one.
        """
        watch = getattr(cls._local, "watch", None)
        connection.watch = watch
        if watch is not None:
            with watch._lock:
                if watch.expired:
                    raise TimeoutError(f"the request's deadline of {watch.seconds:g} s passed")
                if connection not in watch._connections:
                    watch._connections.append(connection)

    def expire(self) -> None:
        """Shut down the watched sockets, unless the request has finished."""
        with self._lock:
            if self.done:  # the request finished while its deadline passed
                return
            self.expired = True
            for connection in self._connections:
                if connection.watch is not self:  # back in the pool, another request's now
                    continue
                sock = connection.sock
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One thread for every deadline of the process (a thread per request costs more)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._finished = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, when: float, watch: Watch) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(
                    target=self._run, name="byocframe-deadlines", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:  # wake the watchdog only for a sooner deadline
                self._cond.notify()

    def finished(self) -> None:
        with self._cond:
            self._finished += 1
            if self._finished > 1000 and self._finished > len(self._heap) // 2:
                self._heap = [entry for entry in self._heap if not entry[2].done]
                heapq.heapify(self._heap)
                self._finished = 0

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].done:
                        heapq.heappop(self._heap)
                    delay = self._heap[0][0] - time.monotonic() if self._heap else None
                    if delay is not None and delay <= 0:
                        watch = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(delay)
            watch.expire()


_WATCHDOG = _Watchdog()


# ---------------------------------------------------------------------- 1xx answers
def _informational(line: bytes) -> bool:
    """Whether a status line is a 1xx answer to pass over (not ``101``: see below)."""
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or len(parts[1]) != 3:
        return False
    # 101 Switching Protocols is left to the transport, which refuses it: what follows
    # it is not HTTP, so the connection must not be read on
    return parts[1].isdigit() and parts[1].startswith(b"1") and parts[1] != b"101"


class _SkipInformational:
    """A reader of one answer that passes over the 1xx answers in front of it."""

    def __init__(self, reader: Any):
        self.reader = reader
        self.started = False

    def readline(self, limit: int = -1) -> bytes:
        if self.started:
            return bytes(self.reader.readline(limit))
        self.started = True  # the first line read is a status line
        for _ in range(MAX_INFORMATIONAL + 1):
            line = bytes(self.reader.readline(limit))
            if not _informational(line):
                return line
            for _ in range(_MAX_HEADERS + 1):  # its header lines
                header = self.reader.readline(_MAX_LINE + 1)
                if len(header) > _MAX_LINE:
                    raise http.client.LineTooLong("header line")
                if header in (b"\r\n", b"\n", b""):
                    break
            else:
                raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
        raise http.client.HTTPException(
            f"more than {MAX_INFORMATIONAL} informational answers "
            "(byocframe.client.connections.MAX_INFORMATIONAL)"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.reader, name)


class _Response(http.client.HTTPResponse):
    """http.client's answer, read through `_SkipInformational`.

    ``response_class`` and the ``fp`` it reads from are the public parts of http.client
    for this.
    """

    def __init__(self, sock: Any, *args: Any, **kwargs: Any):
        super().__init__(sock, *args, **kwargs)
        # a reader with the buffered reader's methods, which are all http.client calls
        self.fp = _SkipInformational(self.fp)  # type: ignore[assignment]


class _Watched:
    """What both connection classes add: `Watch` tracking (and each, `_Response`).

    ``watch`` is the watch of the request now using the connection (None: a request
    without one): a pooled connection outlives the request that opened it, and only its
    current request's deadline may cut it.
    """

    watch: Watch | None = None

    def connect(self) -> None:
        # tracked before connecting: the watchdog can cut a slow TLS handshake or proxy
        # tunnel (self.sock is the TCP socket during both); checked after, since a
        # deadline that passed while the TCP connect ran found no socket to cut
        Watch.track(self)
        super().connect()  # type: ignore[misc]
        Watch.track(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        Watch.track(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    response_class = _Response


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    response_class = _Response


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


#: Pools whose connections obey `Watch` and skip 1xx answers, for a ``PoolManager``'s
#: ``pool_classes_by_scheme``.
POOL_CLASSES: dict[str, type[HTTPConnectionPool]] = {"http": _HTTPPool, "https": _HTTPSPool}


# ---------------------------------------------------------------------- bodies
def _too_large(what: str) -> AnswerTooLarge:
    return AnswerTooLarge(
        f"the answer {what} more than {MAX_ANSWER_BYTES:,} bytes "
        "(byocframe.client.connections.MAX_ANSWER_BYTES); raise it if the service is trusted"
    )


def read_body(response: urllib3.BaseHTTPResponse) -> bytes:
    """The body of an answer opened with ``preload_content=False``, still encoded.

    Refused past `MAX_ANSWER_BYTES`, declared (``Content-Length``) or as it comes.

    Raises
    ------
    AnswerTooLarge
        The body is over the limit.
    urllib3.exceptions.HTTPError
        The connection failed or closed before the declared end.
    """
    declared = (response.headers.get("Content-Length") or "").strip().lstrip("0")
    # the length of the text first: int() refuses more than 4,300 digits
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > len(str(MAX_ANSWER_BYTES)) or int(declared) > MAX_ANSWER_BYTES)
    ):
        raise _too_large("declares")
    chunks: list[bytes] = []
    total = 0
    while chunk := response.read(1 << 16, decode_content=False):
        total += len(chunk)
        if total > MAX_ANSWER_BYTES:
            raise _too_large("sends")
        chunks.append(chunk)
    return b"".join(chunks)


def check_values(body: bytes) -> None:
    """Refuse a JSON body that may hold more than `MAX_ANSWER_VALUES` values, unparsed.

    Counts its commas, ``[`` and ``{`` (each value but the first of a container
    follows a comma): an upper bound, since those inside texts count too. Every value
    takes at least two bytes, so a body shorter than twice the limit is not counted.

    Raises
    ------
    AnswerTooLarge
        Over the limit.

    Examples
    --------
    >>> check_values(b'{"data": [{"id": "a"}, {"id": "b"}]}')
    """
    limit = MAX_ANSWER_VALUES
    if len(body) < 2 * limit:
        return
    count = body.count(b",")
    if count <= limit:
        count += body.count(b"[")
    if count <= limit:
        count += body.count(b"{")
    if count > limit:
        raise AnswerTooLarge(
            f"the answer may hold more than {limit:,} JSON values "
            "(byocframe.client.connections.MAX_ANSWER_VALUES); not parsed: raise it if the "
            "service is trusted"
        )


def _decompressor(encoding: str) -> Callable[[], Any] | None:
    if encoding == "gzip":
        return lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj
    return None


def _whole(new: Callable[[], Any], data: bytes, members: bool) -> bytes:
    """Decompress ``data``, which must hold whole streams (a cut one is an error).

    With ``members`` (gzip), one stream may follow another (RFC 1952 2.2); otherwise, as
    after the last gzip member, nothing may follow the stream. Fed 64 KiB at a time, so
    that many tiny members cost no more than one large one.
    """
    out: list[bytes] = []
    total = pos = 0
    view = memoryview(data)
    decompressor = new()
    while True:
        if decompressor.eof:
            leftover = decompressor.unused_data
            if not leftover and pos == len(data):
                return b"".join(out)
            if not members:
                raise zlib.error("bytes follow the compressed stream")
            decompressor, chunk = new(), leftover
        elif pos < len(data):
            chunk = view[pos : pos + (1 << 16)]
            pos += len(chunk)
        else:
            raise zlib.error("the compressed body ends before its stream does")
        part = decompressor.decompress(chunk, MAX_ANSWER_BYTES + 1 - total)
        total += len(part)
        if total > MAX_ANSWER_BYTES or decompressor.unconsumed_tail:
            raise _too_large("decodes to")
        out.append(part)


def decode_body(data: bytes, encoding: str) -> bytes:
    """``data`` decoded from its ``Content-Encoding`` (gzip, deflate or none).

    Bounded by `MAX_ANSWER_BYTES` once decoded; a stream cut short is an error.

    Raises
    ------
    AnswerTooLarge
        It decodes to more than the limit.
    ValueError
        An encoding not asked for (`ACCEPT_ENCODING`), or a damaged body.

    Examples
    --------
    >>> import gzip
    >>> decode_body(gzip.compress(b'{"data": []}'), "gzip")
    b'{"data": []}'
    >>> decode_body(b"plain", "identity")
    b'plain'
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity") or not data:
        return data
    new = _decompressor(encoding)
    if new is None:
        raise ValueError(f"the answer is encoded as {encoding!r}, which was not asked for")
    try:
        try:
            return _whole(new, data, members=encoding == "gzip")
        except zlib.error:
            if encoding != "deflate":
                raise
            # some servers send deflate without its zlib header
            return _whole(lambda: zlib.decompressobj(-zlib.MAX_WBITS), data, members=False)
    except zlib.error as err:
        raise ValueError(f"the answer's {encoding} body is damaged ({err})") from err
