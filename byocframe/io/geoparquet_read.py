"""Reading byocframe's GeoParquet back into the tile frame that was written.

The file is described in `byocframe.io.geoparquet`; its names and writers are
`byocframe.io.geoparquet_write`. Reading decodes the
displayed geometry a row group at a time, keeps ``native_cover`` and ``native_tile`` as
the WKB bytes the frame keeps, and completes ``tile_geometry`` from the few values the
file kept, the shared drawings (``tile_drawing``) and, for the rest, a reprojection of
``native_tile``. `restore_columns` does the same for a frame another reader made of
such a file.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from byocframe.exceptions import ValidationError
from byocframe.frame.convert import tile_frame
from byocframe.frame.deletions import LOADED_KEYS
from byocframe.frame.footprints import redraw_tiles, tile_groups
from byocframe.frame.memory import building
from byocframe.frame.native import NATIVE_COLUMNS, native_column, native_geometries
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.settings import saved_settings
from byocframe.geo.crs import WGS84
from byocframe.io.geoparquet_write import (
    FORMAT,
    METADATA_KEY,
    MULTIPOLYGON,
    TILE_DRAWING,
    TILE_GEOMETRY,
    crs_text,
)

__all__ = [
    "geometry_column",
    "is_byocframe_parquet",
    "read_parquet",
    "read_row_groups",
    "restore_columns",
]


def is_byocframe_parquet(path: str | Path) -> bool:
    """Whether the file was written by `write_parquet` (else: a plain GeoParquet file)."""
    return METADATA_KEY in (pq.read_metadata(path).metadata or {})


def read_parquet(path: str | Path) -> gpd.GeoDataFrame:
    """Read a file written by `write_parquet` back into the frame that was written.

    Raises
    ------
    ValidationError
        When the file was written by a newer byocframe (upgrade byocframe).
    """
    return read_row_groups(path)


def read_row_groups(path: str | Path, groups: list[int] | None = None) -> gpd.GeoDataFrame:
    """`read_parquet` of some row groups only (all when None), in the order given.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> from byocframe.io.geoparquet_write import write_parquet
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_parquet(gdf, f"{folder}/tiles.parquet")
    ...     len(read_row_groups(f"{folder}/tiles.parquet", [0, 0]))
    8
    """
    # no collections while a million geometries are made; after, Arrow gives back the
    # file's transient arrays (more than half the frame again)
    with building():
        return _read_row_groups(path, groups)


def _read_row_groups(path: str | Path, groups: list[int] | None) -> gpd.GeoDataFrame:
    source = pq.ParquetFile(path)
    metadata = {**(source.schema_arrow.metadata or {}), **(source.metadata.metadata or {})}
    own = json.loads(metadata[METADATA_KEY])
    if own.get("format") != FORMAT:
        raise ValidationError(
            f"{path}: written by a newer byocframe (file format {own.get('format')!r}, this "
            f"one reads {FORMAT}); upgrade byocframe to read it"
        )
    geo = json.loads(metadata[b"geo"])
    name = geo["primary_column"]
    crs = geo["columns"][name].get("crs")
    names = source.schema_arrow.names
    if name not in names:
        raise ValidationError(
            f"{path}: no column {name!r}, which the geo metadata names as the geometry; "
            "the file was altered: write it again"
        )
    rest = [c for c in names if c != name]
    if groups is None:
        table = source.read(columns=rest, use_pandas_metadata=True)
    else:
        table = source.read_row_groups(groups, columns=rest, use_pandas_metadata=True)
    pulled: dict[str, Any] = {}
    for column in (*NATIVE_COLUMNS, TILE_GEOMETRY, TILE_DRAWING):
        if column in table.column_names:
            pulled[column] = table.column(column)
            table = table.drop_columns([column])
    frame = table.to_pandas()
    del table
    encoding = geo["columns"][name].get("encoding")
    geometry = _read_geometry(source, name, encoding, groups)
    template = tile_frame([])
    for column in frame.columns.intersection(template.columns):
        # a dictionary column comes back with the categories its rows use: all of them
        if isinstance(template[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(template[column].dtype)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index, crs=crs))
    if gdf.active_geometry_name != name:
        gdf = gdf.rename_geometry(name)
    settings = saved_settings(own.get("attrs") or {})
    if groups is not None and set(groups) != set(range(source.num_row_groups)):
        # a part of the file: the ids loaded are the file's, not this part's; kept, they
        # would plan every row not read for deletion
        settings = {k: v for k, v in settings.items() if k not in LOADED_KEYS}
        settings["whole"] = False
    gdf.attrs = {ATTRS_KEY: settings}
    for column in NATIVE_COLUMNS:
        if column in pulled:  # kept as the frame keeps them: WKB bytes, not decoded
            gdf[column] = pd.Series(
                pd.arrays.ArrowExtensionArray(pulled[column]), index=gdf.index
            )  # the file's chunks as they are: not copied into one
    if TILE_GEOMETRY in pulled:
        target = own.get("crs") or WGS84
        _known_crs(target)  # checked even when every drawing is in the file
        gdf[TILE_GEOMETRY] = _complete_tiles(
            gdf, pulled[TILE_GEOMETRY], target, pulled.get(TILE_DRAWING)
        )
    order = [c for c in own.get("columns") or [] if c in gdf.columns]
    order += [c for c in gdf.columns if c not in order]
    return gdf[order]


@functools.lru_cache(maxsize=64)
def _known_crs(name: str) -> None:
    """Raise pyproj's CRSError for a CRS it does not know (a crafted file's metadata)."""
    from pyproj import CRS

    CRS.from_user_input(name)


def _read_geometry(
    source: pq.ParquetFile, name: str, encoding: str | None, groups: list[int] | None
) -> np.ndarray:
    """The geometry column as shapely objects, decoded one row group at a time.

    Each group's Arrow coordinates are freed before the next is read: at a million tiles
    the whole column at once held ~0.8 GB of transient arrays (its coordinates, then
    the same again stacked for shapely) beside the shapely objects being made.
    """
    parts = []
    for group in range(source.num_row_groups) if groups is None else groups:
        values = source.read_row_group(group, columns=[name]).column(0)
        parts.append(_from_multipolygons(values) if encoding == MULTIPOLYGON else _geoms(values))
        del values
    return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


def _complete_tiles(
    gdf: gpd.GeoDataFrame,
    stored: pa.ChunkedArray | np.ndarray,
    target: str,
    drawings: pa.ChunkedArray | np.ndarray | None = None,
) -> gpd.GeoSeries:
    """``tile_geometry`` from what the file kept of it (WKB where a row's differs).

    The other rows get their footprint's shared drawing (``drawings``, see `tile_table`),
    or, where the part read has none, are drawn again from ``native_tile``.
    """
    kept = _valid(stored)
    todo = np.flatnonzero(~kept)
    tiles = np.full(len(gdf), None, dtype=object)
    if len(todo) and drawings is not None:
        todo = _from_drawings(gdf, todo, drawings, tiles)
    if len(todo):
        tiles[todo] = redraw_tiles(gdf if len(todo) == len(gdf) else gdf.iloc[todo], target)
    # rows whose tile geometry is not the recomputed one: few, or all in a scratch file
    given = np.flatnonzero(kept)
    if len(given):
        wkb = _take(stored, given)
        some = np.fromiter((len(v) > 0 for v in wkb), bool, len(wkb))
        tiles[given[some]] = shapely.from_wkb(wkb[some])
    return gpd.GeoSeries(tiles, index=gdf.index, crs=gdf.crs)


def _from_drawings(
    gdf: gpd.GeoDataFrame,
    todo: np.ndarray,
    drawings: pa.ChunkedArray | np.ndarray,
    tiles: np.ndarray,
) -> np.ndarray:
    """Fill ``tiles[todo]`` from the shared drawings; the rows left to draw."""
    have = np.flatnonzero(_valid(drawings))
    if not len(have):
        return todo
    groups = tile_groups(gdf)
    codes, first = np.unique(groups[have], return_index=True)
    decoded = shapely.from_wkb(_take(drawings, have[first]))
    found = np.searchsorted(codes, groups[todo]).clip(max=len(codes) - 1)
    hit = (codes[found] == groups[todo]) & (groups[todo] >= 0)
    tiles[todo[hit]] = decoded[found[hit]]  # one shared object per footprint, as loaded
    return todo[~hit & (groups[todo] >= 0)]  # without a native tile: nothing to draw


def _valid(values: pa.ChunkedArray | np.ndarray) -> np.ndarray:
    """Which values of a file column (or another reader's object array) are not null."""
    if isinstance(values, pa.ChunkedArray):
        return np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return np.fromiter((v is not None for v in values), bool, len(values))


def _take(values: pa.ChunkedArray | np.ndarray, rows: np.ndarray) -> np.ndarray:
    if isinstance(values, pa.ChunkedArray):
        return values.take(pa.array(rows)).to_numpy(zero_copy_only=False)
    return values[rows]


def restore_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A frame another reader made of a `write_parquet` file, with its geometry columns back.

    ``geopandas.read_parquet`` (and a file it wrote again) gives the native columns as
    WKB bytes and ``tile_geometry`` as the few WKB values the file kept: they are decoded
    and completed here, as `read_parquet` does. Other frames are returned as they are.

    Examples
    --------
    >>> import tempfile, geopandas, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> from byocframe.io.geoparquet_write import write_parquet
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_parquet(gdf, f"{folder}/tiles.parquet")
    ...     other = geopandas.read_parquet(f"{folder}/tiles.parquet")
    >>> other["tile_geometry"].isna().all(), restore_columns(other)["tile_geometry"].equals(
    ...     gdf["tile_geometry"])
    (np.True_, True)
    """
    gdf = gdf.copy()
    template = tile_frame([])
    for column in gdf.columns.intersection(template.columns):
        # a reader gives categories (status, geometry_source) as text or with only the
        # categories its rows use: the frame's order of groups is the template's
        kind = template[column].dtype
        if isinstance(kind, pd.CategoricalDtype) and gdf[column].dtype != kind:
            values = gdf[column].astype(object)
            values = values.where(values.notna(), None)
            known = list(kind.categories)
            extra = [v for v in pd.unique(values.dropna()) if v not in kind.categories]
            gdf[column] = values.astype(pd.CategoricalDtype(known + extra))
    for column in NATIVE_COLUMNS:
        if column in gdf.columns and gdf[column].dtype != template[column].dtype:
            # WKB as another reader gives it (object bytes), or shapely objects
            gdf[column] = native_column(native_geometries(gdf, column), gdf.index)
    drawings = None
    if TILE_DRAWING in gdf.columns:
        drawings = _objects(gdf.pop(TILE_DRAWING))
    if TILE_GEOMETRY in gdf.columns and not isinstance(gdf[TILE_GEOMETRY], gpd.GeoSeries):
        stored = _objects(gdf[TILE_GEOMETRY])
        gdf[TILE_GEOMETRY] = _complete_tiles(gdf, stored, crs_text(gdf), drawings)
    return gdf


def _objects(column: pd.Series) -> np.ndarray:
    values = column.astype(object)
    return values.where(values.notna(), None).to_numpy(dtype=object)


def _geoms(values: pa.ChunkedArray) -> np.ndarray:
    """WKB (plain or dictionary-encoded) as shapely geometries; a dictionary once."""
    chunks = []
    for chunk in values.chunks:
        if pa.types.is_dictionary(chunk.type):
            decoded = shapely.from_wkb(chunk.dictionary.to_numpy(zero_copy_only=False))
            codes = chunk.indices.to_numpy(zero_copy_only=False)
            part = np.full(len(chunk), None, dtype=object)
            valid = chunk.is_valid().to_numpy(zero_copy_only=False)
            part[valid] = decoded[codes[valid].astype(np.intp)]
        else:
            part = shapely.from_wkb(chunk.to_numpy(zero_copy_only=False))
        chunks.append(part)
    if not chunks:
        return np.zeros(0, dtype=object)
    return np.concatenate(chunks).astype(object)


def geometry_column(path: str | Path) -> gpd.GeoSeries:
    """The displayed geometry of a `write_parquet` file alone, a row group at a time.

    For `byocframe.io.subsets.read_columns` (``read_file(columns=...)``): no other
    column is read. The index is a plain range.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> from byocframe.io.geoparquet_write import write_parquet
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_parquet(gdf, f"{folder}/tiles.parquet")
    ...     shown = geometry_column(f"{folder}/tiles.parquet")
    >>> bool(shown.geom_equals_exact(gdf.geometry.reset_index(drop=True), 0).all())
    True
    """
    source = pq.ParquetFile(path)
    metadata = {**(source.schema_arrow.metadata or {}), **(source.metadata.metadata or {})}
    geo = json.loads(metadata[b"geo"])
    name = geo["primary_column"]
    column = geo["columns"][name]
    geoms = _read_geometry(source, name, column.get("encoding"), None)
    return gpd.GeoSeries(geoms, crs=column.get("crs"), name=name)


def _from_multipolygons(values: pa.ChunkedArray) -> np.ndarray:
    """A GeoArrow "multipolygon" column (`byocframe.io.geoparquet.multipolygons`) as shapely."""
    array = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if len(array) == 0:
        return np.zeros(0, dtype=object)
    polygons = array.values  # offsets of a sliced array are made absolute below
    rings = polygons.values
    xy = rings.values
    coords = np.column_stack(
        [xy.field("x").to_numpy(zero_copy_only=False), xy.field("y").to_numpy(zero_copy_only=False)]
    )
    offsets = (
        np.asarray(rings.offsets.to_numpy(), dtype=np.int64),
        np.asarray(polygons.offsets.to_numpy(), dtype=np.int64),
        np.asarray(array.offsets.to_numpy(), dtype=np.int64),
    )
    out = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords, offsets)
    out = np.asarray(out, dtype=object)
    out[np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)] = None
    return out
