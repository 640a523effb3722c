"""Moved: the columnar stac-geoparquet export lives in `byocframe.stac.parquet`.

This module only hands its names on, so that code importing
``byocframe.io.stac_parquet`` keeps working.
"""

from __future__ import annotations

import sys

from byocframe.moved import forward_settings
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


# settings moved with the code: set here, they take effect there (byocframe.moved)
forward_settings(
    sys.modules[__name__],
    sys.modules["byocframe.stac.columns"],
    sys.modules["byocframe.stac.parquet"],
)
