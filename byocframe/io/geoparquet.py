"""Tile frames as compact GeoParquet: what `byocframe.write_file` writes for ``.parquet``.

One geometry column (the displayed ``geometry``, WKB, described by GeoParquet 1.1 ``geo``
metadata with its CRS), so geopandas, GDAL, DuckDB and others read the file as a plain
GeoParquet table. The rest is stored as byocframe needs it back, exactly:

* ``native_cover`` and ``native_tile`` as plain binary WKB columns (each tile in its own
  CRS, so not GeoParquet geometry columns); tiles repeat across dates, so
  ``native_tile`` is dictionary-encoded to almost nothing.
* ``tile_geometry`` only where it is not what reprojecting ``native_tile`` gives (an
  edited or hand-made row). Everywhere else it is drawn from ``native_tile``, once per
  distinct footprint: ``tile_drawing`` holds that drawing (WKB) once in the file for
  each (``native_tile``, ``native_crs``) pair seen more than once (a mosaic's grid cell
  on every date: ~5,000 drawings for 20,000 synthetic tiles, ~21,000 for a million),
  null elsewhere, so a reader decodes it instead of reprojecting. A footprint seen once,
  or whose drawing lies outside the part of the file read, is reprojected.
* every other column through pyarrow's pandas conversion (dtypes kept), and the
  frame's byocframe attrs and column order as JSON in the ``byocframe`` metadata key.

Measured in docs/design/geoparquet.md. `ParquetSink` writes the same file batch by batch
(`byocframe.io.listing.write_listing`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
import xxhash

from byocframe.exceptions import ValidationError
from byocframe.frame.convert import tile_frame
from byocframe.frame.deletions import LOADED_KEYS
from byocframe.frame.digests import geometry_digest
from byocframe.frame.footprints import redraw_tiles, tile_groups
from byocframe.frame.memory import building
from byocframe.frame.native import (
    NATIVE_COLUMNS,
    WKB_DTYPE,
    native_column,
    native_geometries,
)
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.settings import json_safe, saved_settings
from byocframe.frame.tokens import own_tokens
from byocframe.geo.crs import WGS84

__all__ = [
    "COMPRESSION_LEVEL",
    "METADATA_KEY",
    "ROW_GROUP_SIZE",
    "Drawn",
    "ParquetSink",
    "geometry_column",
    "is_byocframe_parquet",
    "read_parquet",
    "read_row_groups",
    "restore_columns",
    "tile_table",
    "write_parquet",
]

#: zstd level of every column (1-22): 9 writes ~3 % smaller files than 3 at less than
#: half the speed (docs/design/geoparquet.md).
COMPRESSION_LEVEL = 3
#: Rows per Parquet row group: large enough to compress well, small enough to read a
#: part of a file (DuckDB, dask) without the rest.
ROW_GROUP_SIZE = 65_536
#: Schema metadata key of byocframe's own description of the frame.
METADATA_KEY = b"byocframe"
#: Version of that description; a reader refuses a newer one.
FORMAT = 1
TILE_GEOMETRY = "tile_geometry"
#: The file's column of shared tile drawings (not a frame column).
TILE_DRAWING = "tile_drawing"
#: GeoParquet's name of the GeoArrow encoding used when every geometry is a MultiPolygon.
MULTIPOLYGON = "multipolygon"


def tile_table(
    gdf: gpd.GeoDataFrame,
    encoding: str = "WKB",
    *,
    recompute: bool = True,
    drawn: Drawn | None = None,
) -> pa.Table:
    """One tile frame (or a batch of one) as the Arrow table of the file, without attrs.

    ``encoding`` is that of the geometry column: "WKB" or "multipolygon" (GeoArrow).
    ``recompute=False`` stores every ``tile_geometry`` (a scratch file read back soon:
    writing and reading skip the reprojection). ``drawn`` remembers the footprints of
    the file's earlier batches (`ParquetSink` keeps one).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> table = tile_table(byocframe.tiles_from_records(synthetic_tiles(3, seed=1)))
    >>> table.num_rows, str(table.schema.field("native_cover").type)
    (3, 'binary')
    """
    name = gdf.active_geometry_name
    extra = [c for c in (*NATIVE_COLUMNS, TILE_GEOMETRY) if c in gdf.columns]
    flat = pd.DataFrame(gdf.drop(columns=[name, *extra]))
    flat.attrs = {}
    table = pa.Table.from_pandas(flat, preserve_index=True)
    geometry = np.asarray(gdf.geometry.array, dtype=object)
    if encoding == MULTIPOLYGON:
        arrow = multipolygons(geometry)
        if arrow is None:
            raise ValueError(
                "a batch holds geometries other than 2D MultiPolygons, which the file's "
                "GeoArrow column cannot hold; write the frame with byocframe.write_file"
            )
    else:
        arrow = _wkb(geometry)
    table = table.append_column(name, arrow)
    for column in (c for c in NATIVE_COLUMNS if c in gdf.columns):
        if gdf[column].dtype == WKB_DTYPE:  # the bytes as the frame keeps them
            table = table.append_column(column, pa.array(gdf[column].array))
        else:
            table = table.append_column(column, _wkb(native_geometries(gdf, column)))
    if TILE_GEOMETRY in gdf.columns:
        stored = np.asarray(gdf[TILE_GEOMETRY].array, dtype=object)
        given = np.full(len(stored), None, dtype=object)
        if not recompute:
            redrawn = np.zeros(len(stored), dtype=bool)
        else:
            redrawn = _as_loaded_tiles(gdf, stored)
            rest = np.flatnonzero(~redrawn)
            if len(rest) > len(stored) // 2:  # a frame without tokens: compare drawings
                expected = redraw_tiles(gdf.iloc[rest], _crs(gdf))
                redrawn[rest] = shapely.equals_exact(stored[rest], expected, tolerance=0) | (
                    shapely.is_missing(stored[rest]) & shapely.is_missing(expected)
                )
        drawings = _shared_drawings(gdf, stored, redrawn, Drawn() if drawn is None else drawn)
        # kept only where recomputing would not give it back; b"" (not WKB) stands for a
        # missing tile geometry where recomputing would give one
        keep = np.flatnonzero(~redrawn)
        given[keep] = shapely.to_wkb(stored[keep])
        given[keep[shapely.is_missing(stored[keep])]] = b""
        table = table.append_column(TILE_GEOMETRY, pa.array(given, type=pa.binary()))
        table = table.append_column(TILE_DRAWING, pa.array(drawings, type=pa.binary()))
    return table


class Drawn:
    """What a file's earlier batches drew of each footprint: digests, 24 bytes a footprint.

    ``keys`` (sorted) digest a footprint (``native_crs`` and ``native_tile`` bytes),
    ``drawing`` digests its tile geometry (`geometry_digest`) in the first batch that had
    it, and ``stored`` says whether the file holds that drawing already.

    Examples
    --------
    >>> drawn = Drawn()
    >>> drawn.add(np.array([7, 3], dtype=np.uint64), np.array([1, 2], dtype=np.uint64),
    ...           np.array([True, False]))
    >>> drawn.find(np.array([3, 5, 7], dtype=np.uint64)).tolist()
    [0, -1, 1]
    """

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.uint64)
        self.drawing = np.zeros(0, dtype=np.uint64)
        self.stored = np.zeros(0, dtype=bool)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The position of each key here, -1 where it is new."""
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)
        return np.where(self.keys[at] == keys, at, -1)

    def add(self, keys: np.ndarray, drawing: np.ndarray, stored: np.ndarray) -> None:
        """Remember new footprints (keys not here yet)."""
        keys = np.concatenate([self.keys, keys])
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.drawing = np.concatenate([self.drawing, drawing])[order]
        self.stored = np.concatenate([self.stored, stored])[order]


def _shared_drawings(
    gdf: gpd.GeoDataFrame, stored: np.ndarray, redrawn: np.ndarray, drawn: Drawn
) -> np.ndarray:
    """WKB of the tile geometry drawn for each footprint that repeats, once in the file.

    Only rows that a reader would draw again (``redrawn``) take part. A footprint's drawing
    is stored on its first row in the batch where it is seen a second time (in this batch
    or after an earlier one, remembered in ``drawn``); a footprint seen once is drawn
    again by the reader, as before, so a file of tiles that never repeat grows by
    nothing. A row whose value is not its footprint's drawing (frames joined from two
    drawings) leaves ``redrawn``, in place: it is kept in the file as it is.
    """
    drawings = np.full(len(stored), None, dtype=object)
    groups = tile_groups(gdf)
    # a row without a tile geometry although it has a native tile (rare: a drawing that
    # failed) is kept as missing, whatever another batch stores for its footprint
    redrawn[(groups >= 0) & shapely.is_missing(stored)] = False
    rows = np.flatnonzero(redrawn & (groups >= 0))
    if not len(rows):
        return drawings
    _, first, inverse, counts = np.unique(
        groups[rows], return_index=True, return_inverse=True, return_counts=True
    )
    shown = stored[rows]
    drawn_here = shown[first][inverse]
    # loading shares one object per footprint: compare objects first, then exactly
    same = np.fromiter(map(id, shown), np.int64, len(shown)) == np.fromiter(
        map(id, drawn_here), np.int64, len(drawn_here)
    )
    other = np.flatnonzero(~same)
    same[other] = shapely.equals_exact(shown[other], drawn_here[other], tolerance=0)
    redrawn[rows[~same]] = False
    heads = rows[first]  # one row per footprint of this batch
    keys = _footprint_keys(gdf, heads)
    digest = geometry_digest(stored[heads])
    at = drawn.find(keys)
    known = at >= 0
    # a footprint drawn otherwise by an earlier batch: its rows here are kept as they are
    clash = np.zeros(len(heads), dtype=bool)
    clash[known] = drawn.drawing[at[known]] != digest[known]
    redrawn[rows[clash[inverse.ravel()]]] = False
    done = np.zeros(len(heads), dtype=bool)
    done[known] = drawn.stored[at[known]]
    store = ~clash & ~done & ((counts > 1) | known)
    drawings[heads[store]] = shapely.to_wkb(stored[heads[store]])
    drawn.stored[at[known & store]] = True
    drawn.add(keys[~known], digest[~known], store[~known])
    return drawings


def _footprint_keys(gdf: gpd.GeoDataFrame, rows: np.ndarray) -> np.ndarray:
    """A 64-bit digest of each row's ``native_crs`` and ``native_tile`` bytes."""
    crs = gdf["native_crs"].astype(object).fillna(WGS84).to_numpy(dtype=object)[rows]
    blobs = gdf["native_tile"].iloc[rows].tolist()
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter(
        (digest(f"{code}\0".encode() + blob) for code, blob in zip(crs, blobs, strict=True)),
        dtype=np.uint64,
        count=len(rows),
    )


def _as_loaded_tiles(gdf: gpd.GeoDataFrame, stored: np.ndarray) -> np.ndarray:
    """Rows whose tile geometry is the one their own token says was loaded.

    Loading drew it from ``native_tile`` with the frame's settings, so a reader draws
    it again (the writer need not reproject to know). Rows without such a token: False.
    """
    if "native_tile" not in gdf.columns:  # nothing to draw it from: keep it
        return np.zeros(len(stored), dtype=bool)
    state, own = own_tokens(gdf)  # none readable: the drawings are compared instead
    if state is None:
        return own
    return own & (geometry_digest(stored) == state.tile)


def multipolygons(geoms: np.ndarray) -> pa.Array | None:
    """2D MultiPolygons (or None) as a GeoArrow "multipolygon" array; None for others.

    Coordinates go into separate x and y columns, which Parquet's BYTE_STREAM_SPLIT
    encoding then compresses a quarter better than WKB (docs/design/geoparquet.md).
    """
    if not _all_multipolygons(geoms):
        return None
    missing = shapely.is_missing(geoms)
    if missing.all():
        coords = np.zeros((0, 2))
        ring_off = poly_off = np.zeros(1, dtype=np.int64)
        geom_off = np.zeros(len(geoms) + 1, dtype=np.int64)
    else:
        present = geoms.copy()
        _, coords, (ring_off, poly_off, geom_off) = shapely.to_ragged_array(present)
    xy = pa.StructArray.from_arrays(
        [pa.array(coords[:, 0]), pa.array(coords[:, 1])], names=["x", "y"]
    )
    rings = pa.ListArray.from_arrays(pa.array(ring_off.astype(np.int32)), xy)
    polygons = pa.ListArray.from_arrays(pa.array(poly_off.astype(np.int32)), rings)
    return pa.ListArray.from_arrays(
        pa.array(geom_off.astype(np.int32)), polygons, mask=pa.array(missing)
    )


def _all_multipolygons(geoms: np.ndarray) -> bool:
    """Whether every geometry is a non-empty 2D MultiPolygon or missing."""
    present = geoms[~shapely.is_missing(geoms)]
    if (shapely.get_type_id(present) != shapely.GeometryType.MULTIPOLYGON).any():
        return False
    return not (shapely.is_empty(present).any() or shapely.has_z(present).any())


def _from_multipolygons(values: pa.ChunkedArray) -> np.ndarray:
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


def _wkb(geoms: np.ndarray) -> pa.Array:
    return pa.array(shapely.to_wkb(np.asarray(geoms, dtype=object)), type=pa.binary())


def _crs(frame: gpd.GeoDataFrame) -> str:
    return frame.crs.to_string() if frame.crs is not None else WGS84


def file_metadata(
    crs: Any,
    geometry: str,
    index: str | None,
    columns: list[str],
    attrs: dict[str, Any],
    encoding: str = "WKB",
) -> dict[bytes, bytes]:
    """The ``geo`` (GeoParquet 1.1) and ``byocframe`` metadata of a file of a tile frame."""
    from pyproj import CRS

    crs = None if crs is None else CRS.from_user_input(crs)
    types = ["MultiPolygon"] if encoding == MULTIPOLYGON else []
    column: dict[str, Any] = {"encoding": encoding, "geometry_types": types}
    column["crs"] = crs.to_json_dict() if crs is not None else None
    geo = {"version": "1.1.0", "primary_column": geometry, "columns": {geometry: column}}
    settings = json_safe(
        {
            k: v
            for k, v in attrs.get(ATTRS_KEY, {}).items()
            if v is None or isinstance(v, str | int | float | bool)
        }
    )
    own = {
        "format": FORMAT,
        "crs": crs.to_string() if crs is not None else WGS84,
        "index": index,
        "columns": columns,
        "attrs": settings,
    }
    return {
        b"geo": json.dumps(geo, allow_nan=False).encode(),
        METADATA_KEY: json.dumps(own, allow_nan=False).encode(),
    }


def write_parquet(gdf: gpd.GeoDataFrame, path: str | Path) -> None:
    """Write a tile frame as compact GeoParquet (see the module's description).

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_parquet(gdf, f"{folder}/tiles.parquet")
    ...     back = read_parquet(f"{folder}/tiles.parquet")
    >>> back.equals(gdf), back.attrs == gdf.attrs
    (True, True)
    """
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    # "WKB" when an edited row holds another kind of geometry
    encoding = MULTIPOLYGON if len(gdf) and _all_multipolygons(geoms) else "WKB"
    with ParquetSink(path, gdf.crs, gdf.active_geometry_name, encoding=encoding) as sink:
        sink.write(gdf)
        sink.close(gdf.attrs, list(gdf.columns), gdf.index.name)


class ParquetSink:
    """Writes a tile file one frame (batch) at a time; the attrs come at the end.

    Every batch must have the columns and dtypes of the first (as `tile_frame` makes
    them); ``close`` records the attrs (e.g. the loaded ids, known only once every batch
    is written) in the file's metadata.
    """

    def __init__(
        self,
        path: str | Path,
        crs: Any,
        geometry: str = "geometry",
        *,
        row_group_size: int | None = None,
        compression_level: int | None = None,
        encoding: str = MULTIPOLYGON,
        recompute: bool = True,
    ) -> None:
        self.encoding = encoding
        self.recompute = recompute
        self.row_group_size = ROW_GROUP_SIZE if row_group_size is None else row_group_size
        self.compression_level = (
            COMPRESSION_LEVEL if compression_level is None else compression_level
        )
        self.path = Path(path)
        #: written here, next to ``path``, and renamed to it once complete (`close`)
        self.partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        self.crs = crs
        self.geometry = geometry
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0
        self.closed = False
        self.drawn = Drawn()  # the footprints of the batches written so far

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        # not closed (an error, Ctrl-C): the half-made file goes, whatever was at the
        # path stays as it was
        if self.writer is not None and not self.closed:
            with contextlib.suppress(Exception):
                self.writer.close()
            self.closed = True
        self.partial.unlink(missing_ok=True)  # renamed away once complete

    def write(self, gdf: gpd.GeoDataFrame) -> None:
        """Append the rows of ``gdf``."""
        table = tile_table(gdf, self.encoding, recompute=self.recompute, drawn=self.drawn)
        if self.writer is None:
            # the geo metadata goes into the schema (where GeoParquet readers look); the
            # byocframe metadata into the footer's key-values when the file is closed
            geo = file_metadata(self.crs, self.geometry, None, [], {}, self.encoding)[b"geo"]
            self.schema = table.schema.with_metadata({**table.schema.metadata, b"geo": geo})
            dictionary = [c for c in ("native_tile", "native_crs") if c in table.column_names]
            self.writer = pq.ParquetWriter(
                self.partial,
                self.schema,
                compression="zstd",
                compression_level=self.compression_level,
                use_dictionary=dictionary + _text_columns(table),
                use_byte_stream_split=_coordinate_columns(self.schema, self.geometry),
                write_statistics=True,
            )
        elif self.schema is not None and not table.schema.equals(self.schema, check_metadata=False):
            table = table.select(self.schema.names).cast(self.schema)
        self.writer.write_table(table, row_group_size=self.row_group_size)
        self.rows += len(gdf)

    def close(self, attrs: dict[str, Any], columns: list[str], index: str | None) -> None:
        """Record the frame's attrs, column order and CRS, and finish the file."""
        if self.writer is None:
            raise ValueError("nothing was written: write at least one (possibly empty) frame")
        try:
            metadata = file_metadata(self.crs, self.geometry, index, columns, attrs, self.encoding)
        except ValueError as err:
            raise ValidationError(
                f"the frame's attrs cannot be written as JSON ({err}): remove the value "
                "from .attrs and write again (nothing was written)"
            ) from err
        self.writer.add_key_value_metadata({METADATA_KEY: metadata[METADATA_KEY]})
        self.writer.close()
        self.closed = True
        os.replace(self.partial, self.path)  # the complete file, at once


def _coordinate_columns(schema: pa.Schema, geometry: str) -> list[str] | bool:
    """The Parquet paths of the x and y doubles of a GeoArrow column (else none)."""
    if not pa.types.is_list(schema.field(geometry).type):
        return False
    nested = ".".join([geometry, *["list.element"] * 3])
    return [f"{nested}.x", f"{nested}.y"]


def _text_columns(table: pa.Table) -> list[str]:
    """Columns of text that repeat (paths do not; statuses, CRSs and JSON often do)."""
    unique = ("id", "path", "loaded")
    return [
        f.name
        for f in table.schema
        if f.name not in unique and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
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
        gdf[TILE_GEOMETRY] = _complete_tiles(gdf, stored, _crs(gdf), drawings)
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
