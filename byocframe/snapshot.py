"""What a frame looked like when it was loaded: a compact, immutable snapshot in ``attrs``.

Only the fields that matter for bulk updates are kept, per tile id: the editable ones
(sensing time, a fingerprint of the cover) to find edits and conflicts, and the
read-only ones (path, status, times, tile footprint) to refuse edits to them. It is
small (tens of bytes per tile) and pandas carries it through filters, sorts, ``.loc``
assignment, ``copy``, ``assign`` and ``concat`` of pieces of the same frame.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import shapely

__all__ = ["Snapshot", "cover_fingerprint", "snapshot_of", "take_snapshot"]

ATTRS_KEY = "byocframe"
_TOKENS = itertools.count()
#: Coordinates of two covers closer than this (in their CRS units) count as the same;
#: the service's CRS84 round trip adds noise of a few millimetres.
COVER_TOLERANCE = 0.05


def cover_fingerprint(geoms: Any) -> np.ndarray:
    """(n, 5) array: bounds and number of points of each cover (NaN when there is none)."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full((len(geoms), 5), np.nan)
    present = ~shapely.is_missing(geoms)
    if present.any():
        out[present, :4] = shapely.bounds(geoms[present])
        out[present, 4] = shapely.get_num_coordinates(geoms[present])
    return out


def _times(values: Any) -> np.ndarray:
    series = pd.to_datetime(pd.Series(values), utc=True)
    return series.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view("int64")


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The loaded state of a tile frame (opaque to pandas: compared by identity).

    Attributes
    ----------
    collection : str
        The collection id.
    service : str
        Base URL of the deployment.
    table : pandas.DataFrame
        Indexed by tile id: ``path``, ``status``, ``created``, ``ingestion_start``,
        ``sensing_time`` (int64 microseconds, NaT as the int64 minimum), ``cover``
        (fingerprint, 5 floats) and ``tile`` (bounds of the tile footprint).
    """

    collection: str
    service: str
    table: pd.DataFrame = field(repr=False)
    token: int = field(default_factory=lambda: next(_TOKENS))

    def __deepcopy__(self, memo: dict[int, Any]) -> Snapshot:
        return self  # immutable: pandas deep-copies attrs on every operation

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __len__(self) -> int:
        return len(self.table)

    def updated(self, rows: pd.DataFrame | None = None, dropped: Any = ()) -> Snapshot:
        """A new snapshot with ``rows`` replaced or added and ``dropped`` ids removed."""
        table = self.table.drop(index=list(dropped), errors="ignore")
        if rows is not None and len(rows):
            table = pd.concat([table.drop(index=rows.index, errors="ignore"), rows])
        return replace(self, table=table, token=next(_TOKENS))


def snapshot_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The snapshot table rows of a tile frame (current values)."""
    native = frame["native_cover"].array if "native_cover" in frame else [None] * len(frame)
    cover = cover_fingerprint(native)
    tile = cover_fingerprint(
        frame["tile_geometry"].array if "tile_geometry" in frame else [None] * len(frame)
    )[:, :4]
    return pd.DataFrame(
        {
            "path": frame["path"].astype(object).to_numpy(),
            "status": frame["status"].astype(object).to_numpy(),
            "created": _times(frame["created"]),
            "ingestion_start": _times(frame["ingestion_start"]),
            "sensing_time": _times(frame["sensing_time"]),
            "cover": list(cover),
            "tile": list(tile),
        },
        index=pd.Index(frame.index.astype(object), name="id"),
    )


def take_snapshot(frame: pd.DataFrame, *, collection: str, service: str) -> Snapshot:
    """Remember the loaded state of a tile frame in ``frame.attrs`` and return it."""
    snap = Snapshot(collection, service, snapshot_rows(frame))
    frame.attrs[ATTRS_KEY] = {**frame.attrs.get(ATTRS_KEY, {}), "snapshot": snap}
    return snap


def snapshot_of(frame: pd.DataFrame) -> Snapshot | None:
    """The snapshot a frame carries, if any."""
    return frame.attrs.get(ATTRS_KEY, {}).get("snapshot")
