"""Tile frames in and out: live listings and files.

The Catalog search and the STAC export live in `byocframe.stac`; their names are still
handed on here (``byocframe.io.search_records``, ``byocframe.io.to_stac``, ...).
"""

from __future__ import annotations

from byocframe.io.files import read_file, write_file
from byocframe.io.listing import read_collections, read_tiles
from byocframe.stac import (
    catalog_datetime,
    iter_items,
    search_records,
    tiles_from_stac,
    to_stac,
    write_geoparquet,
    write_stac_geoparquet,
)

__all__ = [
    "catalog_datetime",
    "iter_items",
    "read_collections",
    "read_file",
    "read_tiles",
    "search_records",
    "tiles_from_stac",
    "to_stac",
    "write_file",
    "write_geoparquet",
    "write_stac_geoparquet",
]
