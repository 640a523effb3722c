"""What a push would do, found offline by `byocframe.edits.diff.plan`.

`Plan`, its `Update` and `Create` rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pandas.api.extensions import ExtensionArray

__all__ = ["Create", "Plan", "Update"]


@dataclass
class Update:
    """One tile whose sensing time or cover was edited.

    Times are int64 microseconds (`byocframe.frame.snapshot.NAT` when missing); covers are
    shapely geometries in the tile's own CRS ``crs`` (None: no cover).
    """

    id: str
    position: int
    crs: str
    base_time: int
    wanted_time: int
    base_cover: Any
    wanted_cover: Any


@dataclass
class Create:
    """One new row: its position in the frame, path, sensing time and cover (CRS84)."""

    position: int
    path: str | None
    wanted_time: int
    cover: Any


@dataclass
class Plan:
    """What a push would do, computed offline from the frame and its ``loaded`` tokens.

    ``problems`` are the edits a push refuses, one dict each (``id``, ``field``,
    ``value``, ``problem``), as `byocframe.exceptions.ValidationError.of_edits` reads them.
    """

    collection: str
    service: int
    changes: pd.DataFrame
    updates: list[Update] = field(default_factory=list)
    creates: list[Create] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    loaded_ids: list[str] | None = None
    #: The load the frame's rows came from (`byocframe.frame.snapshot.stamp`), if known.
    load: int | None = None
    #: Whether the loaded ids are the whole collection (a listing without filters).
    whole: bool = False
    #: The frame's ``loaded`` tokens after rows that lost theirs took ``original``'s
    #: (None: none were adopted); a push writes them back (`byocframe.edits.writeback`).
    adopted: ExtensionArray | None = None
