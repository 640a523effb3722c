"""Writing byocframe's GeoParquet: the file's names, its metadata, and its writers.

What the file holds is described in `byocframe.io.geoparquet`; this module defines its
columns and metadata (`FORMAT`, `METADATA_KEY`, ...) and writes it, whole
(`write_parquet`) or batch by batch (`ParquetSink`, for
`byocframe.io.listing.write_listing`). Its settings, `ROW_GROUP_SIZE` and
`COMPRESSION_LEVEL`, are the defaults of every writer. Reading the file back is
`byocframe.io.geoparquet_read`.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
import xxhash

from byocframe.atomic import Scratch
from byocframe.exceptions import ValidationError
from byocframe.frame.digests import geometry_digest
from byocframe.frame.footprints import redraw_tiles, tile_groups
from byocframe.frame.native import (
    NATIVE_COLUMNS,
    WKB_DTYPE,
    native_geometries,
)
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.settings import json_safe
from byocframe.frame.tokens import own_tokens
from byocframe.geo.crs import WGS84

__all__ = [
    "COMPRESSION_LEVEL",
    "FORMAT",
    "METADATA_KEY",
    "MULTIPOLYGON",
    "ROW_GROUP_SIZE",
    "TILE_DRAWING",
    "TILE_GEOMETRY",
    "Drawn",
    "ParquetSink",
    "crs_text",
    "file_metadata",
    "multipolygons",
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
                expected = redraw_tiles(gdf.iloc[rest], crs_text(gdf))
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


def _wkb(geoms: np.ndarray) -> pa.Array:
    return pa.array(shapely.to_wkb(np.asarray(geoms, dtype=object)), type=pa.binary())


def crs_text(frame: gpd.GeoDataFrame) -> str:
    """The frame's CRS as text, lon/lat when it has none (as the file records it).

    Examples
    --------
    >>> mercator = gpd.GeoDataFrame(geometry=[], crs="EPSG:3857")
    >>> crs_text(mercator), crs_text(gpd.GeoDataFrame(geometry=[]))
    ('EPSG:3857', 'EPSG:4326')
    """
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
    >>> import geopandas
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_parquet(gdf, f"{folder}/tiles.parquet")
    ...     plain = geopandas.read_parquet(f"{folder}/tiles.parquet")  # any GeoParquet reader
    >>> shown = plain.geometry.geom_equals_exact(gdf.geometry, 0)
    >>> plain.index.equals(gdf.index), bool(shown.all())
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
        self.scratch = Scratch(self.path)
        self.partial = self.scratch.path
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
        self.scratch.discard()  # gone unless renamed (once complete)

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
        self.scratch.commit()  # the complete file, at once


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
