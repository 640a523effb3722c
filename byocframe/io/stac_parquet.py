"""Moved: the columnar stac-geoparquet export lives in `byocframe.stac.parquet`.

This module only hands its names on, so that code importing
``byocframe.io.stac_parquet`` keeps working.
"""

from __future__ import annotations

from byocframe.stac.parquet import (
    STAC_CHUNK_ROWS,
    StacSink,
    merge_stac_columns,
    stac_columns,
    write_stac_geoparquet,
)

__all__ = [
    "STAC_CHUNK_ROWS",
    "StacSink",
    "merge_stac_columns",
    "stac_columns",
    "write_stac_geoparquet",
]
