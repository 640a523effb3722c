"""The HTTP path under the client: URL checks, one `Transport` seam, and its default.

A `Transport` sends one `Request` and returns one `Answer` (status, headers, the whole
decoded body). `HTTPTransport`, the default, sends on urllib3's public API: a
``PoolManager`` (or a ``ProxyManager`` for a proxy from ``HTTP(S)_PROXY``/``NO_PROXY``)
with keep-alive pools, certificates checked against certifi's bundle or a custom one, an
optional client certificate, no retries and no redirects (the session decides both).
Every request, direct or through a proxy, obeys the same limits: the socket timeout,
the whole-request deadline (`byocframe.client.connections.Watch`) and the answer size
(`byocframe.client.connections.MAX_ANSWER_BYTES`). `byocframe.testing.MockTransport` answers
from a script instead, for tests without sockets. See ``docs/design/http.md``.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import certifi
import urllib3

from byocframe.client.connections import POOL_CLASSES, check_values, decode_body, read_body
from byocframe.exceptions import AnswerTooLarge, TransportError, ValidationError

__all__ = [
    "Answer",
    "HTTPTransport",
    "Request",
    "Transport",
    "check_url",
    "is_loopback",
    "origin",
]

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


@dataclass(frozen=True)
class Request:
    """One HTTP request, as the session hands it to a `Transport`.

    Attributes
    ----------
    method : str
        Upper case: ``"GET"``, ``"PUT"``, ...
    url : str
        Absolute, with its query.
    headers : Mapping[str, str]
        Every header to send (the transport adds only ``Host`` and ``Content-Length``).
    body : bytes or None
        The encoded body.

    Examples
    --------
    >>> Request("GET", "http://127.0.0.1:8000/api/v1/byoc/collections").body is None
    True
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def __repr__(self) -> str:
        # the headers carry the bearer token and the token request's body the secret:
        # a repr shows their names and size only (transports log requests, tracebacks
        # print locals)
        size = "no body" if self.body is None else f"{len(self.body)} bytes"
        return f"Request({self.method!r}, {self.url!r}, headers={sorted(self.headers)}, {size})"


class Answer:
    """One HTTP answer, read whole: status, headers and the decoded body.

    Parameters
    ----------
    status : int
    body : bytes, default b""
        Already decoded from its ``Content-Encoding``.
    headers : Mapping[str, str], optional
        Looked up without regard to case.
    url : str, optional
        The URL the request went to (shown in errors).
    reason : str, optional
        The status line's reason phrase.

    Examples
    --------
    >>> answer = Answer(200, b'{"data": []}', {"content-type": "application/json"})
    >>> answer.headers["Content-Type"], answer.json()
    ('application/json', {'data': []})
    """

    __slots__ = ("body", "headers", "reason", "status", "url")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        url: str = "",
        reason: str = "",
    ):
        self.status = status
        self.body = body
        self.headers = urllib3.HTTPHeaderDict(headers or {})
        self.url = url
        self.reason = reason

    def __repr__(self) -> str:
        return f"Answer({self.status}, {len(self.body)} bytes, url={self.url!r})"

    def json(self) -> Any:
        """The body read as JSON (``ValueError`` when it is not JSON).

        `~byocframe.AnswerTooLarge` when it may hold more than
        ``byocframe.client.connections.MAX_ANSWER_VALUES`` values (not parsed).
        """
        check_values(self.body)
        return json.loads(self.body)


class Transport(Protocol):
    """What the session sends with: one request in, one whole answer out.

    ``send`` raises `~byocframe.TransportError` when there is no usable answer (cannot
    connect, timeout, a broken or oversized body); any status, 4xx and 5xx included, is
    an `Answer`. It must not retry or follow redirects: the session does the one and
    refuses the other. `HTTPTransport` is the default; `byocframe.testing.MockTransport`
    answers without sockets.
    """

    def send(self, request: Request, *, timeout: float) -> Answer:
        """Send ``request``; ``timeout`` bounds each socket operation, in seconds."""
        ...

    def close(self) -> None:
        """Close pooled connections; ``send`` may open new ones afterwards."""
        ...


def _shown(url: str) -> str:
    """``scheme://host:port`` of a URL: what an error may show of it (no credentials)."""
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def _failure(
    err: Exception, url: str, timeout: float, proxy: str | None, pool_size: int
) -> TransportError:
    """A one-line `TransportError` for an exchange that failed."""
    where = _shown(url)
    exceptions = urllib3.exceptions
    if isinstance(err, exceptions.EmptyPoolError):
        message = (
            f"all {pool_size} connections to {where} (pool_size) stayed busy for "
            f"timeout={timeout:g} s; raise pool_size, or send from fewer threads"
        )
    elif isinstance(err, exceptions.ProxyError) and proxy is not None:
        message = (
            f"cannot connect through the proxy {_shown(proxy)} ({err.original_error}); "
            "check HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
        )
    elif isinstance(err, exceptions.NameResolutionError):
        message = f"cannot find the host of {where}: check the URL"
    elif isinstance(err, exceptions.NewConnectionError):
        message = f"cannot connect to {where}: is it running?"
    elif isinstance(err, exceptions.ConnectTimeoutError):
        message = f"cannot connect to {where} within timeout={timeout:g} s: is it reachable?"
    elif isinstance(err, exceptions.ReadTimeoutError | TimeoutError):
        message = f"no answer within timeout={timeout:g} s (one socket read); raise timeout"
    else:
        text = " ".join(str(err).split())[:300]
        message = f"no usable answer ({type(err).__name__}: {text})"
    return TransportError(message)


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names the host, as requests and curl read it.

    An entry is a domain (and its subdomains), an address or a network, optionally
    with a port; ``*`` is every host.

    Examples
    --------
    >>> _bypassed("sh.dataspace.copernicus.eu", 443, "localhost, .copernicus.eu")
    True
    >>> _bypassed("127.0.0.1", 8000, "10.0.0.0/8,127.0.0.0/8:9000")
    False
    """
    for entry in no_proxy.replace(" ", ",").lower().split(","):
        if not entry:
            continue
        if entry == "*":
            return True
        name, want = entry, None
        head, sep, tail = entry.rpartition(":")
        if sep and tail.isdigit() and (head.count(":") == 0 or head.endswith("]")):
            name, want = head, int(tail)
        if want is not None and want != port:
            continue
        name = name.strip("[]")
        if "/" in name:
            try:
                if ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(name, False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False


def _proxy_setting(proxy: str) -> tuple[str, dict[str, str]]:
    """A proxy setting as ``scheme://host:port`` and the headers that carry its credentials.

    Read as requests and curl read it: no scheme means ``http://``, and
    ``user:password@`` (percent-encoded) becomes ``Proxy-Authorization: Basic ...``, which
    urllib3 does not derive from the URL itself.

    Raises
    ------
    ValidationError
        A setting that is not an http(s) proxy URL; the message never shows credentials.

    Examples
    --------
    >>> _proxy_setting("me:s%40cret@proxy.example:3128")
    ('http://proxy.example:3128', {'proxy-authorization': 'Basic bWU6c0BjcmV0'})
    >>> _proxy_setting("https://[::1]")[0]
    'https://[::1]:443'
    """
    text = proxy.strip()
    if "://" not in text:
        text = "http://" + text
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    where = rest.rpartition("@")[2].split("/", 1)[0]  # what an error may show of it
    fix = "set HTTPS_PROXY / HTTP_PROXY / ALL_PROXY to http(s)://[user:password@]host:port"
    if scheme not in ("http", "https"):
        raise ValidationError(
            f"the proxy {scheme}://{where} is not an http(s) proxy, the only kind byocframe "
            f"uses; {fix}"
        )
    try:
        parts = urllib.parse.urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or _UNSAFE.search(host):
        raise ValidationError(f"the proxy {scheme}://{where} is not a valid URL; {fix}")
    shown = f"[{host}]" if ":" in host else host
    headers: dict[str, str] = {}
    if parts.username is not None or parts.password is not None:
        user = urllib.parse.unquote(parts.username or "")
        secret = urllib.parse.unquote(parts.password or "")
        pair = base64.b64encode(f"{user}:{secret}".encode()).decode()  # RFC 7617, UTF-8
        headers = {"proxy-authorization": f"Basic {pair}"}
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{shown}:{port or default}", headers


_FAILED = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)


class HTTPTransport:
    """The default `Transport`: urllib3 pools, proxies from the environment, TLS checked.

    Parameters
    ----------
    pool_size : int, default 10
        Most connections open at once per origin, kept alive between requests. A
        request finding them all busy waits for one, up to its ``timeout``; then a
        `~byocframe.TransportError` says to raise ``pool_size``.
    ca_bundle : str, optional
        A CA bundle file or directory to check server certificates against. Default:
        ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` when set (as requests reads them),
        else certifi's bundle.
    client_cert : str or (str, str), optional
        A client certificate for TLS: one PEM file with the key, or (certificate, key).
    proxies : Mapping[str, str], optional
        ``{"https": "http://proxy:3128", "no": "localhost"}`` as `urllib.request.getproxies`
        gives them. Default: read from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``,
        ``ALL_PROXY``, ``NO_PROXY``) once per origin.

    Examples
    --------
    >>> transport = HTTPTransport(pool_size=4)
    >>> transport.proxy_for("http://127.0.0.1:8000/api") is None or "a proxy is set"
    True
    >>> transport.close()
    """

    def __init__(
        self,
        *,
        pool_size: int = 10,
        ca_bundle: str | None = None,
        client_cert: str | tuple[str, str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ):
        if not isinstance(pool_size, int) or pool_size < 1:
            raise ValueError(f"pool_size must be a positive int, got {pool_size!r}")
        self.pool_size = pool_size
        self.ca_bundle = ca_bundle
        self.client_cert = client_cert
        self._proxies = None if proxies is None else {k.lower(): v for k, v in proxies.items()}
        self._routes: dict[tuple[str, str, int], str | None] = {}
        self._managers: dict[str | None, urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HTTPTransport(pool_size={self.pool_size})"

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to ``url`` goes through, or None (straight to its host).

        Per origin: ``NO_PROXY`` may name the base URL's host and not the token URL's.
        """
        key = origin(url)
        if key in self._routes:
            return self._routes[key]
        proxies = urllib.request.getproxies() if self._proxies is None else self._proxies
        scheme, host, port = key
        chosen = proxies.get(scheme) or proxies.get("all")
        if chosen and _bypassed(host, port, proxies.get("no", "")):
            chosen = None
        self._routes[key] = chosen or None
        return chosen or None

    def _tls_options(self) -> dict[str, Any]:
        given = [("ca_bundle", self.ca_bundle)]
        given += [(name, os.environ.get(name)) for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")]
        source, where = next(((s, w) for s, w in given if w), ("certifi", certifi.where()))
        if not os.path.exists(where):  # else an SSLError "[Errno 2]" naming no file
            raise ValidationError(
                f"the CA bundle {source}={where!r} does not exist; give an existing file "
                "or directory of CA certificates, or unset it to use certifi's"
            )
        options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
        options["ca_cert_dir" if os.path.isdir(where) else "ca_certs"] = where
        if isinstance(self.client_cert, tuple):
            options["cert_file"], options["key_file"] = self.client_cert
        elif self.client_cert is not None:
            options["cert_file"] = self.client_cert
        return options

    def _manager(self, proxy: str | None) -> urllib3.PoolManager:
        with self._lock:
            manager = self._managers.get(proxy)
            if manager is None:
                # block: at most pool_size connections per origin, a request waits for
                # one (up to its timeout) instead of opening more than the service allows
                options = {
                    "num_pools": 16,
                    "maxsize": self.pool_size,
                    "block": True,
                    **self._tls_options(),
                }
                if proxy is None:
                    manager = urllib3.PoolManager(**options)
                else:
                    url, headers = _proxy_setting(proxy)
                    manager = urllib3.proxy_from_url(url, proxy_headers=headers, **options)
                # the documented way to choose a manager's pools: ours obey the deadline
                manager.pool_classes_by_scheme = POOL_CLASSES
                self._managers[proxy] = manager
            return manager

    def send(self, request: Request, *, timeout: float) -> Answer:
        """Send ``request`` and read its whole answer; see `Transport`.

        Raises
        ------
        TransportError
            No usable answer: cannot connect, a timeout, a broken, undecodable or
            unexpected answer; `AnswerTooLarge` past
            ``byocframe.client.connections.MAX_ANSWER_BYTES``.
        ValidationError
            The proxy setting for ``request.url`` is not an http(s) proxy URL, or the CA
            bundle does not exist (nothing was sent).
        """
        proxy = self.proxy_for(request.url)
        manager = self._manager(proxy)
        try:
            response = manager.urlopen(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                retries=False,  # the session retries what is safe to retry
                redirect=False,  # and never follows a redirect (the token could go along)
                preload_content=False,  # read here, within the size limit
                decode_content=False,  # decoded here, within the size limit
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                pool_timeout=timeout,  # waiting for a free connection is bounded too
            )
        except _FAILED as err:
            raise _failure(err, request.url, timeout, proxy, self.pool_size) from err
        try:
            if response.status < 200:  # 101: what follows is not HTTP
                raise http.client.HTTPException(
                    f"unexpected informational answer {response.status}"
                )
            data = read_body(response)
        except AnswerTooLarge:
            response.close()  # the rest of the body stays unread: drop the connection
            raise
        except _FAILED as err:
            response.close()
            raise _failure(err, request.url, timeout, proxy, self.pool_size) from err
        finally:
            response.release_conn()
        try:
            body = decode_body(data, response.headers.get("Content-Encoding", ""))
        except ValueError as err:
            raise TransportError(f"no usable answer ({err})") from err
        return Answer(
            response.status, body, response.headers, url=request.url, reason=response.reason or ""
        )

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            managers = list(self._managers.values())
            self._managers.clear()
        for manager in managers:
            manager.clear()
