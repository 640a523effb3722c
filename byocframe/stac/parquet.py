"""STAC export straight to stac-geoparquet, column by column, a chunk of rows at a time.

`to_stac` builds a pystac Item, its assets and a dict per tile (~1.4 ms and ~50 KB a
tile), which a million tiles cannot afford. `write_stac_geoparquet` writes the same
items as Arrow columns instead: for each chunk of ``chunk_rows`` tiles it computes every
column with vectorised shapely / numpy / pyarrow calls and hands one record batch to a
``pyarrow.parquet.ParquetWriter``, so memory stays bounded by the chunk, not the frame.

The columns and their schema are `byocframe.stac.columns`; this module writes them: the
file replaced once complete, one row group a chunk (`StacSink`).

Needs pyarrow (the ``stac`` extra).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byocframe.atomic import Scratch
from byocframe.exceptions import ByocframeWarning, ValidationError, user_stacklevel
from byocframe.stac.catalog import CATALOG_PATH
from byocframe.stac.columns import ItemColumns, merge_stac_columns, stac_columns
from byocframe.stac.fields import collection_record

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "STAC_CHUNK_ROWS",
    "StacSink",
    "merge_stac_columns",
    "stac_columns",
    "write_stac_geoparquet",
]

#: Tiles converted and written per record batch (one Parquet row group each): memory
#: grows with it (~4 KB a tile of the synthetic grid, writer buffers included).
STAC_CHUNK_ROWS = 20_000


def write_stac_geoparquet(
    frame: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    collection: Mapping[str, Any] | str | None = None,
    *,
    client: Any = None,
    chunk_rows: int = STAC_CHUNK_ROWS,
    compression: str = "zstd",
) -> int:
    """Write the tiles of a frame as STAC Items in a stac-geoparquet file, in chunks.

    The items are those of `to_stac` (same ids, geometry, bbox, datetimes, ``proj:*``,
    ``byoc:*`` properties, assets, hrefs and collection link), written as columns without
    building a pystac object per tile: about 25 us of CPU a tile (a million in ~25 s,
    ``docs/benchmarks.md``), in memory bounded by ``chunk_rows``. Read the file with
    ``stac_geoparquet.arrow.stac_table_to_items``, ``geopandas.read_parquet``, DuckDB or
    `tiles_from_stac`.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame (`byocframe.read_tiles`, `tiles_from_records`).
    path : path
        The file to write (replaced once complete; a failed write leaves no file); ``~``
        is the home folder, as in `byocframe.write_file`.
    collection : dict or str, optional
        The BYOC collection record, a collection id, or nothing, as in `to_stac`.
    client : byocframe.Client or sentinelhub SHConfig, optional
        Where to read the record when ``collection`` is not one.
    chunk_rows : int, default `STAC_CHUNK_ROWS`
        Tiles per record batch and Parquet row group; raise it for fewer, larger row
        groups, lower it to use less memory.
    compression : str, default "zstd"
        Parquet compression codec (any pyarrow takes: "snappy", "gzip", "none", ...).

    Returns
    -------
    int
        The number of items written. Tiles with no geometry at all (no cover and no tile
        geometry) are left out with a `ByocframeWarning`: stac-geoparquet requires one.

    Raises
    ------
    ValidationError
        When the folder of ``path`` does not exist.
    ValueError
        As `to_stac`, and for ``chunk_rows`` below 1.
    TypeError
        For a ``chunk_rows`` that is not an int.
    ImportError
        Without the ``stac`` extra (pyarrow, pystac).

    Examples
    --------
    >>> import tempfile, byocframe, pyarrow.parquet as pq
    >>> from stac_geoparquet.arrow import stac_table_to_items
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "bucket", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     n = write_stac_geoparquet(gdf, f"{tmp}/items.parquet", record, chunk_rows=2)
    ...     items = list(stac_table_to_items(pq.read_table(f"{tmp}/items.parquet")))
    >>> n, items[0]["assets"]["B02"]["href"]
    (5, 's3://bucket/tiles/2024/06/01/01N/269/B02.tif')
    >>> byocframe.tiles_from_stac(items).index.equals(gdf.index)
    True
    """
    try:
        import pyarrow.parquet  # noqa: F401  (StacSink writes with it)
        import pystac  # noqa: F401  (the items' STAC version is pystac's, as in to_stac)
    except ImportError as err:
        raise ImportError(
            "write_stac_geoparquet needs pyarrow and pystac: install the stac extra, "
            "pip install 'byocframe[stac]'"
        ) from err
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int):
        raise TypeError(f"chunk_rows must be an int, got {type(chunk_rows).__name__}")
    if chunk_rows < 1:
        raise ValueError(
            f"chunk_rows must be at least 1, got {chunk_rows} (default {STAC_CHUNK_ROWS})"
        )
    if "path" not in frame.columns or "native_crs" not in frame.columns:
        raise ValueError(
            "write_stac_geoparquet needs a tile frame (read_tiles or tiles_from_records)"
        )
    target = Path(path).expanduser()  # as write_file: pyarrow would expand it, os.replace not
    if not target.parent.is_dir():  # before the record is read; write_file's words
        raise ValidationError(f"{target.parent}: folder not found; create it first")
    record, service = collection_record(frame, collection, client)
    with Scratch(target) as scratch:  # renamed over the target once complete
        with StacSink(scratch.path, record, service, stac_columns(frame), compression) as sink:
            for start in range(0, len(frame), chunk_rows):
                sink.write(frame.iloc[start : start + chunk_rows])
        scratch.commit()
    return sink.finish()


class StacSink:
    """Writes STAC items to a stac-geoparquet file one frame (chunk) at a time.

    The file's columns are decided up front from the `stac_columns` of every tile to
    come; each `write` converts one chunk to a record batch (one row group), and
    `finish` warns once about tiles left out for having no geometry at all.

    Examples
    --------
    >>> import tempfile, byocframe, pyarrow.parquet as pq
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with StacSink(f"{tmp}/i.parquet", record, "http://x", stac_columns(gdf)) as sink:
    ...         sink.write(gdf.iloc[:3])
    ...         sink.write(gdf.iloc[3:])
    ...     pq.ParquetFile(f"{tmp}/i.parquet").metadata.num_row_groups, sink.finish()
    (2, 4)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        record: Mapping[str, Any],
        service: str,
        columns: Mapping[str, bool],
        compression: str = "zstd",
    ) -> None:
        import pyarrow.parquet as pq

        for field in ("id", "s3Bucket"):
            if not record.get(field):
                raise ValueError(f"collection has no {field!r}: pass client.get_collection(id)")
        href = f"{service.rstrip('/')}{CATALOG_PATH}/collections/byoc-{record['id']}"
        self.layout = ItemColumns(columns, record, href)
        self.writer = pq.ParquetWriter(path, self.layout.schema, compression=compression)
        self.written = self.skipped = 0

    def __enter__(self) -> StacSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.writer.close()

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append the items of the tiles of ``frame`` as one row group."""
        batch, dropped = self.layout.batch(frame)
        self.writer.write_batch(batch, row_group_size=max(1, batch.num_rows))
        self.written += batch.num_rows
        self.skipped += dropped

    def finish(self) -> int:
        """The number of items written; warn about the tiles left out, if any."""
        if self.skipped:
            warnings.warn(
                f"{self.skipped} tile(s) with no geometry at all were left out "
                "(stac-geoparquet needs one); to_stac keeps them with a null geometry",
                ByocframeWarning,
                stacklevel=user_stacklevel(),
            )
        return self.written
