"""Tile frames in and out.

Live listings, Catalog searches, files and STAC.
"""

from __future__ import annotations

from byocframe.io.catalog import catalog_datetime, iter_items, search_records
from byocframe.io.files import read_file, write_file
from byocframe.io.listing import read_collections, read_tiles
from byocframe.io.stac import tiles_from_stac, to_stac, write_geoparquet
from byocframe.io.stac_parquet import write_stac_geoparquet

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
