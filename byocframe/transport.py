"""HTTP plumbing under the client: URL checks and a whole-request deadline.

requests' ``timeout`` bounds each socket operation, not the exchange: a server that
sends one byte every half second never trips ``timeout=1``. `HTTPTransport` adds a
watchdog that shuts the connection's socket down when the whole exchange (connect,
send, headers, body) outlives its deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import http.client
import ipaddress
import itertools
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from byocframe.connections import ACCEPT_ENCODING, ConnectionPool, Timeout, route

__all__ = ["HTTPTransport", "Sender", "Watch", "check_url", "is_loopback", "origin"]

# spaces, control characters, backslashes and userinfo are where URL parsers disagree
# (``http://a\@b/`` is host b for urllib, host a for urllib3)
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\@]")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("192.0.2.2")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a URL: where a request really goes.

    Examples
    --------
    >>> origin("https://services.sentinel-hub.com/api/v1/byoc")
    ('https', 'services.sentinel-hub.com', 443)
    """
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def check_url(url: str, what: str) -> str:
    """Return ``url`` without a trailing slash if it is safe to send credentials to.

    It must be a plain ``http(s)://host[:port][/path]`` that every URL parser reads
    the same way, and plain ``http`` only for this machine.

    Raises
    ------
    ValueError
        Naming ``what`` and what is wrong.

    Examples
    --------
    >>> check_url("https://sh.dataspace.copernicus.eu/", "base_url")
    'https://sh.dataspace.copernicus.eu'
    >>> check_url("http://192.0.2.2:80@127.0.0.1:80", "base_url")
    Traceback (most recent call last):
    ...
    ValueError: base_url 'http://192.0.2.2:80@127.0.0.1:80' holds a space, control ...
    """
    if not isinstance(url, str):
        raise TypeError(f"{what} must be a str, got {type(url).__name__}")
    if _UNSAFE.search(url) or not url.isascii():
        raise ValueError(
            f"{what} {url!r} holds a space, control character, backslash or '@'; "
            "give scheme://host[:port][/path]"
        )
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
        theirs = urllib3.util.parse_url(url)  # the parser requests connects with
    except (ValueError, urllib3.exceptions.LocationParseError) as err:
        raise ValueError(f"{what} {url!r} is not a valid URL ({err})") from err
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} {url!r} must not have a query or fragment")
    ours = (parts.scheme, parts.hostname.lower(), port)
    if (theirs.scheme, (theirs.host or "").strip("[]").lower(), theirs.port) != ours:
        raise ValueError(f"{what} {url!r} is read differently by different URL parsers")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{what} {url!r} uses plain http; that is only allowed for this machine "
            "(127.0.0.1, ::1, localhost). Use https."
        )
    return url.rstrip("/")


class Watch:
    """The connections one request uses; the watchdog cuts them at its deadline."""

    _local = threading.local()

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._connections: list[HTTPConnection | http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @classmethod
    @contextlib.contextmanager
    def deadline(cls, seconds: float) -> Iterator[Watch]:
        """Watch every connection this thread uses inside the block."""
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
    def track(cls, connection: HTTPConnection | http.client.HTTPConnection) -> None:
        """Register a connection with the current thread's watch, if any."""
        watch = getattr(cls._local, "watch", None)
        if watch is not None:
            with watch._lock:
                watch._connections.append(connection)

    def expire(self) -> None:
        """Shut down the watched sockets, unless the request has finished."""
        with self._lock:
            if self.done:  # the request finished while its deadline passed
                return
            self.expired = True
            for connection in self._connections:
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


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        Watch.track(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        Watch.track(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class HTTPTransport(HTTPAdapter):
    """A requests adapter whose connections obey a `Watch` deadline.

    Requests that go straight to their host (no proxy, no client certificate) are sent
    by a lean `~byocframe.connections.ConnectionPool` on ``http.client``; the rest by
    requests' own adapter. Subclass it and override ``send`` to reroute requests in
    tests (the client's ``transport`` parameter).
    """

    def __init__(self, pool_connections: int = 10, pool_maxsize: int = 10, **kwargs: Any):
        super().__init__(pool_connections=pool_connections, pool_maxsize=pool_maxsize, **kwargs)
        self.lean = ConnectionPool(maxsize=pool_maxsize, track=Watch.track)

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request``; see `requests.adapters.HTTPAdapter.send`."""
        if (
            stream
            or cert
            or not isinstance(request.body, bytes | str | None)  # a file or an iterator
            or (proxies and requests.utils.select_proxy(request.url or "", proxies))
        ):
            return super().send(
                request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies
            )
        return self.lean.send(request, timeout, verify)

    def close(self) -> None:
        """Close every pooled connection."""
        self.lean.close()
        super().close()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:  # noqa: D102
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:  # noqa: D102
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def _prepare(
    method: str, url: str, headers: dict[str, str], body: dict[str, Any]
) -> requests.PreparedRequest:
    """The request as requests would prepare it.

    Built directly for a plain URL and a JSON body or none (requests' ``prepare``
    re-parses and re-quotes the URL, which costs a third of a loopback exchange); by
    requests for anything else.
    """
    if set(body) - {"json"} or _UNSAFE.search(url) or not url.isascii():
        return requests.Request(method, url, headers=headers, **body).prepare()
    prepared = requests.PreparedRequest()
    prepared.method = method.upper()
    prepared.url = url
    prepared.hooks = {"response": []}
    prepared.headers = CaseInsensitiveDict(headers)
    document = body.get("json")
    if document is not None:
        try:
            data = json.dumps(document, allow_nan=False, separators=(",", ":")).encode()
        except ValueError as err:  # as requests words it: NaN and inf are not JSON
            raise requests.exceptions.InvalidJSONError(err, request=prepared) from err
        prepared.body = data
        prepared.headers.setdefault("Content-Type", "application/json")
        prepared.headers["Content-Length"] = str(len(data))
    elif prepared.method not in ("GET", "HEAD"):
        prepared.headers["Content-Length"] = "0"
    return prepared


class Sender:
    """Sends one request through a transport, without a ``requests.Session``.

    A session merges settings, hooks and cookies on every call, which costs about twice
    the exchange itself on loopback; the client needs none of it. Proxy and CA settings
    are read from the environment once per origin (the token URL may be on another
    host). Cookies are neither kept nor sent, and redirects are never followed.

    Examples
    --------
    >>> sender = Sender(HTTPTransport())
    >>> sender.headers["User-Agent"]
    'byocframe'
    >>> sender.close()
    """

    def __init__(self, transport: HTTPTransport):
        self.transport = transport
        self.headers = {
            **requests.utils.default_headers(),
            "User-Agent": "byocframe",
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._settings: dict[tuple[str, str, int], tuple[dict[str, str], bool | str]] = {}

    def _environment(self, url: str) -> tuple[dict[str, str], bool | str]:
        """Proxies and CA settings for ``url``'s origin, read from the environment once.

        Per origin: ``NO_PROXY`` may name the base URL's host and not the token URL's.
        """
        key = route(url)[:3]
        found = self._settings.get(key)
        if found is None:
            environment = requests.Session()
            try:
                settings = environment.merge_environment_settings(url, {}, None, None, None)
            finally:
                environment.close()
            found = (settings.get("proxies") or {}, settings.get("verify", True))
            self._settings[key] = found
        return found

    def send(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        **body: Any,
    ) -> requests.Response:
        """One exchange; ``body`` takes ``params``, ``json`` or ``data`` as in requests.

        The answer's body is read before returning, so a `Watch` around the call covers
        it.
        """
        params = body.pop("params", None)
        if params:  # encoded here: requests' own encoder costs a runtime Protocol check
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        prepared = _prepare(method, url, {**self.headers, **(headers or {})}, body)
        proxies, verify = self._environment(url)
        response = self.transport.send(
            prepared, timeout=timeout, proxies=proxies, verify=verify, stream=False
        )
        response.content  # noqa: B018 - read the body inside the caller's deadline
        return response

    def close(self) -> None:
        """Close the transport's pooled connections."""
        self.transport.close()
