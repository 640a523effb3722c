"""A small, careful HTTP client for the Sentinel Hub BYOC API.

One keep-alive `~byocframe.client.transport.HTTPTransport` on urllib3 (or any
`~byocframe.client.transport.Transport`, e.g. `byocframe.testing.MockTransport` in tests); a
timeout on every socket operation and a deadline on every whole exchange; an OAuth2
token fetched once and refreshed before it expires;
429 honoured through ``Retry-After`` (milliseconds) for every thread at once, up to a
cap; an optional steady pace; 5xx and dropped connections retried with backoff and
jitter for idempotent requests only. Tokens go only to the base URL's origin, ids are
checked before they reach a URL, and every failure a server can cause is a
`~byocframe.ByocframeError` naming the URL. Secrets and tokens never appear in a
repr, a log line or an error message.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Literal, cast

from byocframe.client.config import (
    Settings,
    SHConfigLike,
    resolve_settings,
    settings_from_sh_config,
)
from byocframe.client.deployments import find_deployment
from byocframe.client.session import DEFAULT_BASE_URL, ApiSession
from byocframe.client.transport import is_loopback
from byocframe.exceptions import APIError, NotFoundError, TransportError, ValidationError
from byocframe.ids import CollectionLike, TileLike, path_of, resource_id
from byocframe.typing import AnyClient, RecordLike

__all__ = [
    "DEFAULT_BASE_URL",
    "Client",
    "is_loopback",  # where the emulator imports it from
    "resolve_client",
]


class Client(ApiSession):
    """Talk to the BYOC API of one Sentinel Hub deployment.

    Every argument is a keyword. Credentials: give ``client_id`` and ``client_secret``,
    or ``config`` (a sentinelhub-py ``SHConfig``, as ``SentinelHubBYOC(config=config)``
    takes it), or use `Client.from_env` / `Client.from_config`.

    Parameters
    ----------
    config : sentinelhub.SHConfig, optional
        Its credentials, URLs, timeout and attempts, as `Client.from_config` takes them;
        other keywords win over it.
    base_url : str, optional
        The deployment, e.g. ``https://services.sentinel-hub.com`` (the default) or
        ``https://sh.dataspace.copernicus.eu``; the API lives under ``/api/v1/byoc``.
        Plain ``http://`` is accepted only for this machine (the local service).
    client_id, client_secret : str
        OAuth2 client credentials.
    token_url : str, optional
        Defaults to the deployment's own (`byocframe.client.deployments.default_token_url`):
        Sentinel Hub deployments authenticate at services.sentinel-hub.com, CDSE at
        identity.dataspace.copernicus.eu, the local service at itself.
    deployment : str, optional
        A deployment by name instead of ``base_url``: ``"aws-eu-central-1"`` (alias
        ``"sentinel-hub"``), ``"aws-us-west-2"``, ``"gcp-us-central1"``,
        ``"creodias"``, ``"code-de"``, ``"mundi"``, ``"cdse"``.
    timeout : float, default 30
        Seconds for each socket operation (connect, each read) and for a free pooled
        connection: a peer that drips a byte a second never trips it. The bound on a
        whole exchange is ``deadline``.
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
    max_total_wait : float, default 900
        The most seconds one request may spend in 429 pauses in all (50 answers of
        ``Retry-After: 299999`` ms would otherwise hold it 4 hours); past it,
        `RateLimitError` naming the limit.
    requests_per_minute : float, optional
        Pace every request of this client (all threads) to this rate instead of
        waiting for 429s. None: as fast as callers ask.
    pool_size : int, default 32
        Most connections open at once to one host, kept alive between requests (as
        many as the threads that share the client). A request finding them all busy
        waits for one, up to ``timeout``.
    clock, sleep : callable, optional
        Monotonic seconds and a sleep function (``time.monotonic``, ``time.sleep``),
        for token expiry, backoff, 429 waits and pacing. Tests pass fakes.
    transport : Transport, optional
        What sends every request (`~byocframe.client.transport.Transport`): by default an
        `~byocframe.HTTPTransport` on urllib3 with ``pool_size`` connections, proxies
        from the environment and certifi's CA bundle. Give your own
        ``HTTPTransport(ca_bundle=..., client_cert=..., proxies=...)`` for those, or a
        `byocframe.MockTransport` in tests.

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
            raise ValidationError(
                f"set {names} (your Sentinel Hub OAuth client); for the local service, "
                "use byocframe.local_service().client()"
            )
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
            fields.pop("deployment", None)  # an SHConfig names its base URL
            settings, defaults = settings_from_sh_config(config, **fields)
            return cls.from_settings(settings, **{**defaults, **options})
        return cls.from_settings(resolve_settings(**fields, profile=profile, path=path), **options)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> Client:
        """A client from `byocframe.client.config.resolve_settings` (what the command line uses).

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
        return self._moved(target.base_url)

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
        url = self._lookup_url + path_of(cid)
        body = self.request("GET", url)
        data = body.get("data") if isinstance(body, dict) else None
        location = data.get("location") if isinstance(data, dict) else None
        if not isinstance(location, str) or not location:
            raise TransportError(
                f"GET {url}: the answer has no data.location", method="GET", url=url
            )
        return location

    def _explained(
        self, pages: Iterator[list[dict[str, Any]]], cid: str
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages; a 404 says which deployment holds the collection when it is elsewhere."""
        try:
            yield from pages
        except NotFoundError as err:
            elsewhere = self._elsewhere(err, cid)
            if elsewhere is err:
                raise  # not "raise err from err": notebooks print a self-caused error twice
            raise elsewhere from err

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

    def iter_collections(
        self, search: str | None = None, *, count: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every collection (matching ``search``: words joined by ``|`` or ``&``).

        As sentinelhub-py's ``SentinelHubBYOC.iter_collections``; ``count`` is the page
        size (1 to 100; 100 by default).

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     _ = client.create_collection({"name": "demo", "s3Bucket": "bucket"})
        ...     [c["name"] for c in client.iter_collections(count=1)]
        ['demo']
        """
        cap = _page_size(count)
        for page in self._pages("/collections", {"search": search, "count": cap}):
            yield from page

    def get_collection(self, collection: CollectionLike) -> dict[str, Any]:
        """One collection, as the API's dict (sentinelhub-py: ``byoc.get_collection``).

        Raises
        ------
        NotFoundError
            When no collection has this id on this deployment.

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
        ...     collection = service.client().get_collection(service.demo_collection)
        >>> collection["name"]
        'byocframe demo: global mosaic'
        """
        cid = resource_id(collection, "collection")
        try:
            return self._data("GET", path_of("collections", cid))
        except NotFoundError as err:
            elsewhere = self._elsewhere(err, cid)
            if elsewhere is err:
                raise
            raise elsewhere from err

    def create_collection(self, collection: RecordLike) -> dict[str, Any]:
        """Create a collection (``name`` and ``s3Bucket`` required); return it.

        ``collection`` is a dict, or a sentinelhub-py ``ByocCollection``.

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     made = service.client().create_collection({"name": "new", "s3Bucket": "b"})
        >>> made["name"], made["s3Bucket"], len(made["id"])
        ('new', 'b', 36)
        """
        return self._data("POST", "/collections", json=_payload(collection))

    def update_collection(
        self, collection: CollectionLike | RecordLike, record: RecordLike | None = None
    ) -> None:
        """Replace the writable fields of a collection (name, s3Bucket, noData, bands).

        ``update_collection(collection, record)`` sends ``record`` to ``collection``;
        ``update_collection(collection)``, as sentinelhub-py's, sends the collection as
        it is given (a dict or ``ByocCollection`` with its ``id``, e.g. one
        `get_collection` returned and you changed).

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     made = client.create_collection({"name": "demo", "s3Bucket": "bucket"})
        ...     made["name"] = "renamed"
        ...     client.update_collection(made)
        ...     client.get_collection(made["id"])["name"]
        'renamed'
        """
        body = _payload(collection if record is None else record, "update_collection")
        path = path_of("collections", resource_id(collection, "collection"))
        self.request("PUT", path, json=body)

    def delete_collection(self, collection: CollectionLike) -> None:
        """Delete a collection and all its tiles.

        Examples
        --------
        Getting it afterwards is a `NotFoundError` (sentinelhub-py raises
        ``DownloadFailedException``):

        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     cid = client.create_collection({"name": "new", "s3Bucket": "b"})["id"]
        ...     client.delete_collection(cid)
        ...     try:
        ...         client.get_collection(cid)
        ...     except byocframe.NotFoundError as error:
        ...         print(error.status_code, error.code)
        404 COMMON_NOT_FOUND
        """
        self.request("DELETE", path_of("collections", resource_id(collection, "collection")))

    def copy_tiles(self, from_collection: CollectionLike, to_collection: CollectionLike) -> None:
        """Copy the ingested tiles of ``from_collection`` whose path ``to_collection`` lacks."""
        sid = resource_id(from_collection, "collection")
        tid = resource_id(to_collection, "collection")
        self.request(
            "POST",
            path_of("collections", sid, "copyTiles"),
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
        count: int | None = None,
        bad_ids: Literal["raise", "keep"] = "raise",
    ) -> Iterator[list[dict[str, Any]]]:
        """Tiles, one page (``count`` tiles, 1 to 100; 100 by default) at a time.

        A listed tile without a usable id (empty, or not a plain URL segment) is a
        `TransportError`; ``bad_ids="keep"`` passes it on as it is, for a loader that
        reports it (`byocframe.read_tiles`) and never puts its id in a URL.
        """
        cid = resource_id(collection, "collection")
        size = _page_size(count)
        if bad_ids not in ("raise", "keep"):
            raise ValueError(f"bad_ids must be 'raise' or 'keep', got {bad_ids!r}")
        # the API's statuses are upper case; "failed" as the command line takes it
        status = status.upper() if isinstance(status, str) else status
        params = {"status": status, "path": path, "sort": sort, "count": size}
        pages = self._pages(path_of("collections", cid, "tiles"), params, bad_ids=bad_ids)
        return self._explained(pages, cid)

    def iter_tiles(
        self,
        collection: CollectionLike,
        sort: str | None = None,
        path: str | None = None,
        *,
        status: str | None = None,
        count: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every tile of a collection (filters: ``status``, ``path``; order: ``sort``).

        The arguments are sentinelhub-py's ``SentinelHubBYOC.iter_tiles``' (``sort`` and
        ``path`` may be given by position), and ``count`` is the page size (1 to 100).

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     cid = client.create_collection({"name": "demo", "s3Bucket": "bucket"})["id"]
        ...     for name in ("a", "b"):
        ...         _ = client.create_tile(cid, {"path": f"{name}/(BAND).tif"})
        ...     [t["path"] for t in client.iter_tiles(cid, "created:desc", count=1)]
        ['b/(BAND).tif', 'a/(BAND).tif']
        """
        pages = self.tile_pages(collection, status=status, path=path, sort=sort, count=count)
        for page in pages:
            yield from page

    def find_tile(self, collection: CollectionLike, path: str) -> dict[str, Any] | None:
        """The tile with this path, or None."""
        page = next(self.tile_pages(collection, path=path), [])
        return page[0] if page else None

    def _tile_path(self, collection: CollectionLike, tile: TileLike, *rest: str) -> str:
        cid, tid = resource_id(collection, "collection"), resource_id(tile, "tile")
        return path_of("collections", cid, "tiles", tid, *rest)

    def get_tile(
        self, collection: CollectionLike, tile: TileLike, *, at: float | None = None
    ) -> dict[str, Any]:
        """One tile (``at``: a pacing turn from `reserve_turns`)."""
        return self._data("GET", self._tile_path(collection, tile), at=at)

    def create_tile(self, collection: CollectionLike, tile: RecordLike) -> dict[str, Any]:
        """Create a tile (``path`` required); it starts WAITING. Return it.

        ``tile`` is a dict, or a sentinelhub-py ``ByocTile``. `byocframe.wait_for_ingestion`
        waits until it is INGESTED or FAILED.

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     cid = client.create_collection({"name": "new", "s3Bucket": "b"})["id"]
        ...     tile = client.create_tile(
        ...         cid, {"path": "2024/06/01/(BAND).tif", "sensingTime": "2024-06-01T10:00:00Z"}
        ...     )
        >>> tile["status"], tile["path"]
        ('WAITING', '2024/06/01/(BAND).tif')
        """
        cid = resource_id(collection, "collection")
        return self._data("POST", path_of("collections", cid, "tiles"), json=_payload(tile))

    def update_tile(
        self,
        collection: CollectionLike,
        tile: TileLike | RecordLike,
        record: RecordLike | None = None,
        *,
        at: float | None = None,
        fresh_until: float | None = None,
    ) -> None:
        """Replace a tile's ``sensingTime`` and ``coverGeometry``.

        ``update_tile(collection, tile, record)`` sends ``record`` to ``tile`` (an id,
        dict or ``ByocTile``). ``update_tile(collection, tile)``, as sentinelhub-py's,
        sends the ``path``, ``coverGeometry`` and ``sensingTime`` the tile holds (a dict
        with its ``id``, e.g. one `get_tile` returned and you changed, or a ``ByocTile``).
        The API resets the cover to the tile's bounding box when ``coverGeometry`` is
        missing: send the current cover along with any other change. ``at`` and
        ``fresh_until`` are as in `request` (a reserved turn; a time after which the
        write is not sent).

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     cid = client.create_collection({"name": "demo", "s3Bucket": "bucket"})["id"]
        ...     tile = client.create_tile(cid, {"path": "a/(BAND).tif"})
        ...     tile["sensingTime"] = "2024-06-01T10:00:00Z"
        ...     client.update_tile(cid, tile)
        ...     client.get_tile(cid, tile["id"])["sensingTime"]
        '2024-06-01T10:00:00.000Z'
        """
        if record is None:
            given = _payload(tile, "update_tile")
            # what sentinelhub-py's update_tile sends of a whole tile record
            body = {k: given[k] for k in ("path", "coverGeometry", "sensingTime") if given.get(k)}
        else:
            body = _payload(record)
        path = self._tile_path(collection, tile)
        self.request("PUT", path, json=body, at=at, fresh_until=fresh_until)

    def delete_tile(self, collection: CollectionLike, tile: TileLike) -> None:
        """Delete a tile (``tile``: its id, a dict, a ``ByocTile`` or a row of a tile frame).

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     client = service.client()
        ...     cid = client.create_collection({"name": "new", "s3Bucket": "b"})["id"]
        ...     tile = client.create_tile(cid, {"path": "a/(BAND).tif"})
        ...     client.delete_tile(cid, tile)
        ...     [t["id"] for t in client.iter_tiles(cid)]
        []
        """
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


def resolve_client(client: AnyClient) -> Client:
    """The `Client` for anything a public function accepts as a client.

    A `Client` (or an object that wraps one) is returned as it is. A sentinelhub-py ``SHConfig`` or
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
    if not hasattr(config, "sh_client_id") and hasattr(client, "tile_pages"):
        return cast(Client, client)  # a wrapper around a Client (tests count requests so)
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
            found = _derived[key] = Client.from_config(config)
        return found


def _page_size(count: int | None) -> str | None:
    if count is not None and not (isinstance(count, int) and 1 <= count <= 100):
        raise ValueError(f"count must be an integer from 1 to 100, got {count!r}")
    return None if count is None else str(count)


def _payload(record: object, method: str | None = None) -> dict[str, Any]:
    """A record as sent: a dict as it is, a dataclass as sentinelhub-py sends it."""
    if isinstance(record, Mapping):
        return dict(record)
    to_dict = getattr(record, "to_dict", None)
    if method is not None and not callable(to_dict):
        raise TypeError(
            f"{method}(collection, x) sends x as it is: give a dict or a sentinelhub-py "
            f"dataclass with its id, or the record to send as a third argument, got "
            f"{type(record).__name__}"
        )
    if not callable(to_dict):
        raise TypeError(
            f"a record must be a dict or a sentinelhub-py dataclass (ByocCollection, "
            f"ByocTile), got {type(record).__name__}"
        )
    return dict(to_dict())
