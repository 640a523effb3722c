"""STAC and the Catalog: search a collection's tiles, export tile frames as STAC and back.

The Catalog API search (`catalog`), what a tile's STAC Item holds (`fields`), the export
as pystac Items (`items`) or straight to stac-geoparquet (`parquet`, with the Items'
Arrow columns in `columns`), and the way back to a tile frame (`reading`).
"""

from __future__ import annotations

from byocframe.stac.catalog import catalog_datetime, iter_items, search_records
from byocframe.stac.items import to_stac, write_geoparquet
from byocframe.stac.parquet import write_stac_geoparquet
from byocframe.stac.reading import tiles_from_stac

__all__ = [
    "catalog_datetime",
    "iter_items",
    "search_records",
    "tiles_from_stac",
    "to_stac",
    "write_geoparquet",
    "write_stac_geoparquet",
]
