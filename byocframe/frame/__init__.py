"""Records to frames and back.

The one camelCase/snake_case table, the ``loaded`` tokens that remember each row, and
synthetic listings.
"""

from __future__ import annotations

from byocframe.frame.convert import collections_from_records, tiles_from_records, to_records
from byocframe.frame.records import STATUSES
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.frame.tokens import LOADED, OldTokenError

__all__ = [
    "LOADED",
    "STATUSES",
    "OldTokenError",
    "collections_from_records",
    "synthetic_tiles",
    "tiles_from_records",
    "to_records",
]
