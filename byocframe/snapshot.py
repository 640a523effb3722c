"""What a frame looked like when it was loaded: a compact, immutable snapshot in ``attrs``.

Only the fields that matter for bulk updates are kept, per tile id: the editable ones
(sensing time, a fingerprint of the cover) to find edits and conflicts, and the
read-only ones (path, status, times, tile footprint) to refuse edits to them. It is
small (tens of bytes per tile) and pandas carries it through filters, sorts, ``.loc``
assignment, ``copy``, ``assign`` and ``concat`` of pieces of the same frame.
"""

from __future__ import annotations

import itertools
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


def times_us(values: Any) -> np.ndarray:
    """Datetimes as int64 microseconds since the epoch (NaT as the int64 minimum)."""
    series = pd.to_datetime(pd.Series(values), utc=True)
    return series.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view("int64")


class Snapshot(dict):
    """The loaded state of a tile frame (opaque to pandas: compared by identity).

    A `dict` subclass holding plain JSON values, so ``to_parquet`` (which writes
    ``attrs`` as JSON) keeps it and `snapshot_of` revives it after ``read_parquet``.

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

    def __init__(self, collection: str, service: str, table: pd.DataFrame):
        columns = {name: _plain_column(table[name]) for name in table.columns}
        super().__init__(
            kind=_KIND,
            collection=collection,
            service=service,
            ids=[str(i) for i in table.index],
            columns=columns,
        )
        self.collection = collection
        self.service = service
        self.table = table
        self.token = next(_TOKENS)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        """Revive a snapshot that went through JSON (e.g. GeoParquet metadata)."""
        columns = {
            name: [np.asarray(v, dtype=float) if isinstance(v, list) else v for v in values]
            for name, values in data["columns"].items()
        }
        table = pd.DataFrame(columns, index=pd.Index(data["ids"], name="id", dtype=object))
        return cls(data["collection"], data["service"], table)

    def __deepcopy__(self, memo: dict[int, Any]) -> Snapshot:
        return self  # immutable: pandas deep-copies attrs on every operation

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other.token == self.token

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self.token)

    def __repr__(self) -> str:
        return f"Snapshot(collection={self.collection!r}, tiles={len(self.table)})"

    def updated(self, rows: pd.DataFrame | None = None, dropped: Any = ()) -> Snapshot:
        """A new snapshot with ``rows`` replaced or added and ``dropped`` ids removed."""
        table = self.table.drop(index=list(dropped), errors="ignore")
        if rows is not None and len(rows):
            table = pd.concat([table.drop(index=rows.index, errors="ignore"), rows])
        return type(self)(self.collection, self.service, table)


_KIND = "byocframe-snapshot"


def _plain_column(column: pd.Series) -> list[Any]:
    """A JSON-able list for one snapshot column (NaN stays NaN, which json writes)."""
    values = column.to_numpy()
    if len(values) and isinstance(values[0], np.ndarray):
        return np.vstack(values).tolist()
    return column.astype(object).where(column.notna(), None).tolist()


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
            "created": times_us(frame["created"]),
            "ingestion_start": times_us(frame["ingestion_start"]),
            "sensing_time": times_us(frame["sensing_time"]),
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
    """The snapshot a frame carries, if any (revived after a trip through GeoParquet)."""
    settings = frame.attrs.get(ATTRS_KEY, {})
    snap = settings.get("snapshot")
    if isinstance(snap, dict) and not isinstance(snap, Snapshot) and snap.get("kind") == _KIND:
        snap = Snapshot.from_json(snap)
        frame.attrs[ATTRS_KEY] = {**settings, "snapshot": snap}
    return snap if isinstance(snap, Snapshot) else None
