"""The local service: its HTTP server, store, ingestion, S3 and token issuer, started together.

`LocalService` holds the parts; `create_service` builds one (in memory or on a SQLite
file, on loopback unless told otherwise) and `local_service` is the context manager the
demo, notebooks and tests use. `byocframe.emulator` re-exports these names.

Examples
--------
>>> from byocframe.emulator.service import local_service
>>> with local_service() as service:
...     service.client().create_collection({"name": "c", "s3Bucket": "b"})["name"]
'c'
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec

from byocframe.client.api import is_loopback
from byocframe.emulator.auth import MIN_SECRET_LENGTH, FailureThrottle, TokenIssuer
from byocframe.emulator.demo import seed_demo
from byocframe.emulator.faults import Faults, RateLimit
from byocframe.emulator.files_source import FilesSource
from byocframe.emulator.ingest import Ingestor
from byocframe.emulator.limits import Limits
from byocframe.emulator.s3 import LocalS3
from byocframe.emulator.seeding import SEED_CHUNK, TileSource, seed_tiles
from byocframe.emulator.server import TOKEN_PATHS, BYOCServer
from byocframe.emulator.store import Store
from byocframe.emulator.validate import manifest_rows
from byocframe.exceptions import ByocframeWarning

if TYPE_CHECKING:
    from byocframe.client.api import Client

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "LocalService",
    "check_credentials",
    "create_service",
    "local_service",
]

_log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "byocframe-local"
DEFAULT_CLIENT_SECRET = "byocframe-local-secret"


class LocalService:
    """A running local BYOC service (see `local_service`).

    Attributes
    ----------
    base_url : str
        ``http://127.0.0.1:<port>``, the deployment's base URL (``sh_base_url``).
    token_url : str
        Its OAuth2 token endpoint (the sentinelhub-py default path).
    client_id, client_secret : str
        The credentials it accepts.
    demo_collection : str or None
        Id of the demo collection, when it was seeded.
    """

    def __init__(
        self,
        server: BYOCServer,
        *,
        demo_collection: str | None = None,
        s3: LocalS3 | None = None,
        owns_s3: bool = False,
    ):
        self._server = server
        self.s3 = s3  # the S3 endpoint tiles are ingested from (local_service(s3=...))
        self._owns_s3 = owns_s3
        self.base_url = server.base_url
        self.token_url = self.base_url + TOKEN_PATHS[1]
        self.client_id = server.issuer.client_id
        self.client_secret = server.issuer.client_secret
        self.demo_collection = demo_collection
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __repr__(self) -> str:
        state = ", stopped" if self._stopped else ""
        return f"LocalService(base_url={self.base_url!r}, client_id={self.client_id!r}{state})"

    def __enter__(self) -> LocalService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether it is serving on its background thread now."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def store(self) -> Store:
        """The service's storage (for tests and seeding)."""
        return self._server.store

    @property
    def faults(self) -> Faults:
        """The faults injected now; assign a new `Faults` to change them."""
        return self._server.faults

    @faults.setter
    def faults(self, value: Faults | None) -> None:
        self._server.faults = value or Faults()

    @property
    def rate_limit(self) -> RateLimit | None:
        """The per-client token bucket, or None."""
        return self._server.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: RateLimit | None) -> None:
        self._server.rate_limit = value

    @property
    def limits(self) -> Limits:
        """The timeouts and size limits in force."""
        return self._server.limits

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the token endpoint handed out."""
        return self._server.issuer.issued

    @property
    def requests_served(self) -> int:
        """How many BYOC API requests got an answer (for tests and benchmarks)."""
        return self._server.requests_served

    def wait_connections(
        self,
        address: str = "127.0.0.1",
        *,
        held: int,
        idle: int | None = None,
        busy: int | None = None,
        timeout: float = 60.0,
    ) -> bool:
        """Wait until ``address`` holds ``held`` connections, as many as asked of them idle.

        ``idle``: kept alive after an answer; ``busy``: with a request under way.

        Returns whether it did within ``timeout`` seconds: lets a script or a test know
        what the service has seen (a closed connection ended, an answered one waits for
        its next request) without sleeping. See
        `byocframe.emulator.connections.LimitedHTTPServer.wait_connections`.

        Examples
        --------
        >>> import byocframe
        >>> with byocframe.local_service() as service:
        ...     service.wait_connections(held=0, timeout=5)
        True
        """
        return self._server.wait_connections(
            address, held=held, idle=idle, busy=busy, timeout=timeout
        )

    def client(self, **kwargs: Any) -> Client:
        """A `byocframe.Client` for this service."""
        from byocframe.client.api import Client

        return Client(
            base_url=self.base_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_url=self.token_url,
            **kwargs,
        )

    def sh_config(self, **kwargs: Any) -> Any:
        """A sentinelhub-py ``SHConfig`` for this service (needs sentinelhub-py).

        oauthlib refuses a plain-HTTP token URL unless ``OAUTHLIB_INSECURE_TRANSPORT`` is
        set; this sets it for the process, which is safe only because the service is on
        the loopback interface.
        """
        from sentinelhub import SHConfig

        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
        return SHConfig(
            use_defaults=True,
            sh_client_id=self.client_id,
            sh_client_secret=self.client_secret,
            sh_base_url=self.base_url,
            sh_token_url=self.token_url,
            **kwargs,
        )

    def register_files(self, bucket: str, files: Mapping[str, Mapping[str, Any]]) -> int:
        """Put files into a virtual bucket: ``{key: {"crs", "bounds", ...}}``."""
        return self._server.store.register_files(bucket, manifest_rows(files))

    def ingest_pending(self) -> int:
        """Finish the ingestion of every waiting tile now; return how many."""
        return self._server.ingestor.run_pending()

    def seed(
        self,
        collection_id: str,
        tiles: TileSource,
        *,
        chunk_size: int = SEED_CHUNK,
        progress: bool | None = False,
    ) -> list[str]:
        """Create many tiles at once, exactly as one POST per tile would; return their ids.

        Each record is validated as a POST body, gets a new id, ``created`` and the
        WAITING status, and is ingested as the service's ``ingestion_delay`` says;
        ``chunk_size`` tiles are committed per transaction, with their Catalog items
        (`byocframe.emulator.seeding`). The HTTP API itself still creates one tile per
        request, as the real one does.

        Parameters
        ----------
        collection_id : str
        tiles : DataFrame, path or iterable of dict
            A tile frame, the path of a GeoParquet file of one, or API-shaped records
            (``path``, ``sensingTime``, ``coverGeometry``; other fields are ignored).
        chunk_size : int, default 10 000
            Tiles per transaction.
        progress : bool or None, default False
            A progress bar (None: when interactive; needs tqdm).

        Returns
        -------
        list of str

        Raises
        ------
        ValidationError
            For a record a POST would refuse or a path the collection already has.

        Examples
        --------
        >>> with local_service() as service:
        ...     client = service.client()
        ...     cid = client.create_collection({"name": "big", "s3Bucket": "b"})["id"]
        ...     ids = service.seed(cid, [{"path": f"t{k}/(BAND).tif"} for k in range(500)])
        ...     len(list(client.iter_tiles(cid)))
        500
        """
        return seed_tiles(
            self._server.store,
            self._server.ingestor,
            collection_id,
            tiles,
            chunk_size=chunk_size,
            progress=progress,
        )

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the command line's way)."""
        self._server.serve_forever(poll_interval=0.2)

    def start(self) -> LocalService:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="byoc-local-service",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the database (a second call does nothing)."""
        if self._stopped:
            return
        self._stopped = True
        wait = self._server.limits.stop_timeout
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=wait)
            self._thread = None
        # no kept-alive connection reaches a closed store
        if not self._server.close_connections(wait):
            _log.warning(
                "a request was still under way after %s s (Limits.stop_timeout); closing the "
                "database anyway",
                wait,
            )
        self._server.server_close()
        self._server.ingestor.close(wait)
        self._server.store.close()
        if self.s3 is not None and self._owns_s3:
            self.s3.stop()


_P = ParamSpec("_P")


def _keywords_of(
    source: Callable[_P, LocalService],
) -> Callable[[Callable[..., LocalService]], Callable[_P, LocalService]]:
    """Give the decorated function the signature of ``source``, which it passes its keywords to.

    One signature for two public functions: ``help()``, the API reference (read by
    inspection) and type checkers see ``source``'s parameters, defaults and types.
    """

    def take(func: Callable[..., LocalService]) -> Callable[_P, LocalService]:
        # only __wrapped__: inspect.signature follows it; the name and docstring stay
        return functools.wraps(source, assigned=(), updated=())(func)

    return take


def create_service(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    db: str | os.PathLike[str] | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    demo: bool = False,
    demo_tiles: int = 20_000,
    ingestion_delay: float | None = 0.0,
    faults: Faults | None = None,
    rate_limit: RateLimit | None = None,
    token_lifetime: int = 3600,
    clock: Callable[[], float] = time.time,
    limits: Limits | None = None,
    throttle: FailureThrottle | None = None,
    s3: bool | LocalS3 = False,
) -> LocalService:
    """Build a `LocalService` without starting it (`local_service` starts it too).

    These keywords are those of `local_service` as well (one signature, this one): the
    command line builds the service with them and serves in its own thread.

    Parameters
    ----------
    host : str, default "127.0.0.1"
    port : int, default 0
        0 picks a free port.
    db : path, optional
        SQLite file that keeps the state across restarts; in memory when omitted.
    client_id, client_secret : str
        The credentials the service accepts (well-known defaults: it is local).
    demo : bool, default False
        Seed the demo collection (about ``demo_tiles`` tiles, once per database).
    demo_tiles : int, default 20 000
    ingestion_delay : float or None, default 0
        0: new tiles are ingested as soon as their request is answered; seconds: they
        pass through QUEUED and INGESTING on a timer; None: only `LocalService.ingest_pending`.
    faults : Faults, optional
        Latency, 5xx, 429 and dropped connections to inject (seeded).
    rate_limit : RateLimit, optional
        A per-client token bucket answering 429 with ``Retry-After`` in milliseconds.
    token_lifetime : int, default 3600
        Seconds an access token lives.
    clock : callable
        Seconds since the epoch, for token expiry and timestamps.
    limits : Limits, optional
        Timeouts, connection and size limits (`Limits` defaults).
    throttle : FailureThrottle, optional
        How repeated failed token requests are slowed down (5 free, then 0.5 s doubling
        up to 60 s, per client address).
    s3 : bool or LocalS3, default False
        True: also start a local S3 endpoint (`LocalService.s3`, moto's server; needs
        the ``local-s3`` extra), stopped with the service; or a running `LocalS3` to use.
        Tiles of collections whose bucket exists there are ingested from the real files
        (`byocframe.emulator.files_source`); other buckets use the manifest.

    Returns
    -------
    LocalService
        Not serving yet: ``start()`` serves on a background thread, ``serve_forever()``
        in the calling one, ``stop()`` closes what it opened.

    Raises
    ------
    ValueError
        For a host beyond this machine with the well-known default credentials or a
        secret shorter than 16 characters.

    Examples
    --------
    >>> service = create_service(demo=True, demo_tiles=5)
    >>> service.running, service.start().running
    (False, True)
    >>> service.stop()
    """
    check_credentials(host, client_id, client_secret)
    if not is_loopback(host):
        warnings.warn(
            f"the local BYOC service listens on {host}, beyond this machine, without TLS: "
            "credentials and data cross the network in clear text",
            ByocframeWarning,
            stacklevel=2,
        )
    store = Store(":memory:" if db is None else os.fspath(db), clock=clock)
    issuer = TokenIssuer(client_id, client_secret, lifetime=token_lifetime, clock=clock)
    owns = s3 is True
    local_s3 = LocalS3().start() if s3 is True else (s3 or None)  # its client is needed now
    files = FilesSource(local_s3.client()) if local_s3 is not None else None
    # built before the demo is seeded: it resumes only tiles a previous run left pending
    ingestor = Ingestor(store, delay=ingestion_delay, files=files)
    demo_id = seed_demo(store, demo_tiles) if demo else store.get_meta("demo_collection")
    server = BYOCServer(
        (host, port),
        store,
        issuer,
        ingestor,
        faults=faults,
        rate_limit=rate_limit,
        limits=limits,
        throttle=throttle or FailureThrottle(),
    )
    return LocalService(server, demo_collection=demo_id, s3=local_s3, owns_s3=owns)


def check_credentials(host: str, client_id: str, client_secret: str) -> None:
    """Refuse to listen beyond loopback with default or weak credentials.

    Examples
    --------
    >>> check_credentials("127.0.0.1", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    >>> check_credentials("0.0.0.0", "me", "0123456789abcdef")
    >>> check_credentials("0.0.0.0", DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: refusing to serve on 0.0.0.0 with the well-known default credentials; ...
    """
    if not client_id or not client_secret:
        raise ValueError("client_id and client_secret must not be empty")
    if is_loopback(host):
        return
    how = (
        "give a client id and a secret of at least 16 characters (BYOCFRAME_SERVICE_CLIENT_ID "
        "and BYOCFRAME_SERVICE_CLIENT_SECRET, or --client-secret-file)"
    )
    if client_id == DEFAULT_CLIENT_ID or client_secret == DEFAULT_CLIENT_SECRET:
        raise ValueError(
            f"refusing to serve on {host} with the well-known default credentials; {how}"
        )
    if len(client_secret) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"refusing to serve on {host} with a {len(client_secret)}-character secret; {how}"
        )


@_keywords_of(create_service)
def local_service(**options: Any) -> LocalService:
    """Start the local BYOC service on a background thread and return it.

    Use it in a ``with`` block, which stops it at the end, or, in a notebook cell,
    keep the returned service and call its ``stop()`` when done (the process
    exiting also ends it: it serves on a daemon thread).

    It takes the keywords of `create_service`, which documents them: this function's
    signature is that one (`_keywords_of`), so the two cannot drift apart.

    Returns
    -------
    LocalService
        Serving already; also a context manager that stops it on exit.

    Examples
    --------
    >>> with local_service(demo=True, demo_tiles=50) as service:
    ...     tiles = list(service.client().iter_tiles(service.demo_collection))
    >>> len(tiles)
    50

    Without ``with``, as in a Jupyter cell:

    >>> service = local_service(demo=True, demo_tiles=50)
    >>> service.running
    True
    >>> service.stop()
    >>> service.running
    False
    """
    service = create_service(**options)
    try:
        return service.start()
    except BaseException:
        service.stop()
        raise
