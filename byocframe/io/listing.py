"""Read collections and tiles from a live service into frames."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.atomic import Scratch
from byocframe.client.api import Client, resolve_client
from byocframe.exceptions import ValidationError
from byocframe.frame.collection_state import stamp_collections
from byocframe.frame.convert import collections_from_records, tile_frame
from byocframe.frame.deletions import with_loaded_ids
from byocframe.frame.record_checks import Errors, check_errors
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.snapshot import stamp
from byocframe.frame.tokens import load_number
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import DEFAULT_DENSIFY
from byocframe.ids import CollectionLike, resource_id
from byocframe.io.geoparquet_read import read_row_groups
from byocframe.io.geoparquet_write import ParquetSink
from byocframe.io.pages import PAGES_AHEAD, Assembly, from_both_ends
from byocframe.progress import ProgressBar
from byocframe.stac.catalog import DatetimeLike, search_records
from byocframe.stac.columns import merge_stac_columns, stac_columns
from byocframe.stac.parquet import StacSink
from byocframe.typing import AnyClient, CrsLike, GeometryLike

__all__ = [
    "BATCH_SIZE",
    "LISTING_FORMATS",
    "PAGES_AHEAD",
    "read_collections",
    "read_tiles",
    "write_listing",
]

#: Listed tiles converted into a partial frame at a time: the client then holds the
#: frame so far plus at most this many records (``read_tiles(batch_size=...)``).
BATCH_SIZE = 10_000


def read_collections(client: AnyClient, search: str | None = None) -> pd.DataFrame:
    """List collections into a DataFrame (see `collections_from_records`).

    Parameters
    ----------
    client : Client, sentinelhub-py SHConfig or SentinelHubBYOC
    search : str, optional
        Words joined by ``|`` (or) and ``&`` (and), matched by the service.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=10) as service:
    ...     frame = byocframe.read_collections(service.client())
    >>> frame["name"].tolist()
    ['byocframe demo: global mosaic']
    """
    client = resolve_client(client)
    frame = collections_from_records(client.iter_collections(search))
    stamp_collections(frame, service=client.base_url)
    return frame


def read_tiles(
    client: AnyClient,
    collection: CollectionLike,
    *,
    crs: CrsLike = WGS84,
    status: str | None = None,
    progress: bool | None = None,
    errors: Errors = "warn",
    densify: float | None = DEFAULT_DENSIFY,
    both_ends: bool = True,
    bbox: Sequence[float] | None = None,
    datetime: DatetimeLike | None = None,
    intersects: GeometryLike | None = None,
    filter: str | Mapping[str, Any] | None = None,
    batch_size: int = BATCH_SIZE,
) -> gpd.GeoDataFrame:
    """List the tiles of a collection into a GeoDataFrame (see `tiles_from_records`).

    With ``bbox``, ``datetime``, ``intersects`` or ``filter``, the tiles are found
    through the Catalog API (`byocframe.stac.catalog.search_records`): only INGESTED tiles,
    a few requests instead of one per 100 tiles of the collection, and the same frame
    (columns, geometries, snapshot for `byocframe.edits.push`) as a full listing.

    The API's cursor cannot be split, so pages of 100 tiles come one after the other;
    by default two cursors run at once, oldest first and newest first, until they meet,
    which halves the round trips. The records are converted as they arrive, in
    vectorised batches of ``batch_size``: the client holds the frame so far and one
    batch of records, not every record (`write_listing` writes the batches to a file
    instead, for collections larger than memory).

    Parameters
    ----------
    client : Client, sentinelhub-py SHConfig or SentinelHubBYOC
    collection : str, dict, row of `read_collections` or sentinelhub-py ``ByocCollection``
        The collection or its id.
    crs : str or pyproj.CRS, default "EPSG:4326"
        CRS of the geometry columns.
    status : str, optional
        Only tiles with this status (``"FAILED"``, ...), filtered by the service.
    progress : bool, optional
        Show a progress bar (needs tqdm). By default, only when the output is an
        interactive terminal or notebook.
    errors : {"warn", "raise"}, default "warn"
        Tiles with values that cannot be read (a time that is not ISO-8601, a cover
        that is not GeoJSON, an unknown status, no usable id) are loaded as far as
        they go with one `ByocframeWarning` naming them ("warn"), or refused with a
        `ValidationError` ("raise"); see `tiles_from_records`.
    densify
        As in `tiles_from_records`.
    both_ends : bool, default True
        List from both ends of the ``created`` order at once (measured: 5,000 tiles
        with 20 ms per request in 1.1 s instead of 1.9 s). False: one cursor.
    bbox : [west, south, east, north], optional
        Only tiles whose cover intersects this lon/lat box (west > east: across the
        antimeridian).
    datetime : str, datetime or (start, end), optional
        Only tiles sensed then (see `byocframe.stac.catalog.catalog_datetime`); tiles
        without a sensing time never match.
    intersects : shapely geometry or GeoJSON dict, optional
        Only tiles whose cover intersects it (lon/lat).
    filter : str or dict, optional
        A CQL2 filter on ``id``, ``datetime`` or ``proj:epsg``.
    batch_size : int, default `BATCH_SIZE` (10 000)
        Records converted at a time. Larger batches convert a little faster and hold
        more records at once (about 5 KB each as received).

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by tile id; the ``loaded`` column remembers what each row held, so
        `byocframe.edits.route.push` can send only the edits (see `byocframe.frame.snapshot`).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=120) as service:
    ...     gdf = byocframe.read_tiles(service.client(), service.demo_collection)
    >>> len(gdf), gdf.crs.to_string()
    (120, 'EPSG:4326')

    Only the tiles of one area and month, found through the Catalog:

    >>> with byocframe.local_service(demo=True, demo_tiles=2000) as service:
    ...     june = byocframe.read_tiles(service.client(), service.demo_collection,
    ...                                 bbox=[-60, -40, -30, 0], datetime=("2024-06", "2024-06-30"))
    >>> len(june) > 0, set(june["status"]), june["sensing_time"].dt.month.unique().tolist()
    (True, {'INGESTED'}, [6])
    """
    client = resolve_client(client)
    cid = resource_id(collection, "collection")
    check_errors(errors)
    size = _batch_size(batch_size)
    filtered = not (bbox is None and datetime is None and intersects is None and filter is None)
    pages = _pages(client, cid, status, both_ends, bbox, datetime, intersects, filter, progress)
    assembly = Assembly(size, crs=crs, errors=errors, densify=densify)
    with ProgressBar(None, progress, "listing tiles") as bar:
        for stream, page in pages:
            assembly.add(stream, page)
            bar.update(len(page))
    listed_at = _listing_ended()
    gdf = assembly.finish(by_created=both_ends and not filtered)
    # the loaded ids are the whole collection only without filters: push's verify may
    # then list the collection instead of reading each written tile
    gdf.attrs[ATTRS_KEY] = {
        **gdf.attrs[ATTRS_KEY],
        "whole": status is None and not filtered and not assembly.repeats,
        "listed_at": listed_at,
    }
    stamp(gdf, collection=cid, service=client.base_url)  # once, where it was loaded from
    return gdf


def _listing_ended() -> str:
    """Now, as a load records when its listing ended (``attrs["byocframe"]["listed_at"]``).

    ISO 8601 in UTC, to the microsecond, from this machine's clock: `byocframe.reconcile`
    compares it with when a bucket listing began (the same clock) to know that every
    tile loaded existed before that listing did.

    Examples
    --------
    >>> _listing_ended().endswith("+00:00")
    True
    """
    return pd.Timestamp.now(tz="UTC").isoformat()


def write_listing(
    client: AnyClient,
    collection: CollectionLike,
    path: str | os.PathLike[str],
    *,
    crs: CrsLike = WGS84,
    status: str | None = None,
    progress: bool | None = None,
    errors: Errors = "warn",
    densify: float | None = DEFAULT_DENSIFY,
    both_ends: bool = True,
    bbox: Sequence[float] | None = None,
    datetime: DatetimeLike | None = None,
    intersects: GeometryLike | None = None,
    filter: str | Mapping[str, Any] | None = None,
    batch_size: int = BATCH_SIZE,
    format: str = "geoparquet",
) -> int:
    """List the tiles of a collection straight into a GeoParquet file; return how many.

    The file is the one ``byocframe.write_file(byocframe.read_tiles(...), path)``
    writes, built without ever holding the whole frame: each batch of ``batch_size``
    records is converted and written to a scratch file next to ``path`` as it arrives,
    then the batches are stamped (the ``loaded`` column, which names the whole load)
    and written to ``path`` one at a time. Memory stays about one batch plus a few
    hundred bytes a tile of ids (measured: 831 MB at a million tiles over HTTP, where
    `read_tiles` needs 4.5 GB; ``docs/benchmarks.md``). `byocframe.read_file` reads the
    file back into the frame `read_tiles` gives (except that the tiles of a service
    whose order is not that of ``created`` are kept in the service's order), ready for
    `byocframe.push`.

    With ``format="stac-geoparquet"`` the same batches become STAC Items instead: the
    file `byocframe.stac.write_stac_geoparquet` writes from the frame `read_tiles` gives
    (one row group a batch), with the collection's record read from the service first.

    The file appears only once complete: it is written in a scratch folder next to
    ``path`` and renamed over it, so an error or an interruption leaves ``path`` as it
    was and nothing beside it.

    Parameters
    ----------
    client, collection, crs, status, progress, errors, densify, both_ends
        As in `read_tiles`.
    bbox, datetime, intersects, filter, batch_size
        As in `read_tiles`.
    path : str or path-like
        A ``.parquet`` file, replaced when it exists.
    format : {"geoparquet", "stac-geoparquet"}, default "geoparquet"
        The tile frame as GeoParquet (read it with `byocframe.read_file`, push edits from
        it), or the tiles as STAC Items in stac-geoparquet (needs the ``stac`` extra).

    Returns
    -------
    int
        The number of tiles written (of items, for stac-geoparquet: tiles with no
        geometry at all are left out with a `ByocframeWarning`).

    Raises
    ------
    ValueError
        For a ``format`` not in `LISTING_FORMATS`.
    ValidationError
        For a ``path`` not named ``*.parquet`` or in a missing folder, before any request.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from stac_geoparquet.arrow import stac_table_to_items
    >>> import pyarrow.parquet as pq
    >>> with byocframe.local_service(demo=True, demo_tiles=120) as service:
    ...     with tempfile.TemporaryDirectory() as folder:
    ...         n = byocframe.write_listing(service.client(), service.demo_collection,
    ...                                     f"{folder}/tiles.parquet", batch_size=50)
    ...         gdf = byocframe.read_file(f"{folder}/tiles.parquet")
    ...         m = byocframe.write_listing(service.client(), service.demo_collection,
    ...                                     f"{folder}/items.parquet", format="stac-geoparquet")
    ...         items = list(stac_table_to_items(pq.read_table(f"{folder}/items.parquet")))
    >>> n, len(gdf), byocframe.changes(gdf).empty, m, len(items)
    (120, 120, True, 120, 120)
    """
    client = resolve_client(client)
    cid = resource_id(collection, "collection")
    check_errors(errors)
    size = _batch_size(batch_size)
    target = _listing_target(path, format)
    # the record first: a collection that cannot be exported fails before the listing
    record = _stac_record(client, cid) if format == "stac-geoparquet" else None
    filtered = not (bbox is None and datetime is None and intersects is None and filter is None)
    pages = _pages(client, cid, status, both_ends, bbox, datetime, intersects, filter, progress)
    # the pages spill into a scratch folder beside the target (which the next listing to
    # the same target removes, if this one is killed); the file is renamed out of it
    with Scratch(target, folder=True) as scratch:
        tmp, stac = str(scratch.path), record is not None
        spill = _Spill(
            tmp, size, crs=crs, errors=errors, densify=densify, stac=stac, progress=progress
        )
        with ProgressBar(None, progress, "listing tiles") as bar:
            for stream, page in pages:
                spill.add(stream, page)
                bar.update(len(page))
        spill.finish()
        listed_at = _listing_ended()
        part = Path(tmp) / "listing.parquet"
        if record is None:
            whole = status is None and not filtered and not spill.assembly.repeats
            written = _write_stamped(spill, part, cid, client.base_url, whole, listed_at)
        else:
            with StacSink(part, record, client.base_url, spill.stac_columns()) as sink:
                for frame in spill.frames():
                    sink.write(frame)
        scratch.commit(part)
    return written if record is None else sink.finish()


#: What `write_listing` writes (``format=``).
LISTING_FORMATS = ("geoparquet", "stac-geoparquet")


def _listing_target(path: str | os.PathLike[str], format: Any) -> Path:
    """The file `write_listing` may write, checked before any request."""
    if format not in LISTING_FORMATS:
        raise ValueError(
            f"format must be one of {', '.join(map(repr, LISTING_FORMATS))}, got {format!r}"
        )
    target = Path(path).expanduser()  # "~/l.parquet", as write_file takes it
    if target.suffix.lower() != ".parquet":
        raise ValidationError(f"{target}: write_listing writes {format}; name it *.parquet")
    if not target.parent.is_dir():
        raise ValidationError(f"{target.parent}: folder not found; create it first")
    return target


def _stac_record(client: Client, cid: str) -> Mapping[str, Any]:
    """The collection's record, checked as `write_stac_geoparquet` needs it."""
    try:
        import pyarrow.parquet  # noqa: F401
        import pystac  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "write_listing(format='stac-geoparquet') needs pyarrow and pystac: install the "
            "stac extra, pip install 'byocframe[stac]'"
        ) from err
    record = client.get_collection(cid)
    if not record.get("s3Bucket"):
        raise ValidationError(f"collection {cid} has no s3Bucket: STAC assets need one; set it")
    return record


class _Spill:
    """A listing's batches in scratch files, then read back in creation order.

    Each stream's batches (see `Assembly`) go to a GeoParquet scratch file of their
    own, one row group a batch; ``finish`` reports the problems of the whole listing
    and finds the ids repeated across batches; ``frames`` gives the batches back one at
    a time, in creation order, without the repeats.
    """

    def __init__(
        self,
        folder: str,
        size: int,
        *,
        crs: CrsLike,
        errors: Errors,
        densify: float | None,
        stac: bool,
        progress: bool | None = False,
    ) -> None:
        self.empty = tile_frame([], crs=crs, densify=densify)
        self.sinks = {
            stream: ParquetSink(
                Path(folder) / f"{stream}.parquet",
                self.empty.crs,
                row_group_size=size,
                compression_level=1,
                recompute=False,
            )
            for stream in ("asc", "desc")
        }
        self.positions: dict[str, list[np.ndarray]] = {"asc": [], "desc": []}
        # per batch, the stac-geoparquet columns its tiles need (decided before writing)
        self.columns: dict[str, list[dict[str, bool]]] | None = (
            {"asc": [], "desc": []} if stac else None
        )
        self.assembly = Assembly(size, crs=crs, errors=errors, densify=densify, keep=self._keep)
        self.order: list[tuple[str, int]] = []
        self.kept = np.zeros(0, dtype=bool)
        self.progress = progress  # a bar while `frames` gives the batches back

    def _keep(self, stream: str, frame: gpd.GeoDataFrame, rows: np.ndarray) -> None:
        self.sinks[stream].write(frame)
        self.positions[stream].append(rows)
        if self.columns is not None:
            self.columns[stream].append(stac_columns(frame))

    def add(self, stream: str, page: list[Any]) -> None:
        """Take one page of records (see `_Assembly.add`)."""
        self.assembly.add(stream, page)

    def finish(self) -> None:
        """Convert what is left, close the scratch files, report the listing's problems."""
        total = self.assembly.flush()
        for sink in self.sinks.values():
            if sink.writer is not None:
                sink.close(self.empty.attrs, list(self.empty.columns), self.empty.index.name)
        # the batches in creation order: "asc" as listed, then "desc" from the last
        self.order = [("asc", i) for i in range(len(self.positions["asc"]))]
        self.order += [("desc", i) for i in reversed(range(len(self.positions["desc"])))]
        self.ids = pd.Index(
            np.concatenate(
                [np.zeros(0, dtype=object)]
                + [_ids(self.sinks[stream].path, i) for stream, i in self.order]
            ),
            dtype=object,
        )
        rows = np.concatenate(
            [np.zeros(0, dtype=int)]
            + [self.assembly.rows(s, self.positions[s][i], total) for s, i in self.order]
        )
        self.kept = self.assembly.report_problems(total, self.ids, rows)

    def frames(self) -> Iterator[gpd.GeoDataFrame]:
        """Each batch read back, in creation order, without the rows not kept."""
        start = 0
        with ProgressBar(int(self.kept.sum()), self.progress, "writing the file") as bar:
            for stream, i in self.order:
                frame = read_row_groups(self.sinks[stream].path, [i])
                mask = self.kept[start : start + len(frame)]
                start += len(frame)
                yield frame[mask] if not mask.all() else frame
                bar.update(int(mask.sum()))

    def stac_columns(self) -> dict[str, bool]:
        """The stac-geoparquet columns the kept tiles need (see `stac_columns`)."""
        if self.columns is None:
            raise ValueError("this listing was not spilled for stac-geoparquet")
        flags = []
        start = 0
        for stream, i in self.order:
            rows = len(self.positions[stream][i])
            mask = self.kept[start : start + rows]
            start += rows
            if mask.all():
                flags.append(self.columns[stream][i])
            else:  # a repeated id left out: what the batch needs without it
                frame = read_row_groups(self.sinks[stream].path, [i])
                flags.append(stac_columns(frame[mask]))
        return merge_stac_columns(stac_columns(self.empty), *flags)


def _write_stamped(
    spill: _Spill, part: Path, cid: str, service: str, whole: bool, listed_at: str
) -> int:
    """The spilled batches stamped as one load into the GeoParquet file ``part``."""
    empty = spill.empty
    loaded = [str(i) for i in spill.ids[spill.kept]]
    settings = {
        **empty.attrs[ATTRS_KEY],
        "whole": whole,
        "listed_at": listed_at,
        "collection": cid,
        "service": service,
        "load": load_number(cid, service, loaded),
    }
    settings = with_loaded_ids(settings, loaded)
    stamped_ids: list[np.ndarray] = []
    checks: list[np.ndarray] = []  # what a later deletion of each tile checks
    with ParquetSink(part, empty.crs) as sink:
        for frame in spill.frames():
            frame.attrs = {ATTRS_KEY: dict(settings)}
            checks.append(stamp(frame, collection=cid, service=service, rows=np.arange(len(frame))))
            stamped_ids.append(frame.index.to_numpy(dtype=object))
            sink.write(frame)
        if sink.writer is None:
            stamped = empty.copy()
            stamp(stamped, collection=cid, service=service)
            sink.write(stamped)
        written = pd.Index(np.concatenate(stamped_ids).astype(str)) if checks else None
        if written is not None and written.is_unique:
            order = written.get_indexer(loaded)
            if (order >= 0).all():
                settings = with_loaded_ids(settings, loaded, np.concatenate(checks)[order])
        sink.close({ATTRS_KEY: settings}, [*empty.columns, "loaded"], empty.index.name)
    return int(spill.kept.sum())


def _ids(path: Any, group: int) -> np.ndarray:
    """The tile ids of one row group of a scratch file."""
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read_row_group(group, columns=["id"])
    return np.asarray(table.column("id").to_numpy(zero_copy_only=False), dtype=object)


def _batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return batch_size


def _pages(
    client: Client,
    cid: str,
    status: str | None,
    both_ends: bool,
    bbox: Sequence[float] | None,
    datetime: DatetimeLike | None,
    intersects: GeometryLike | None,
    filter: str | Mapping[str, Any] | None,
    progress: bool | None,
) -> Iterator[tuple[str, list[Any]]]:
    """The listed records as ``(stream, page)``: "asc" in order, "desc" newest first."""
    if bbox is None and datetime is None and intersects is None and filter is None:
        if both_ends:
            yield from from_both_ends(client, cid, status)
        else:
            for page in client.tile_pages(cid, status=status, bad_ids="keep"):
                yield "asc", page
        return
    # upper case, as the listing takes it ("ingested" as the command line writes it)
    if status is not None and not (isinstance(status, str) and status.upper() == "INGESTED"):
        raise ValueError(
            f"status={status!r} cannot be combined with bbox, datetime, intersects or "
            "filter: the Catalog only knows INGESTED tiles"
        )
    found = search_records(
        client,
        cid,
        bbox=bbox,
        datetime=datetime,
        intersects=intersects,
        filter=filter,
        progress=progress,
    )
    # the Catalog's answer is one list: hand it on in pages, letting go of each
    found.reverse()
    while found:
        page = found[-100:][::-1]
        del found[-100:]
        yield "asc", page
