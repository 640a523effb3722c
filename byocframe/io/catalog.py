"""Moved: the Catalog API search lives in `byocframe.stac.catalog`.

This module only hands its names on, so that code importing ``byocframe.io.catalog``
keeps working.
"""

from __future__ import annotations

import sys

from byocframe.moved import forward_settings
from byocframe.stac.catalog import (
    CATALOG_PATH,
    DatetimeLike,
    catalog_datetime,
    created_order,
    iter_items,
    search_records,
)

__all__ = [
    "CATALOG_PATH",
    "DatetimeLike",
    "catalog_datetime",
    "created_order",
    "iter_items",
    "search_records",
]


# settings moved with the code: set here, they take effect there (byocframe.moved)
forward_settings(
    sys.modules[__name__],
    sys.modules["byocframe.stac.catalog"],
)
