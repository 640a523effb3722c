"""A small, careful HTTP client for the Sentinel Hub BYOC API.

One pooled `requests.Session`, a timeout on every request, an OAuth2 token fetched once
and refreshed before it expires, 429 honoured through ``Retry-After`` (milliseconds)
for every thread at once, and 5xx / dropped connections retried with exponential
backoff and jitter for idempotent requests only. Secrets and tokens never appear in a
repr, a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
import threading
import time
import tomllib
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from byocframe.exceptions import (
    APIError,
    AuthenticationError,
    RateLimitError,
    TransportError,
    error_for_status,
)

__all__ = ["DEFAULT_BASE_URL", "Client"]

log = logging.getLogger("byocframe.client")

DEFAULT_BASE_URL = "https://services.sentinel-hub.com"
DEFAULT_TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_REFRESH_MARGIN = 60.0  # seconds before expiry when a token is renewed
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _check_url(url: str, what: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{what} {url!r} uses plain http; that is only allowed for this machine "
            "(127.0.0.1, ::1, localhost). Use https."
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ident(obj: Any, kind: str) -> str:
    """The id of a collection / tile given as a string, a dict or a sentinelhub-py object."""
    if isinstance(obj, str) and obj:
        return obj
    if isinstance(obj, Mapping) and obj.get("id"):
        return str(obj["id"])
    for attr in (f"{kind}_id", "id"):
        value = getattr(obj, attr, None)
        if value:
            return str(value)
    raise ValueError(f"cannot tell the {kind} id of {obj!r}; pass the id as a string")


class Client:
    """Talk to the BYOC API of one Sentinel Hub deployment.

    Parameters
    ----------
    base_url : str
        The deployment, e.g. ``https://services.sentinel-hub.com`` or
        ``https://sh.dataspace.copernicus.eu``; the API lives under ``/api/v1/byoc``.
        Plain ``http://`` is accepted only for this machine (the local service).
    client_id, client_secret : str
        OAuth2 client credentials.
    token_url : str, optional
        Defaults to ``{base_url}/auth/realms/main/protocol/openid-connect/token``.
    timeout : float
        Seconds for each request (connect and read).
    retries : int
        Extra attempts for 5xx answers and connection errors (idempotent requests only).
    backoff : float
        First retry wait in seconds; doubled each time, with jitter, up to ``max_backoff``.
    max_backoff : float
    rate_limit_retries : int
        How many 429 answers one request may get before `RateLimitError`.
    pool_size : int
        Connections kept open (as many as the threads that share the client).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service:
    ...     client = byocframe.Client(service.base_url, service.client_id,
    ...                               service.client_secret, service.token_url)
    ...     collection = client.create_collection({"name": "demo", "s3Bucket": "bucket"})
    ...     client.get_collection(collection["id"])["name"]
    'demo'
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        client_id: str | None = None,
        client_secret: str | None = None,
        token_url: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        rate_limit_retries: int = 50,
        pool_size: int = 32,
    ):
        self.base_url = _check_url(base_url, "base_url")
        self.token_url = _check_url(token_url or self.base_url + DEFAULT_TOKEN_PATH, "token_url")
        if not client_id or not client_secret:
            raise ValueError(
                "client_id and client_secret are required (or use Client.from_env() with "
                "SH_CLIENT_ID / SH_CLIENT_SECRET, or Client.from_config())"
            )
        self.client_id = client_id
        self.__secret = client_secret
        self.service_url = self.base_url + "/api/v1/byoc"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate_limit_retries = rate_limit_retries
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
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
        self._throttle_lock = threading.Lock()
        self._resume_at = 0.0
        self._rng = random.Random()

    def __repr__(self) -> str:
        shown = self.client_id[:4] + "…" if len(self.client_id) > 4 else "…"
        return f"Client(base_url={self.base_url!r}, client_id={shown!r})"

    def __getstate__(self) -> None:
        raise TypeError("a Client holds credentials and cannot be pickled")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """Read ``SH_CLIENT_ID``, ``SH_CLIENT_SECRET``, ``SH_BASE_URL``, ``SH_TOKEN_URL``.

        Examples
        --------
        >>> import os
        >>> os.environ.update(SH_CLIENT_ID="id", SH_CLIENT_SECRET="secret")
        >>> Client.from_env()
        Client(base_url='https://services.sentinel-hub.com', client_id='…')
        >>> for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        ...     del os.environ[name]
        """
        missing = [n for n in ("SH_CLIENT_ID", "SH_CLIENT_SECRET") if not os.environ.get(n)]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (your Sentinel Hub OAuth client)")
        return cls(
            base_url=os.environ.get("SH_BASE_URL") or DEFAULT_BASE_URL,
            client_id=os.environ["SH_CLIENT_ID"],
            client_secret=os.environ["SH_CLIENT_SECRET"],
            token_url=os.environ.get("SH_TOKEN_URL") or None,
            **kwargs,
        )

    @classmethod
    def from_config(
        cls,
        config: Any = None,
        *,
        profile: str | None = None,
        path: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> Client:
        """Use a sentinelhub-py ``SHConfig``, or read a profile of its ``config.toml``.

        The file is only read, never written (``SHConfig()`` itself creates it).

        Parameters
        ----------
        config : sentinelhub.SHConfig, optional
            Used as is when given.
        profile : str, optional
            Profile name; defaults to ``$SH_PROFILE`` or ``default-profile``.
        path : path, optional
            Defaults to ``$XDG_CONFIG_HOME/sentinelhub/config.toml`` (or ``~/.config/...``).
        """
        if config is not None:
            values = {
                name: getattr(config, name, None)
                for name in ("sh_client_id", "sh_client_secret", "sh_base_url", "sh_token_url")
            }
        else:
            file = Path(path) if path else _config_path()
            name = profile or os.environ.get("SH_PROFILE") or "default-profile"
            try:
                document = tomllib.loads(file.read_text())
            except FileNotFoundError:
                raise ValueError(f"no sentinelhub-py configuration at {file}") from None
            except tomllib.TOMLDecodeError as err:
                raise ValueError(f"{file} is not valid TOML: {err}") from None
            if name not in document:
                raise ValueError(f"profile {name!r} not in {file} (has: {sorted(document)})")
            values = document[name]
        return cls(
            base_url=values.get("sh_base_url") or DEFAULT_BASE_URL,
            client_id=values.get("sh_client_id") or os.environ.get("SH_CLIENT_ID"),
            client_secret=values.get("sh_client_secret") or os.environ.get("SH_CLIENT_SECRET"),
            token_url=values.get("sh_token_url") or None,
            **kwargs,
        )

    # ------------------------------------------------------------------ plumbing
    def _bearer(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or self.__token is None or time.time() > self._token_expires:
                self.__token, self._token_expires = self._fetch_token()
            return self.__token

    def _fetch_token(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.__secret,
        }
        for attempt in range(self.retries + 1):
            try:
                response = self._session.post(self.token_url, data=form, timeout=self.timeout)
            except _TRANSPORT_ERRORS as err:
                if attempt < self.retries:
                    self._sleep_backoff(attempt)
                    continue
                raise TransportError(
                    f"no answer from the token endpoint {self.token_url}: {type(err).__name__}",
                    method="POST",
                    url=self.token_url,
                ) from None
            if response.status_code >= 500 and attempt < self.retries:
                self._sleep_backoff(attempt)
                continue
            break
        if response.status_code != 200:
            try:
                body = response.json()
                message = body.get("error_description") or body.get("error") or response.reason
            except ValueError:
                message = response.reason
            error = AuthenticationError if response.status_code in (400, 401, 403) else APIError
            raise error(response.status_code, str(message), method="POST", url=self.token_url)
        body = response.json()
        lifetime = float(body.get("expires_in", 3600))
        margin = min(_REFRESH_MARGIN, lifetime / 10)
        return body["access_token"], time.time() + lifetime - margin

    def _sleep_backoff(self, attempt: int) -> None:
        wait = min(self.max_backoff, self.backoff * 2**attempt)
        time.sleep(wait * (0.5 + self._rng.random() / 2))

    def _wait_for_throttle(self) -> None:
        while True:
            with self._throttle_lock:
                delay = self._resume_at - time.monotonic()
            if delay <= 0:
                return
            time.sleep(delay)

    def _throttled(self, retry_after_ms: float) -> None:
        """Every thread waits after a 429: the limit is per client, not per request."""
        wait = retry_after_ms / 1000 * (1 + self._rng.random() / 10)
        with self._throttle_lock:
            self._resume_at = max(self._resume_at, time.monotonic() + wait)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool | None = None,
    ) -> Any:
        """Send one API request; return the decoded JSON body (None for an empty answer).

        Parameters
        ----------
        method : str
        path : str
            Relative to ``/api/v1/byoc`` (``"/collections"``), or a full URL.
        params, json : optional
            Query parameters and JSON body.
        retry : bool, optional
            Retry 5xx answers and connection errors; defaults to True for idempotent
            methods (GET, PUT, DELETE) and False for POST.

        Raises
        ------
        APIError
            A subclass per status (`NotFoundError`, `ConflictError`, ...).
        TransportError
            No usable answer after the retries.
        """
        method = method.upper()
        url = path if path.startswith(("http://", "https://")) else self.service_url + path
        retry = method in _IDEMPOTENT if retry is None else retry
        attempt = throttles = 0
        renewed = False
        while True:
            self._wait_for_throttle()
            headers = {"Authorization": f"Bearer {self._bearer()}"}
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=headers, timeout=self.timeout
                )
            except _TRANSPORT_ERRORS as err:
                if retry and attempt < self.retries:
                    self._sleep_backoff(attempt)
                    attempt += 1
                    continue
                raise TransportError(
                    f"{method} {url}: no answer ({type(err).__name__})"
                    + ("" if retry else "; not retried because the request may have taken effect"),
                    method=method,
                    url=url,
                ) from None
            status = response.status_code
            log.debug("%s %s -> %s", method, response.url, status)
            if status == 429:
                throttles += 1
                retry_after = _retry_after_ms(response)
                if throttles > self.rate_limit_retries:
                    raise self._error(response, method, retry_after=retry_after)
                self._throttled(retry_after if retry_after is not None else 1000.0)
                continue
            if status == 401 and not renewed:
                renewed = True  # e.g. the token was revoked: try once with a new one
                self._bearer(renew=True)
                continue
            if status >= 500 and retry and attempt < self.retries:
                self._sleep_backoff(attempt)
                attempt += 1
                continue
            if status >= 400:
                raise self._error(response, method)
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise TransportError(
                    f"{method} {url}: the answer is not JSON", method=method, url=url
                ) from None

    @staticmethod
    def _error(
        response: requests.Response, method: str, *, retry_after: float | None = None
    ) -> APIError:
        message, code, errors = response.reason or "error", None, None
        try:
            body = response.json()
            inner = body.get("error", body) if isinstance(body, dict) else {}
            if isinstance(inner, dict):
                message = (
                    inner.get("message")
                    or inner.get("description")  # the Catalog API's error body
                    or inner.get("error_description")
                    or message
                )
                code = inner.get("code")
                errors = inner.get("errors")
        except ValueError:
            pass
        cls = error_for_status(response.status_code)
        kwargs: dict[str, Any] = {
            "method": method,
            "url": response.url,
            "code": code,
            "errors": errors,
        }
        if cls is RateLimitError:
            kwargs["retry_after"] = None if retry_after is None else retry_after / 1000
        return cls(response.status_code, str(message), **kwargs)

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        body = self.request(method, path, **kwargs)
        return None if body is None else body.get("data")

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        params = {k: v for k, v in params.items() if v is not None}
        params.setdefault("count", 100)
        while True:
            body = self.request("GET", path, params=params)
            data = (body or {}).get("data")
            if data is None:
                raise TransportError(
                    f"GET {path}: the answer has no 'data'",
                    method="GET",
                    url=self.service_url + path,
                )
            yield data
            token = ((body or {}).get("links") or {}).get("nextToken")
            if not token or not data:
                return
            params = {**params, "viewtoken": token}

    # ------------------------------------------------------------------ collections
    def collection_pages(self, search: str | None = None) -> Iterator[list[dict[str, Any]]]:
        """Collections, one page (up to 100) at a time."""
        return self._pages("/collections", {"search": search})

    def iter_collections(self, search: str | None = None) -> Iterator[dict[str, Any]]:
        """Every collection (matching ``search``: words joined by ``|`` or ``&``)."""
        for page in self.collection_pages(search):
            yield from page

    def get_collection(self, collection: Any) -> dict[str, Any]:
        """One collection."""
        return self._data("GET", f"/collections/{_ident(collection, 'collection')}")

    def create_collection(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create a collection (``name`` and ``s3Bucket`` required); return it."""
        return self._data("POST", "/collections", json=dict(record))

    def update_collection(self, collection: Any, record: Mapping[str, Any]) -> None:
        """Replace the writable fields of a collection (name, s3Bucket, noData, bands)."""
        self.request("PUT", f"/collections/{_ident(collection, 'collection')}", json=dict(record))

    def delete_collection(self, collection: Any) -> None:
        """Delete a collection and all its tiles."""
        self.request("DELETE", f"/collections/{_ident(collection, 'collection')}")

    def copy_tiles(self, source: Any, target: Any) -> None:
        """Copy the ingested tiles of ``source`` whose path ``target`` lacks."""
        self.request(
            "POST",
            f"/collections/{_ident(source, 'collection')}/copyTiles",
            params={"toCollection": _ident(target, "collection")},
            retry=True,  # copying twice copies nothing new
        )

    # ------------------------------------------------------------------ tiles
    def tile_pages(
        self,
        collection: Any,
        *,
        status: str | None = None,
        path: str | None = None,
        sort: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Tiles, one page (up to 100) at a time, following ``nextToken``."""
        cid = _ident(collection, "collection")
        return self._pages(
            f"/collections/{cid}/tiles", {"status": status, "path": path, "sort": sort}
        )

    def iter_tiles(self, collection: Any, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every tile of a collection (filters: ``status``, ``path``, ``sort``)."""
        for page in self.tile_pages(collection, **filters):
            yield from page

    def find_tile(self, collection: Any, path: str) -> dict[str, Any] | None:
        """The tile with this path, or None."""
        page = next(self.tile_pages(collection, path=path), [])
        return page[0] if page else None

    def get_tile(self, collection: Any, tile: Any) -> dict[str, Any]:
        """One tile."""
        cid, tid = _ident(collection, "collection"), _ident(tile, "tile")
        return self._data("GET", f"/collections/{cid}/tiles/{tid}")

    def create_tile(self, collection: Any, record: Mapping[str, Any]) -> dict[str, Any]:
        """Create a tile (``path`` required); it starts WAITING. Return it."""
        cid = _ident(collection, "collection")
        return self._data("POST", f"/collections/{cid}/tiles", json=dict(record))

    def update_tile(self, collection: Any, tile: Any, record: Mapping[str, Any]) -> None:
        """Replace a tile's ``sensingTime`` and ``coverGeometry``.

        The API resets the cover to the tile's bounding box when ``coverGeometry`` is
        missing: send the current cover along with any other change.
        """
        cid, tid = _ident(collection, "collection"), _ident(tile, "tile")
        self.request("PUT", f"/collections/{cid}/tiles/{tid}", json=dict(record))

    def delete_tile(self, collection: Any, tile: Any) -> None:
        """Delete a tile."""
        cid, tid = _ident(collection, "collection"), _ident(tile, "tile")
        self.request("DELETE", f"/collections/{cid}/tiles/{tid}")

    def reingest_tile(self, collection: Any, tile: Any) -> None:
        """Send an INGESTED or FAILED tile back to ingestion."""
        cid, tid = _ident(collection, "collection"), _ident(tile, "tile")
        self.request("POST", f"/collections/{cid}/tiles/{tid}/reingest")


def _retry_after_ms(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "sentinelhub" / "config.toml"
