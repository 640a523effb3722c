"""A small, careful HTTP client for the Sentinel Hub BYOC API.

One pooled `requests.Session`; a timeout on every socket operation and a deadline on
every whole exchange; an OAuth2 token fetched once and refreshed before it expires;
429 honoured through ``Retry-After`` (milliseconds) for every thread at once, up to a
cap; an optional steady pace; 5xx and dropped connections retried with backoff and
jitter for idempotent requests only. Tokens go only to the base URL's origin, ids are
checked before they reach a URL, and every failure a server can cause is a
`~byocframe.ByocframeError` naming the URL. Secrets and tokens never appear in a
repr, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import math
import os
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import requests
import urllib3

from byocframe.config import Settings, resolve_settings
from byocframe.deployments import (
    SENTINEL_HUB_TOKEN_URL,
    Deployment,
    default_token_url,
    find_deployment,
    get_deployment,
)
from byocframe.exceptions import (
    APIError,
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    TransportError,
    ValidationError,
    error_for_status,
)
from byocframe.pacing import Clock, Pacer, Sleep, Throttle
from byocframe.transport import HTTPTransport, Watch, check_url, is_loopback, origin

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_BASE_URL",
    "Client",
    "ClientLike",
    "CollectionLike",
    "HasCollectionId",
    "HasTileId",
    "SHConfigLike",
    "SentinelHubBYOCLike",
    "TileLike",
    "check_id",
    "is_loopback",
    "resolve_client",
    "resource_id",
]

log = logging.getLogger("byocframe.client")

DEFAULT_BASE_URL = "https://services.sentinel-hub.com"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_REFRESH_MARGIN = 60.0  # seconds before expiry when a token is renewed
_FAILED = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 b64token: safe in a header
_BAD_ID = re.compile(r"[\x00-\x20\x7f/?#%\\]")

#: A decoded JSON answer.
JSON: TypeAlias = "dict[str, Any] | list[Any] | str | int | float | bool | None"


class HasCollectionId(Protocol):
    """A sentinelhub-py ``ByocCollection`` or anything with ``collection_id``."""

    collection_id: str | None


class HasTileId(Protocol):
    """A sentinelhub-py ``ByocTile`` or anything with ``tile_id``."""

    tile_id: str | None


class SHConfigLike(Protocol):
    """A sentinelhub-py ``SHConfig`` (duck-typed: sentinelhub is not imported)."""

    sh_client_id: str
    sh_client_secret: str
    sh_base_url: str
    sh_token_url: str


class SentinelHubBYOCLike(Protocol):
    """A sentinelhub-py ``SentinelHubBYOC`` (its ``config`` is used)."""

    config: SHConfigLike


#: The id as a string, a record (``{"id": ...}``), a row of `read_collections`, or a
#: sentinelhub-py ``ByocCollection``.
CollectionLike: TypeAlias = "str | Mapping[str, Any] | HasCollectionId | pd.Series"
#: The id as a string, a record, a row of `read_tiles`, or a sentinelhub-py ``ByocTile``.
TileLike: TypeAlias = "str | Mapping[str, Any] | HasTileId | pd.Series"
#: What every public function that talks to a service accepts (see `resolve_client`).
ClientLike: TypeAlias = "Client | SHConfigLike | SentinelHubBYOCLike"


def check_id(value: object, kind: str = "collection") -> str:
    """Return ``value`` if it can be one path segment of a URL, else raise.

    Raises
    ------
    ValidationError
        For an empty id or one with ``/ ? # %``, a backslash, spaces or control
        characters.

    Examples
    --------
    >>> check_id("6c1b0a7e-a6b1-4a4e-9b4c-2f8f3e2a6d0a")
    '6c1b0a7e-a6b1-4a4e-9b4c-2f8f3e2a6d0a'
    >>> check_id("x/tiles/y", "tile")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: tile id 'x/tiles/y' is not a plain id ...
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(f"empty {kind} id ({type(value).__name__} {value!r}); give the id")
    if _BAD_ID.search(value) or value in (".", ".."):
        raise ValidationError(
            f"{kind} id {value!r} is not a plain id (it holds /, ?, #, %, a backslash, a "
            "space or a control character); check where it came from",
            [{"id": value, "field": "id", "value": value, "problem": "not a plain id"}],
        )
    return value


def resource_id(obj: object, kind: str = "collection") -> str:
    """The checked id of a collection / tile given in any of the accepted forms.

    Accepts the id, a record with ``"id"``, a row of a frame from `read_collections`
    or `read_tiles` (its index label), or a sentinelhub-py ``ByocCollection`` /
    ``ByocTile``.

    Examples
    --------
    >>> resource_id({"id": "c1", "name": "n"})
    'c1'
    """
    if isinstance(obj, str):
        return check_id(obj, kind)
    if isinstance(obj, Mapping):
        return check_id(obj.get("id"), kind)
    value = getattr(obj, f"{kind}_id", None)
    if value is None and hasattr(obj, "index") and hasattr(obj, "to_dict"):
        # a pandas row: frames are indexed by id; a reset index leaves an "id" column
        row: Any = obj
        value = row["id"] if "id" in row.index else row.name
    if value is None:
        value = getattr(obj, "id", None)
    if value is None:
        raise ValidationError(
            f"cannot tell the {kind} id of a {type(obj).__name__}; pass the id as a string"
        )
    return check_id(str(value), kind)


_ident = resource_id  # the name other modules used; prefer resource_id


def _segments(*parts: str) -> str:
    return "".join("/" + urllib.parse.quote(p, safe="") for p in parts)


class Client:
    """Talk to the BYOC API of one Sentinel Hub deployment.

    Every argument is a keyword. Credentials: give ``client_id`` and ``client_secret``,
    or use `Client.from_env` / `Client.from_config`.

    Parameters
    ----------
    base_url : str, optional
        The deployment, e.g. ``https://services.sentinel-hub.com`` (the default) or
        ``https://sh.dataspace.copernicus.eu``; the API lives under ``/api/v1/byoc``.
        Plain ``http://`` is accepted only for this machine (the local service).
    client_id, client_secret : str
        OAuth2 client credentials.
    token_url : str, optional
        Defaults to the deployment's own (`byocframe.deployments.default_token_url`):
        Sentinel Hub deployments authenticate at services.sentinel-hub.com, CDSE at
        identity.dataspace.copernicus.eu, the local service at itself.
    deployment : str, optional
        A deployment by name instead of ``base_url``: ``"aws-eu-central-1"`` (alias
        ``"sentinel-hub"``), ``"aws-us-west-2"``, ``"gcp-us-central1"``,
        ``"creodias"``, ``"code-de"``, ``"mundi"``, ``"cdse"``.
    timeout : float, default 30
        Seconds for each socket operation (connect, each read).
    deadline : float, default 120
        Seconds one whole exchange (connect to last byte) may take, however slowly the
        server drips. Each retry gets a new deadline.
    retries : int, default 4
        Extra attempts for 5xx answers and connection errors (idempotent requests only).
    backoff, max_backoff : float, default 0.5 and 30
        First retry wait in seconds, doubled each time with jitter, up to ``max_backoff``.
    rate_limit_retries : int, default 50
        How many 429 answers one request may get before `RateLimitError`.
    max_wait : float, default 300
        The longest ``Retry-After`` (seconds) the client waits; a longer one raises
        `RateLimitError` at once.
    requests_per_minute : float, optional
        Pace every request of this client (all threads) to this rate instead of
        waiting for 429s. None: as fast as callers ask.
    pool_size : int, default 32
        Connections kept open (as many as the threads that share the client).
    clock, sleep : callable, optional
        Monotonic seconds and a sleep function (``time.monotonic``, ``time.sleep``),
        for token expiry, backoff, 429 waits and pacing. Tests pass fakes.
    transport : HTTPTransport, optional
        The requests adapter for every connection (a test seam).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service, byocframe.Client(
    ...     base_url=service.base_url,
    ...     client_id=service.client_id,
    ...     client_secret=service.client_secret,
    ... ) as client:
    ...     collection = client.create_collection({"name": "demo", "s3Bucket": "bucket"})
    ...     client.get_collection(collection["id"])["name"]
    'demo'
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        deployment: str | None = None,
        timeout: float = 30.0,
        deadline: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        rate_limit_retries: int = 50,
        max_wait: float = 300.0,
        requests_per_minute: float | None = None,
        pool_size: int = 32,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        transport: HTTPTransport | None = None,
    ):
        if deployment is not None:
            if base_url is not None:
                raise ValueError("give deployment or base_url, not both")
            base_url = get_deployment(deployment).base_url
        self.base_url = check_url(base_url or DEFAULT_BASE_URL, "base_url")
        self.deployment: Deployment | None = find_deployment(base_url=self.base_url)
        self.token_url = check_url(token_url or default_token_url(self.base_url), "token_url")
        if not client_id or not client_secret:
            raise ValueError(
                "client_id and client_secret are required (or use Client.from_env() with "
                "SH_CLIENT_ID / SH_CLIENT_SECRET, or Client.from_config())"
            )
        for name, value in (("timeout", timeout), ("deadline", deadline), ("max_wait", max_wait)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        self.client_id = client_id
        self.__secret = client_secret
        self.service_url = self.base_url + "/api/v1/byoc"
        self.timeout = timeout
        self.deadline = deadline
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_limit_retries = rate_limit_retries
        self.max_wait = max_wait
        self._options: dict[str, Any] = {
            "timeout": timeout,
            "deadline": deadline,
            "retries": retries,
            "backoff": backoff,
            "max_backoff": max_backoff,
            "rate_limit_retries": rate_limit_retries,
            "max_wait": max_wait,
            "requests_per_minute": requests_per_minute,
            "pool_size": pool_size,
            "clock": clock,
            "sleep": sleep,
            "transport": transport,
        }
        self._clock = clock
        self._sleep = sleep
        self._pacer = Pacer(requests_per_minute, clock=clock, sleep=sleep)
        self._throttle = Throttle(clock=clock, sleep=sleep)
        # the bearer token goes to these origins only; the global lookup shares the
        # Sentinel Hub identity service, so it gets the token too
        lookup = self.deployment.lookup_url if self.deployment else None
        self._lookup_url = lookup if self.token_url == SENTINEL_HUB_TOKEN_URL else None
        self._origins = {origin(self.base_url)}
        if self._lookup_url:
            self._origins.add(origin(self._lookup_url))
        self._session = requests.Session()
        adapter = transport or HTTPTransport(
            pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
        )
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = "byocframe"
        # read proxy and CA settings from the environment once, not on every request
        # (requests does that per call: about a third of a millisecond each)
        settings = self._session.merge_environment_settings(self.base_url, {}, None, None, None)
        self._session.proxies.update(settings.get("proxies") or {})
        self._session.verify = settings.get("verify", True)
        self._session.trust_env = False
        self._token_lock = threading.Lock()
        self.__token: str | None = None
        self._token_expires = 0.0
        self._rng = random.Random()
        self._closed = False

    def __repr__(self) -> str:
        shown = self.client_id[:4] + "…" if len(self.client_id) > 4 else "…"
        return f"Client(base_url={self.base_url!r}, client_id={shown!r})"

    def __getstate__(self) -> None:
        raise TypeError("a Client holds credentials and cannot be pickled")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections; the client cannot be used afterwards."""
        self._closed = True
        self._session.close()

    @property
    def requests_per_minute(self) -> float | None:
        """The pace of this client's requests, or None when it is not paced."""
        return self._pacer.per_minute

    @property
    def location(self) -> str | None:
        """The deployment's name in the global lookup (``aws-eu-central-1``, ...)."""
        return self.deployment.location if self.deployment else None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """Read ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``, ``SH_BASE_URL``, ``SH_TOKEN_URL``.

        Keyword arguments win over the variables (``client_id``, ``base_url``, ...,
        and every option of `Client`).

        Examples
        --------
        >>> import os
        >>> os.environ.update(SH_CLIENT_ID="id", SH_CLIENT_SECRET="secret")
        >>> Client.from_env()
        Client(base_url='https://services.sentinel-hub.com', client_id='…')
        >>> for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        ...     del os.environ[name]
        """
        fields, options = _split(kwargs)
        settings = resolve_settings(**fields, use_file=False)
        missing = [n for n in ("client_id", "client_secret") if n not in settings.sources]
        if missing:
            names = " and ".join(f"SH_{n.upper()}" for n in missing)
            raise ValueError(f"set {names} (your Sentinel Hub OAuth client)")
        return cls.from_settings(settings, **options)

    @classmethod
    def from_config(
        cls,
        config: SHConfigLike | None = None,
        *,
        profile: str | None = None,
        path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Client:
        """Use a sentinelhub-py ``SHConfig``, or resolve settings as sentinelhub-py does.

        Without ``config``, each of the id, secret, base URL and token URL comes from
        the first of: keyword arguments; ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``,
        ``SH_BASE_URL``, ``SH_TOKEN_URL``; the profile of sentinelhub-py's
        ``config.toml`` (``profile``, else ``$SH_PROFILE``, else ``default-profile``).
        The file is only read, never written (``SHConfig()`` itself creates it).

        Parameters
        ----------
        config : sentinelhub.SHConfig, optional
            Its credentials, URLs, timeout and attempts are used as they are.
        profile : str, optional
        path : path, optional
            Defaults to ``$XDG_CONFIG_HOME/sentinelhub/config.toml`` (or ``~/.config/...``).
        **kwargs
            ``client_id``, ``client_secret``, ``base_url``, ``token_url``,
            ``deployment``, and any option of `Client`.
        """
        fields, options = _split(kwargs)
        if config is not None:
            return _from_sh_config(config, fields, options)
        return cls.from_settings(resolve_settings(**fields, profile=profile, path=path), **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Client:
        """A client from `byocframe.config.resolve_settings` (what the command line uses).

        Raises
        ------
        ValueError
            When the settings hold no id or no secret; it says where they were looked for.
        """
        missing = [n for n in ("client_id", "client_secret") if n not in settings.sources]
        if missing:
            raise ValueError(
                f"no {' and no '.join(m.replace('_', ' ') for m in missing)}: pass client_id "
                "and client_secret, set SH_CLIENT_ID and SH_CLIENT_SECRET, or put "
                "sh_client_id and sh_client_secret in a sentinelhub-py config.toml profile"
            )
        return cls(
            base_url=settings.base_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            **options,
        )

    def at(self, collection: CollectionLike) -> Client:
        """A client for the deployment that holds ``collection`` (``self`` if it is here).

        Uses the global lookup (`locate`); the new client has the same credentials,
        token URL and options.
        """
        location = self.locate(collection)
        if location == self.location:
            return self
        target = find_deployment(location=location)
        if target is None:
            raise ValueError(
                f"the collection is on {location!r}, a deployment byocframe does not know"
            )
        return Client(
            base_url=target.base_url,
            client_id=self.client_id,
            client_secret=self.__secret,
            token_url=self.token_url,
            **self._options,
        )

    def locate(self, collection: CollectionLike) -> str:
        """Which deployment holds ``collection``: its location, e.g. ``"aws-us-west-2"``.

        Asks the global lookup ``GET https://services.sentinel-hub.com/api/v1/byoc/global/{id}``
        (Sentinel Hub deployments only).
        """
        cid = resource_id(collection, "collection")
        if self._lookup_url is None:
            raise ValueError(
                f"{self.base_url} has no global collection lookup (only the Sentinel Hub "
                "deployments share one)"
            )
        url = self._lookup_url + _segments(cid)
        body = self.request("GET", url)
        data = body.get("data") if isinstance(body, dict) else None
        location = data.get("location") if isinstance(data, dict) else None
        if not isinstance(location, str) or not location:
            raise TransportError(
                f"GET {url}: the answer has no data.location", method="GET", url=url
            )
        return location

    # ------------------------------------------------------------------ plumbing
    def _bearer(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or self.__token is None or self._clock() > self._token_expires:
                self.__token, self._token_expires = self._fetch_token()
            return self.__token

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.__secret,
        }
        url = self.token_url
        for attempt in range(self.retries + 1):
            try:
                response = self._send("POST", url, data=form)
            except TransportError:
                if attempt < self.retries:
                    self._sleep_backoff(attempt)
                    continue
                raise
            if response.status_code >= 500 and attempt < self.retries:
                self._sleep_backoff(attempt)
                continue
            break
        if response.status_code != 200:
            body = _json_or_none(response)
            message = response.reason or "error"
            if isinstance(body, dict):
                message = body.get("error_description") or body.get("error") or message
            if 300 <= response.status_code < 400:
                message = _redirect_note(response)
            error = AuthenticationError if response.status_code in (400, 401, 403) else APIError
            raise error(response.status_code, str(message), method="POST", url=url)
        body = _decode(response, "POST", url)
        if not isinstance(body, dict):
            body = {}
        token = body.get("access_token")
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise TransportError(
                f"POST {url}: the token endpoint's answer has no usable access_token",
                method="POST",
                url=url,
            )
        lifetime = _seconds(body.get("expires_in", 3600))
        if lifetime is None or lifetime <= 0 or math.isinf(lifetime):
            raise TransportError(
                f"POST {url}: the token endpoint's expires_in is not a positive number",
                method="POST",
                url=url,
            )
        margin = min(_REFRESH_MARGIN, lifetime / 10)
        return token, self._clock() + lifetime - margin

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One exchange within the deadline; never follows redirects."""
        if self._closed:
            raise ValueError("this Client is closed")
        failure: BaseException | None = None
        with Watch.deadline(self.deadline) as watch:
            try:
                response = self._session.request(
                    method, url, timeout=self.timeout, allow_redirects=False, **kwargs
                )
            except _FAILED as err:
                failure = err
        # a cut socket can also look like a short but complete answer: check the watch
        if failure is None and not watch.expired:
            return response
        if watch.expired:
            reason = f"no complete answer within the deadline of {self.deadline:g} s"
        else:
            reason = f"no usable answer ({type(failure).__name__})"
        raise TransportError(f"{method} {url}: {reason}", method=method, url=url) from failure

    def _sleep_backoff(self, attempt: int) -> None:
        wait = min(self.max_backoff, self.backoff * 2**attempt)
        self._sleep(wait * (0.5 + self._rng.random() / 2))

    def _url(self, path: str) -> str:
        if not path.startswith(("http://", "https://")):
            return self.service_url + path
        if origin(path) not in self._origins:
            raise ValueError(
                f"{path!r} is not on {self.base_url}; the access token is sent to that origin only"
            )
        return path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: JSON = None,
        retry: bool | None = None,
    ) -> JSON:
        """Send one API request; return the decoded JSON body (None for an empty answer).

        Parameters
        ----------
        method : str
        path : str
            Relative to ``/api/v1/byoc`` (``"/collections"``), or a full URL on the
            base URL's origin.
        params, json : optional
            Query parameters and JSON body.
        retry : bool, optional
            Retry 5xx answers and connection errors; defaults to True for idempotent
            methods (GET, PUT, DELETE) and False for POST.

        Raises
        ------
        APIError
            A subclass per status (`NotFoundError`, `ConflictError`, ...); also for a
            redirect, which is never followed.
        RateLimitError
            Too many 429s, or one asking to wait longer than ``max_wait``.
        TransportError
            No usable answer after the retries, or an answer that is not JSON.
        """
        method = method.upper()
        url = self._url(path)
        retry = method in _IDEMPOTENT if retry is None else retry
        attempt = throttles = 0
        renewed = False
        while True:
            self._throttle.wait()
            self._pacer.wait()
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            try:
                response = self._send(method, url, params=params, json=json, headers=headers)
            except TransportError as err:
                if retry and attempt < self.retries:
                    self._sleep_backoff(attempt)
                    attempt += 1
                    continue
                if not retry:
                    raise TransportError(
                        f"{err}; not retried because the request may have taken effect",
                        method=method,
                        url=url,
                    ) from err
                raise
            status = response.status_code
            log.debug("%s %s -> %s", method, response.url, status)
            if status == 429:
                throttles += 1
                wait = _retry_after(response)
                if wait is not None and wait > self.max_wait:
                    raise self._error(
                        response,
                        method,
                        retry_after=wait,
                        note=f"asked to wait {wait:.0f} s, more than max_wait={self.max_wait:g} "
                        "s; try later or raise max_wait",
                    )
                if throttles > self.rate_limit_retries:
                    raise self._error(response, method, retry_after=wait)
                jitter = 1 + self._rng.random() / 10
                self._throttle.pause(min(self.max_wait, (1.0 if wait is None else wait) * jitter))
                continue
            if status == 401 and not renewed:
                renewed = True  # e.g. the token was revoked: try once with a new one
                self._bearer(renew=True)
                continue
            if status >= 500 and retry and attempt < self.retries:
                self._sleep_backoff(attempt)
                attempt += 1
                continue
            if status >= 300:
                note = _redirect_note(response) if status < 400 else None
                raise self._error(response, method, note=note)
            return _decode(response, method, url)

    @staticmethod
    def _error(
        response: requests.Response,
        method: str,
        *,
        retry_after: float | None = None,
        note: str | None = None,
    ) -> APIError:
        message, code, errors = response.reason or "error", None, None
        body = _json_or_none(response)
        inner = body.get("error", body) if isinstance(body, dict) else None
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("error_description") or message
            code = inner.get("code")
            errors = inner.get("errors")
        if note:
            message = f"{message}; {note}"
        cls = error_for_status(response.status_code)
        kwargs: dict[str, Any] = {
            "method": method,
            "url": response.url,
            "code": None if code is None else str(code),
            "errors": errors,
        }
        if cls is RateLimitError:
            kwargs["retry_after"] = retry_after
        return cls(response.status_code, str(message), **kwargs)

    def _data(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = self.request(method, path, **kwargs)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            url = self._url(path)
            raise TransportError(
                f"{method} {url}: the answer has no 'data' object", method=method, url=url
            )
        return data

    def _pages(self, path: str, params: dict[str, str | None]) -> Iterator[list[dict[str, Any]]]:
        query: dict[str, str | int] = {k: v for k, v in params.items() if v is not None}
        query.setdefault("count", 100)
        url = self._url(path)
        seen: set[str] = set()
        while True:
            body = self.request("GET", path, params=query)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise TransportError(
                    f"GET {url}: the answer has no 'data' list", method="GET", url=url
                )
            for item in data:
                try:  # ids go into later URLs: a server cannot slip in a path
                    check_id(item.get("id") if isinstance(item, dict) else None, "listed")
                except ValidationError as err:
                    raise TransportError(
                        f"GET {url}: an item of the page has no usable id ({str(item)[:60]})",
                        method="GET",
                        url=url,
                    ) from err
            yield data
            links = body.get("links") if isinstance(body, dict) else None
            token = links.get("nextToken") if isinstance(links, dict) else None
            if not token or not data:
                return
            if not isinstance(token, str) or token in seen:
                raise TransportError(
                    f"GET {url}: the service sent the nextToken {str(token)[:40]!r} again; "
                    "stopped a paging loop",
                    method="GET",
                    url=url,
                )
            seen.add(token)
            query = {**query, "viewtoken": token}

    def _explained(
        self, pages: Iterator[list[dict[str, Any]]], cid: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages; a 404 says which deployment holds the collection when it is elsewhere."""
        try:
            yield from pages
        except NotFoundError as err:
            raise self._elsewhere(err, cid) from err

    def _elsewhere(self, err: NotFoundError, cid: str) -> NotFoundError:
        if self._lookup_url is None:
            return err
        try:
            location = self.locate(cid)
        except (APIError, TransportError):
            return err
        if location == self.location:
            return err
        target = find_deployment(location=location)
        where = f"Client(deployment={location!r})" if target else f"the {location} deployment"
        hint = (
            f"collection {cid} is on {location}, not on {self.base_url}: use {where} "
            "or client.at(collection)"
        )
        return NotFoundError(
            err.status_code,
            f"{err.message}; {hint}",
            method=err.method,
            url=err.url,
            code=err.code,
            errors=err.errors,
        )

    # ------------------------------------------------------------------ collections
    def collection_pages(self, search: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Collections, one page (up to 100) at a time."""
        return self._pages("/collections", {"search": search})

    def iter_collections(self, search: str | None = None) -> Iterator[dict[str, Any]]:
        """Every collection (matching ``search``: words joined by ``|`` or ``&``)."""
        for page in self.collection_pages(search):
            yield from page

    def get_collection(self, collection: CollectionLike) -> dict[str, Any]:
        """One collection."""
        cid = resource_id(collection, "collection")
        try:
            return self._data("GET", _segments("collections", cid))
        except NotFoundError as err:
            raise self._elsewhere(err, cid) from err

    def create_collection(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create a collection (``name`` and ``s3Bucket`` required); return it."""
        return self._data("POST", "/collections", json=dict(record))

    def update_collection(self, collection: CollectionLike, record: Mapping[str, Any]) -> None:
        """Replace the writable fields of a collection (name, s3Bucket, noData, bands)."""
        path = _segments("collections", resource_id(collection, "collection"))
        self.request("PUT", path, json=dict(record))

    def delete_collection(self, collection: CollectionLike) -> None:
        """Delete a collection and all its tiles."""
        self.request("DELETE", _segments("collections", resource_id(collection, "collection")))

    def copy_tiles(self, source: CollectionLike, target: CollectionLike) -> None:
        """Copy the ingested tiles of ``source`` whose path ``target`` lacks."""
        sid, tid = resource_id(source, "collection"), resource_id(target, "collection")
        self.request(
            "POST",
            _segments("collections", sid, "copyTiles"),
            params={"toCollection": tid},
            retry=True,  # copying twice copies nothing new
        )

    # ------------------------------------------------------------------ tiles
    def tile_pages(
        self,
        collection: CollectionLike,
        *,
        status: str | None = None,
        path: str | None = None,
        sort: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Tiles, one page (up to 100) at a time, following ``nextToken``."""
        cid = resource_id(collection, "collection")
        pages = self._pages(
            _segments("collections", cid, "tiles"), {"status": status, "path": path, "sort": sort}
        )
        return self._explained(pages, cid)

    def iter_tiles(
        self, collection: CollectionLike, **filters: str | None
    ) -> Iterator[dict[str, Any]]:
        """Every tile of a collection (filters: ``status``, ``path``, ``sort``)."""
        for page in self.tile_pages(collection, **filters):
            yield from page

    def find_tile(self, collection: CollectionLike, path: str) -> dict[str, Any] | None:
        """The tile with this path, or None."""
        page = next(self.tile_pages(collection, path=path), [])
        return page[0] if page else None

    def _tile_path(self, collection: CollectionLike, tile: TileLike, *rest: str) -> str:
        cid, tid = resource_id(collection, "collection"), resource_id(tile, "tile")
        return _segments("collections", cid, "tiles", tid, *rest)

    def get_tile(self, collection: CollectionLike, tile: TileLike) -> dict[str, Any]:
        """One tile."""
        return self._data("GET", self._tile_path(collection, tile))

    def create_tile(self, collection: CollectionLike, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create a tile (``path`` required); it starts WAITING. Return it."""
        cid = resource_id(collection, "collection")
        return self._data("POST", _segments("collections", cid, "tiles"), json=dict(record))

    def update_tile(
        self, collection: CollectionLike, tile: TileLike, record: Mapping[str, Any]
    ) -> None:
        """Replace a tile's ``sensingTime`` and ``coverGeometry``.

        The API resets the cover to the tile's bounding box when ``coverGeometry`` is
        missing: send the current cover along with any other change.
        """
        self.request("PUT", self._tile_path(collection, tile), json=dict(record))

    def delete_tile(self, collection: CollectionLike, tile: TileLike) -> None:
        """Delete a tile."""
        self.request("DELETE", self._tile_path(collection, tile))

    def reingest_tile(self, collection: CollectionLike, tile: TileLike) -> None:
        """Send an INGESTED or FAILED tile back to ingestion."""
        self.request("POST", self._tile_path(collection, tile, "reingest"))


# ---------------------------------------------------------------------- client-likes
_FIELD_NAMES = ("client_id", "client_secret", "base_url", "token_url", "deployment")
_derived: dict[tuple[object, ...], Client] = {}
_derived_lock = threading.Lock()


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    fields = {k: v for k, v in kwargs.items() if k in _FIELD_NAMES}
    return fields, {k: v for k, v in kwargs.items() if k not in _FIELD_NAMES}


def _from_sh_config(
    config: SHConfigLike, fields: dict[str, Any], options: dict[str, Any]
) -> Client:
    """A client with an SHConfig's settings (explicit keywords win)."""
    values: dict[str, Any] = {
        "client_id": getattr(config, "sh_client_id", None),
        "client_secret": getattr(config, "sh_client_secret", None),
        "base_url": getattr(config, "sh_base_url", None),
        "token_url": getattr(config, "sh_token_url", None),
    }
    if values["token_url"] == SENTINEL_HUB_TOKEN_URL:
        # SHConfig's default, also when the base URL is CDSE or this machine: let the
        # base URL choose (the same answer for every Sentinel Hub deployment)
        values["token_url"] = None
    values.update({k: v for k, v in fields.items() if v})
    timeout = getattr(config, "download_timeout_seconds", None)
    attempts = getattr(config, "max_download_attempts", None)
    if isinstance(timeout, int | float) and timeout > 0:
        options.setdefault("timeout", float(timeout))
    if isinstance(attempts, int) and attempts >= 1:
        options.setdefault("retries", attempts - 1)
    return Client(**values, **options)


def resolve_client(client: ClientLike) -> Client:
    """The `Client` for anything a public function accepts as a client.

    A `Client` is returned as it is. A sentinelhub-py ``SHConfig`` or
    ``SentinelHubBYOC`` (duck-typed; sentinelhub is not imported) gives a client with
    its settings, made once per settings and kept for the process, as sentinelhub-py
    keeps its sessions, so its token is reused.

    Raises
    ------
    TypeError
        For anything else.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service:
    ...     client = service.client()
    ...     resolve_client(client) is client
    True
    """
    if isinstance(client, Client):
        return client
    config: Any = getattr(client, "config", client)  # SentinelHubBYOC keeps its SHConfig
    if not hasattr(config, "sh_client_id"):
        raise TypeError(
            "expected a byocframe Client, a sentinelhub SHConfig or a SentinelHubBYOC, "
            f"got {type(client).__name__}"
        )
    names = ["sh_client_id", "sh_base_url", "sh_token_url"]
    names += ["download_timeout_seconds", "max_download_attempts"]
    secret = str(getattr(config, "sh_client_secret", ""))
    key = (*(getattr(config, n, None) for n in names), hashlib.sha256(secret.encode()).hexdigest())
    with _derived_lock:
        found = _derived.get(key)
        if found is None or found._closed:
            found = _derived[key] = _from_sh_config(config, {}, {})
        return found


# ---------------------------------------------------------------------- answers
def _json_or_none(response: requests.Response) -> JSON:
    try:
        return response.json()
    except ValueError:
        return None


def _decode(response: requests.Response, method: str, url: str) -> JSON:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as err:
        raise TransportError(
            f"{method} {url}: the answer is not JSON ({err})", method=method, url=url
        ) from err


def _redirect_note(response: requests.Response) -> str:
    target = response.headers.get("Location", "nowhere")
    return (
        f"redirected to {target[:200]}; byocframe does not follow redirects (they could "
        "carry the token elsewhere): check the URL"
    )


def _seconds(value: object) -> float | None:
    """A number of seconds, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return None if math.isnan(number) else number


def _retry_after(response: requests.Response) -> float | None:
    """``Retry-After`` in seconds (Sentinel Hub sends milliseconds), or None."""
    value = _seconds(response.headers.get("Retry-After"))
    return None if value is None or value < 0 else value / 1000
