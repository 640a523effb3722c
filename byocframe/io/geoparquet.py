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

Measured in docs/design/geoparquet.md. The file's names and its writers are
`byocframe.io.geoparquet_write` (whose settings, `ROW_GROUP_SIZE` and
`COMPRESSION_LEVEL`, are set there), its reading `byocframe.io.geoparquet_read`; this
module hands on the names of both.
"""

from __future__ import annotations

import sys

from byocframe.io import geoparquet_write
from byocframe.io.geoparquet_read import (
    geometry_column,
    is_byocframe_parquet,
    read_parquet,
    read_row_groups,
    restore_columns,
)
from byocframe.io.geoparquet_write import (
    COMPRESSION_LEVEL,
    METADATA_KEY,
    ROW_GROUP_SIZE,
    Drawn,
    ParquetSink,
    tile_table,
    write_parquet,
)
from byocframe.moved import forward_settings

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

# the writers' settings (ROW_GROUP_SIZE, COMPRESSION_LEVEL), set here, are set where
# the writers read them too: ``byocframe.io.geoparquet.ROW_GROUP_SIZE = 10_000`` takes effect
forward_settings(
    sys.modules[__name__], geoparquet_write, sys.modules["byocframe.io.geoparquet_read"]
)
