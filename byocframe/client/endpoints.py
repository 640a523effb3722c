"""The BYOC API's resources as methods: collections and their tiles.

`ByocEndpoints` sends each request of the BYOC API through the session (retries, pace,
deadlines) and the global lookup it builds on (a 404 for a collection held elsewhere
says where); records go out as dicts or sentinelhub-py dataclasses, and pages come back
one at a time. `byocframe.Client` is these endpoints with its ways to be made.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from byocframe.client.lookup import GlobalLookup
from byocframe.exceptions import NotFoundError, TransportError, ValidationError
from byocframe.ids import CollectionLike, TileLike, path_of, resource_id
from byocframe.typing import RecordLike

__all__ = ["ByocEndpoints"]


class ByocEndpoints(GlobalLookup):
    """The collection and tile endpoints of the BYOC API (the methods of `Client`).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service() as service:
    ...     client = service.client()
    ...     cid = client.create_collection({"name": "demo", "s3Bucket": "bucket"})["id"]
    ...     client.find_tile(cid, "a/(BAND).tif") is None
    True
    """

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
        return self._data("POST", "/collections", json=_payload(collection, "create_collection"))

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
        given = collection if record is None else record
        body = _payload(given, "update_collection", whole=True)
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
        if isinstance(status, str) and not status.strip():
            # a service reads "status=" as no filter: the answer would be every tile
            raise ValueError(
                f"status is empty ({status!r}): give a status such as 'FAILED', or None "
                "for tiles of every status"
            )
        # the API's statuses are upper case; "failed" as the command line takes it
        status = status.upper() if isinstance(status, str) else status
        params = {"status": status, "path": path, "sort": sort, "count": size}
        pages = self._pages(path_of("collections", cid, "tiles"), params, bad_ids=bad_ids)
        return _as_asked(self._explained(pages, cid), {"status": status, "path": path})

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
        """The tile with this path, or None (a listed tile of another path is refused)."""
        page = next(self.tile_pages(collection, path=path), [])
        return page[0] if page else None

    def _tile_path(self, collection: CollectionLike, tile: TileLike, *rest: str) -> str:
        cid, tid = resource_id(collection, "collection"), resource_id(tile, "tile")
        return path_of("collections", cid, "tiles", tid, *rest)

    def get_tile(
        self, collection: CollectionLike, tile: TileLike, *, at: float | None = None
    ) -> dict[str, Any]:
        """One tile (``at``: a pacing turn from `reserve_turns`).

        An answer holding another tile's id (a caching proxy keyed on less than the
        URL, a peer's bug) is a `TransportError`: a load, a check or an adoption built
        on it would act on that other tile. The ids are compared as UUIDs, in either
        case.
        """
        path = self._tile_path(collection, tile)
        data = self._data("GET", path, at=at)
        asked, held = resource_id(tile, "tile"), data.get("id")
        # a UUID is read in either case (RFC 4122): the service writes its own
        if held is not None and str(held).lower() != asked.lower():
            raise TransportError(
                f"GET {self._url(path)} answered tile {held!r}, not the one asked for: "
                "nothing is concluded from it (check the service or proxy)",
                method="GET",
                url=self._url(path),
            )
        return data

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
        return self._data(
            "POST", path_of("collections", cid, "tiles"), json=_payload(tile, "create_tile")
        )

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

        A field in snake_case (``tile["sensing_time"]``, as Sentinel Hub's tutorial
        writes it) is not one the API reads, and a row of a tile frame holds none but
        the path: both are a `ValidationError` before anything is sent (sentinelhub-py
        sends them, and the change is lost); a frame's edits go with `byocframe.push`.

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
            given = _payload(tile, "update_tile", whole=True)
            # what sentinelhub-py's update_tile sends of a whole tile record
            body = {k: given[k] for k in ("path", "coverGeometry", "sensingTime") if given.get(k)}
        else:
            body = _payload(record, "update_tile")
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


def _page_size(count: int | None) -> str | None:
    if count is not None and not (isinstance(count, int) and 1 <= count <= 100):
        raise ValueError(f"count must be an integer from 1 to 100, got {count!r}")
    return None if count is None else str(count)


#: The fields a write sends, as the API spells them. A record holding one of them in
#: snake_case (sentinelhub-py's dataclass attributes, a frame's columns, the tutorial's
#: ``tile["sensing_time"]``) would reach the API as a field it does not read: the change
#: would be lost without a word, so it is refused before sending.
_WRITTEN_FIELDS = ("sensingTime", "coverGeometry", "tileGeometry", "s3Bucket", "noData")
_SNAKE_CASE = {re.sub(r"([A-Z])", r"_\1", name).lower(): name for name in _WRITTEN_FIELDS}


def _payload(record: object, call: str, *, whole: bool = False) -> dict[str, Any]:
    """A record as sent: a dict as it is, a dataclass as sentinelhub-py sends it.

    ``call`` names the method for the messages; ``whole`` says the record is the
    resource itself (``update_tile(collection, tile)``), not a body to send to it.
    """
    kind = "tile" if "tile" in call else "collection"
    to_dict = getattr(record, "to_dict", None)
    if not isinstance(record, Mapping) and callable(to_dict) and hasattr(record, "index"):
        # a pandas row: its columns are the frame's (sensing_time, native_cover, ...),
        # none of them a field the API reads but the path
        push = "byocframe.push(gdf, client)" if kind == "tile" else "collections.byoc.push(client)"
        raise ValidationError(
            f"{call} sends an API record (a dict from get_{kind}, or a sentinelhub-py "
            f"dataclass), not a row of a {kind} frame, whose columns the API does not "
            f"read: edit the frame and send the edits with {push}"
        )
    if isinstance(record, Mapping):
        body = dict(record)
    elif callable(to_dict):
        body = dict(to_dict())
    elif whole:
        raise TypeError(
            f"{call}(collection, x) sends x as it is: give a dict or a sentinelhub-py "
            f"dataclass with its id, or the record to send as a third argument, got "
            f"{type(record).__name__}"
        )
    else:
        raise TypeError(
            f"a record must be a dict or a sentinelhub-py dataclass (ByocCollection, "
            f"ByocTile), got {type(record).__name__}"
        )
    unread = [key for key in body if key in _SNAKE_CASE]
    if unread:
        key = unread[0]
        raise ValidationError(
            f"{call}: the record holds {key!r}, a name the API does not read, so its value "
            f"would not be sent: the API reads {_SNAKE_CASE[key]!r} (set "
            f"{kind}[{_SNAKE_CASE[key]!r}] instead)"
        )
    return body


def _as_asked(
    pages: Iterator[list[dict[str, Any]]], asked: Mapping[str, str | None]
) -> Iterator[list[dict[str, Any]]]:
    """The pages, each tile checked to hold what the listing asked the service for.

    A service that ignores ``status=`` or ``path=`` (a proxy, another implementation)
    answers with tiles of every status or path: a load of the FAILED tiles would hold
    them all, and deleting or reingesting "what was loaded" would reach every tile. Such
    a listing is refused as a whole, at its first tile that does not match.
    """
    wanted = {k: v for k, v in asked.items() if v is not None}
    if not wanted:  # a whole listing: nothing to check, no walk over its tiles
        yield from pages
        return
    for page in pages:
        for tile in page:
            for key, value in wanted.items():
                held = tile.get(key) if isinstance(tile, dict) else None
                if held != value:
                    tid = tile.get("id") if isinstance(tile, dict) else None
                    raise TransportError(
                        f"the service listed tile {tid!r} with {key} {held!r} when asked "
                        f"for {key}={value!r}: it does not apply that filter, so nothing "
                        "is concluded from this listing (check the service or proxy)"
                    )
        yield page
