"""Seeding the local service with many tiles at once, beside its one-tile-per-request API.

The real BYOC API creates one tile per POST, and so does the service's. Loading a
million tiles that way costs about a millisecond of HTTP per tile; `seed_tiles` takes
the same records in bulk and stores exactly what the POSTs would have: each record goes
through the POST's validation (`~byocframe.emulator.validate.new_tiles`: path, sensing
time, cover; every other field of a record is ignored, as the API ignores it), gets the
state `Store.create_tile` would give it (`Store.new_tile_state`: a new id, ``created``,
WAITING) and, with ``ingestion_delay=0``, the outcome `Ingestor.ingest` would commit
right after its POST (`Ingestor.ingest_new`), in the records' order. What differs is
how the work is done: ``chunk_size`` records at a time, their covers read together,
their files looked up in one query, each tile written once (`Store.add_tiles`, one
statement), and the chunk, its ingestion and its Catalog items in one transaction, so
a chunk is stored whole or not at all.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import islice
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import pandas as pd

from byocframe.emulator.coords import transform_many
from byocframe.emulator.problems import ApiProblem
from byocframe.emulator.store import Store
from byocframe.emulator.validate import new_tiles
from byocframe.exceptions import ValidationError
from byocframe.progress import ProgressBar

if TYPE_CHECKING:
    from byocframe.emulator.ingest import Ingestor

__all__ = ["SEED_CHUNK", "TileSource", "seed_records", "seed_tiles"]

#: What seeding takes: a tile frame, the path of a GeoParquet file of one, or API-shaped
#: records (``path``, ``sensingTime``, ``coverGeometry``; other fields are ignored).
TileSource: TypeAlias = "pd.DataFrame | str | os.PathLike[str] | Iterable[Mapping[str, Any]]"

log = logging.getLogger("byocframe.emulator")

#: Tiles committed per transaction by `seed_tiles` (the lock is held that long).
SEED_CHUNK = 10_000


def seed_records(tiles: Any, chunk_size: int = SEED_CHUNK) -> Iterable[Mapping[str, Any]]:
    """The API-shaped records of a tile frame, a GeoParquet file of one, or records.

    A frame's records are made ``chunk_size`` rows at a time, as they are seeded: a
    million-tile frame never becomes a million dicts at once.

    Parameters
    ----------
    tiles : DataFrame, path or iterable of dict
        A tile frame (`byocframe.read_tiles`, `byocframe.tiles_from_records`), the path
        of a GeoParquet file written from one (``frame.to_parquet``), or records as the
        API takes or lists them (``path``, ``sensingTime``, ``coverGeometry``).
    chunk_size : int, default 10 000
        Rows of a frame converted at a time.

    Returns
    -------
    iterable of dict

    Raises
    ------
    ValidationError
        When the file passes `byocframe.read_file`'s bounds (rows, bytes a row, what its
        columns take once read; `byocframe.io.files.check_parquet_rows`).

    Examples
    --------
    >>> list(seed_records([{"path": "a/(BAND).tif"}]))
    [{'path': 'a/(BAND).tif'}]
    """
    if isinstance(tiles, str | os.PathLike):
        import geopandas as gpd

        from byocframe.io.files import check_parquet_rows

        check_parquet_rows(os.fspath(tiles))  # rows, bytes a row and expansion, before any is read
        tiles = gpd.read_parquet(tiles)
    if isinstance(tiles, pd.DataFrame):
        return _frame_records(tiles, chunk_size)
    if isinstance(tiles, Mapping) or not isinstance(tiles, Iterable):
        raise TypeError(
            f"tiles must be a tile frame, a GeoParquet path or records, got {type(tiles).__name__}"
        )
    return tiles


def _frame_records(frame: pd.DataFrame, size: int) -> Iterator[Mapping[str, Any]]:
    """The records of a frame, converted ``size`` rows at a time."""
    from byocframe.frame.convert import to_records

    for start in range(0, len(frame), size):
        yield from to_records(frame.iloc[start : start + size])


def seed_tiles(
    store: Store,
    ingestor: Ingestor | None,
    cid: str,
    tiles: TileSource,
    *,
    chunk_size: int = SEED_CHUNK,
    progress: bool | None = False,
) -> list[str]:
    """Create many tiles in collection ``cid`` as that many POSTs would; return their ids.

    Parameters
    ----------
    store : Store
    ingestor : Ingestor or None
        Told of every new tile, as after a POST (None: the tiles stay WAITING).
    cid : str
        The collection's id.
    tiles : DataFrame, path or iterable of dict
        See `seed_records`.
    chunk_size : int, default 10 000
        Tiles per transaction.
    progress : bool or None, default False
        A progress bar (None: when interactive; needs tqdm).

    Returns
    -------
    list of str
        The new tiles' ids, in the order of ``tiles``.

    Raises
    ------
    ValidationError
        A record the POST would refuse (400), or a path the collection already has
        (409): its chunk is not stored, earlier chunks are.

    Examples
    --------
    >>> from byocframe.emulator.validate import new_collection
    >>> store = Store()
    >>> cid = store.create_collection(new_collection({"name": "n", "s3Bucket": "b"}))["id"]
    >>> len(seed_tiles(store, None, cid, [{"path": f"t{k}/(BAND).tif"} for k in range(3)]))
    3
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    store.collection_doc(cid)  # an unknown collection fails before anything is read
    records = seed_records(tiles, chunk_size)
    total = len(tiles) if isinstance(tiles, pd.DataFrame | list) else None
    ids: list[str] = []
    with _collector_paused() as tidy, ProgressBar(total, progress, "seeded") as bar:
        for first, chunk in _chunks(records, chunk_size):
            fields = _fields(first, chunk)
            ids += _store_chunk(store, ingestor, cid, fields, first)
            tidy()
            bar.update(len(fields))
            log.info("seeded %d tiles into collection %s", len(ids), cid)
    return ids


@contextmanager
def _collector_paused() -> Iterator[Callable[[], None]]:
    """Keep the garbage collector's passes off the seed; yield what to run between chunks.

    Seeding allocates millions of short-lived objects, which trigger collections, and
    each full collection walks every object of the process: the caller's records too
    (at 20,000 tiles, a third of the seeding time). So the objects that exist now are
    set aside (`gc.freeze`, unless the process froze some itself) and automatic
    collection is off until the seed ends; the function yielded collects what the last
    chunk left (its cycles, if any: the states themselves are freed by reference
    counting), so memory stays bounded by one chunk.
    """
    if not gc.isenabled():  # the caller manages the collector: leave it alone
        yield lambda: None
        return
    frozen = gc.get_freeze_count() == 0
    if frozen:
        gc.freeze()
    gc.disable()

    def tidy() -> None:
        gc.collect(1)

    try:
        yield tidy
    finally:
        gc.enable()
        if frozen:
            gc.unfreeze()


def _chunks(
    records: Iterable[Mapping[str, Any]], size: int
) -> Iterator[tuple[int, list[Mapping[str, Any]]]]:
    iterator, first = iter(records), 0
    while chunk := list(islice(iterator, size)):
        yield first, chunk
        first += len(chunk)


def _fields(first: int, chunk: list[Any]) -> list[dict[str, Any]]:
    """The POST's validation of each record of a chunk (the covers read together).

    The first record refused, in order, is the one named.
    """
    dicts = next((k for k, rec in enumerate(chunk) if not isinstance(rec, Mapping)), len(chunk))
    out = []
    for k, fields in enumerate(new_tiles(chunk[:dicts])):
        if isinstance(fields, ApiProblem):
            _refuse(first + k, chunk[k], fields)
        out.append(fields)
    if dicts < len(chunk):
        raise ValidationError(
            f"tile {first + dicts}: a record must be a dict like a POST body, "
            f"got {type(chunk[dicts]).__name__}"
        )
    return out


def _refuse(position: int, record: Mapping[str, Any], err: ApiProblem) -> NoReturn:
    """Raise the ValidationError of a record the POST would refuse."""
    raise ValidationError(
        f"tile {position} (path {record.get('path')!r}): {err.message}; "
        "fix the record (the API would refuse it too)",
        [
            {
                "id": record.get("id"),
                "field": "record",
                "value": record.get("path"),
                "problem": err.message,
            }
        ],
    ) from err


def _store_chunk(
    store: Store, ingestor: Ingestor | None, cid: str, fields: list[dict[str, Any]], first: int
) -> list[str]:
    """Create (and with ``ingestion_delay=0`` ingest) one chunk in one transaction.

    The tiles are built as `Store.create_tile` builds them and, when the service
    ingests at once, ingested in memory as `Ingestor.ingest` would right after each
    POST (`Ingestor.ingest_new`: a folder path rewritten by one tile's ingestion is
    taken when the next tile is created); then the chunk is written in one statement.
    """
    with store.transaction():
        collection = store.collection_doc(cid)
        states = [store.new_tile_state(cid, tile) for tile in fields]
        taken = store.paths_taken(cid, [state["path"] for state in states])
        paths: set[str] = set()  # the chunk's tiles' paths as they are now

        def create(k: int) -> None:
            path = states[k]["path"]
            if path in paths or path in taken:
                raise ValidationError(
                    f"tile {first + k}: A tile with path {path!r} already exists in "
                    f"collection {cid}. Nothing of tiles {first} to "
                    f"{first + len(states) - 1} was stored; remove or rename it and seed again",
                )
            paths.add(path)

        def claim(path: str, moved: str) -> bool:
            if moved in paths or store.paths_taken(cid, [moved]):
                return False
            paths.discard(path)
            paths.add(moved)
            return True

        bands = None
        if ingestor is not None and ingestor.delay == 0:
            bands = ingestor.ingest_new(collection, states, claim, create)
        else:
            for k in range(len(states)):
                create(k)
        store.add_tiles(cid, states, _natives(states), bands=bands)
    if ingestor is not None and ingestor.delay != 0:  # told after the commit, as after a POST
        for state in states:
            ingestor.submit(cid, state["id"])
    return [state["id"] for state in states]


def _natives(states: list[dict[str, Any]]) -> list[Any]:
    """Each state's cover as its answer shows it (in its CRS), one transform per CRS."""
    out: list[Any] = [None] * len(states)
    by_crs: dict[str, list[int]] = {}
    for k, state in enumerate(states):
        if state.get("cover84"):
            by_crs.setdefault(state.get("crs") or "EPSG:4326", []).append(k)
    for crs, members in by_crs.items():
        covers = transform_many([states[k]["cover84"] for k in members], "EPSG:4326", crs)
        for k, cover in zip(members, covers, strict=True):
            out[k] = cover
    return out
