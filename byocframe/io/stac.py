"""Moved: the STAC export and its way back live in `byocframe.stac`.

`byocframe.stac.items` (``to_stac``, ``write_geoparquet``), `byocframe.stac.reading`
(``tiles_from_stac``, ``read_stac_geoparquet``, ``is_item_collection``) and
`byocframe.stac.fields` (what an item holds). This module only hands their names on, so
that code importing ``byocframe.io.stac`` keeps working.
"""

from __future__ import annotations

import sys

from byocframe.moved import forward_settings
from byocframe.stac.fields import (
    COG,
    EO,
    PROJECTION,
    RASTER,
    asset_key,
    band_assets,
    collection_record,
    cover_or_tile,
    lonlat_covers,
    native_covers,
)
from byocframe.stac.items import to_stac, write_geoparquet
from byocframe.stac.reading import is_item_collection, read_stac_geoparquet, tiles_from_stac

__all__ = [
    "COG",
    "EO",
    "PROJECTION",
    "RASTER",
    "asset_key",
    "band_assets",
    "collection_record",
    "cover_or_tile",
    "is_item_collection",
    "lonlat_covers",
    "native_covers",
    "read_stac_geoparquet",
    "tiles_from_stac",
    "to_stac",
    "write_geoparquet",
]


# settings moved with the code: set here, they take effect there (byocframe.moved)
forward_settings(
    sys.modules[__name__],
    sys.modules["byocframe.stac.fields"],
    sys.modules["byocframe.stac.items"],
    sys.modules["byocframe.stac.reading"],
)
