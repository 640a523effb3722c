"""The tile's own geometries, as received: ``native_cover`` and ``native_tile``.

They are the truth a push compares the server's with, in each tile's ``native_crs``. A
frame stores them compactly, as WKB bytes: a shapely polygon costs ~24 bytes a vertex
plus ~400 bytes of GEOS and Python overhead, its WKB ~16 bytes a vertex plus ~60 (about
a third, measured in docs/design/frames.md). Read them through `native_geometries`,
which also accepts frames that hold shapely objects (older files, hand-made frames);
write them through `native_column`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from byocframe.exceptions import ValidationError

__all__ = [
    "NATIVE_COLUMNS",
    "WKB_DTYPE",
    "as_geometries",
    "native_blobs",
    "native_codes",
    "native_column",
    "native_geometries",
    "put_native",
    "wkb_column",
]

#: The columns that hold a tile's geometries in its own CRS.
NATIVE_COLUMNS = ("native_cover", "native_tile")

#: How a frame stores them: Arrow-backed bytes (WKB), missing values as null.
WKB_DTYPE = pd.ArrowDtype(pa.binary())


def native_geometries(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The geometries of ``column`` as a numpy array of shapely objects (None where missing).

    Parameters
    ----------
    frame : pandas.DataFrame
        A tile frame.
    column : {"native_cover", "native_tile"}
        The column to read; a frame without it gives all None.

    Returns
    -------
    numpy.ndarray of object

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> native_geometries(gdf, "native_cover")[0].geom_type
    'MultiPolygon'
    """
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return as_geometries(frame[column])


def native_codes(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A code per row, the same for the same geometry bytes; -1 where missing.

    Found on the WKB bytes, without decoding them (a footprint that repeats on every
    date is decoded once by whoever reads one row per code).

    Examples
    --------
    >>> import shapely
    >>> frame = pd.DataFrame(index=pd.Index(["a", "b", "c"]))
    >>> frame["native_tile"] = native_column(
    ...     [shapely.box(0, 0, 1, 1), None, shapely.box(0, 0, 1, 1)], frame.index)
    >>> native_codes(frame, "native_tile").tolist()
    [0, -1, 0]
    """
    codes, _ = pd.factorize(native_blobs(frame, column), use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def native_blobs(frame: pd.DataFrame, column: str) -> Any:
    """The WKB bytes of ``column`` as the frame keeps them (encoded for older frames).

    An Arrow array of bytes, missing values null; a frame without the column gives all
    missing. A column of shapely objects (an older or hand-made frame) is encoded as
    `native_column` would store it, so both give the same bytes.

    Examples
    --------
    >>> import shapely
    >>> frame = pd.DataFrame({"native_tile": [shapely.box(0, 0, 1, 1), None]})
    >>> blobs = native_blobs(frame, "native_tile")
    >>> blobs[0] == shapely.to_wkb(shapely.box(0, 0, 1, 1)), pd.isna(blobs[1])
    (True, True)
    """
    if column not in frame.columns:
        return pd.array([None] * len(frame), dtype=WKB_DTYPE)
    values = frame[column].array
    if isinstance(values, pd.api.extensions.ExtensionArray) and values.dtype == WKB_DTYPE:
        return values
    return native_column(as_geometries(values), frame.index).array


def as_geometries(values: Any) -> np.ndarray:
    """WKB bytes, shapely objects or None, as a numpy array of shapely objects.

    Examples
    --------
    >>> import shapely
    >>> as_geometries([shapely.to_wkb(shapely.Point(1, 2)), None])[0].wkt
    'POINT (1 2)'
    """
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.api.extensions.ExtensionArray) and isinstance(
        values.dtype, pd.ArrowDtype
    ):
        raw = values.to_numpy(dtype=object, na_value=None)
        if values.dtype == WKB_DTYPE:  # bytes or None, nothing to look at one by one
            return _from_wkb(raw, np.flatnonzero(~np.asarray(values.isna(), dtype=bool)))
    else:
        raw = np.asarray(values, dtype=object)
    if raw.ndim != 1:
        raw = np.asarray(list(values), dtype=object)
    wkb = np.fromiter((isinstance(v, bytes | bytearray) for v in raw), dtype=bool, count=len(raw))
    if not wkb.any():
        return np.asarray([None if _missing(v) else v for v in raw], dtype=object)
    out = _from_wkb(raw, np.flatnonzero(wkb))
    rest = np.flatnonzero(~wkb)
    for i in rest:
        out[i] = None if _missing(raw[i]) else raw[i]
    return out


def native_column(geoms: Sequence[Any] | np.ndarray, index: pd.Index) -> pd.Series:
    """Store geometries (shapely or None) the way a frame keeps its native columns.

    Examples
    --------
    >>> import shapely, pandas as pd
    >>> column = native_column([shapely.box(0, 0, 1, 1), None], pd.Index(["a", "b"]))
    >>> column.isna().tolist(), native_geometries(column.to_frame("native_cover"),
    ...     "native_cover")[0].geom_type
    ([False, True], 'Polygon')
    """
    return wkb_column(shapely.to_wkb(np.asarray(geoms, dtype=object)), index)


def wkb_column(blobs: Sequence[bytes | None] | np.ndarray, index: pd.Index) -> pd.Series:
    """WKB bytes (or None) already made, stored as a frame keeps its native columns.

    Examples
    --------
    >>> import shapely, pandas as pd
    >>> blobs = [shapely.to_wkb(shapely.Point(0, 0)), None]
    >>> wkb_column(blobs, pd.Index(["a", "b"])).isna().tolist()
    [False, True]
    """
    array = pa.array(np.asarray(blobs, dtype=object), type=pa.binary(), from_pandas=True)
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=index)


def put_native(frame: pd.DataFrame, rows: Sequence[int], column: str, geoms: Any) -> None:
    """Store ``geoms`` (shapely or None) into ``column`` at positions ``rows``, in place.

    A frame without the column gets one (missing elsewhere); a column of shapely objects
    (an older frame) is converted to the compact form first.

    Examples
    --------
    >>> import shapely, pandas as pd
    >>> frame = pd.DataFrame({"path": ["a", "b"]})
    >>> put_native(frame, [1], "native_cover", [shapely.Point(0, 1)])
    >>> [None if g is None else g.wkt for g in native_geometries(frame, "native_cover")]
    [None, 'POINT (0 1)']
    """
    values = np.empty(len(rows), dtype=object)
    values[:] = list(geoms)
    if column in frame.columns and frame[column].dtype == WKB_DTYPE:
        # the other rows' bytes as they are: nothing decoded or encoded again
        blobs = frame[column].array.to_numpy(dtype=object, na_value=None)
    else:
        blobs = shapely.to_wkb(native_geometries(frame, column))
    blobs[np.asarray(rows, dtype=np.int64)] = shapely.to_wkb(values)
    frame[column] = wkb_column(blobs, frame.index)


def _from_wkb(raw: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Shapely objects of the WKB at ``rows`` of ``raw``; None elsewhere."""
    out = np.full(len(raw), None, dtype=object)
    try:
        out[rows] = shapely.from_wkb(raw[rows])
    except shapely.errors.ShapelyError as err:
        bad = next(i for i in rows if not _reads(raw[i]))
        raise ValidationError(
            f"row {bad}: the native geometry is not WKB ({err}); the frame or its file "
            "was altered: load the tiles again"
        ) from err
    return out


def _reads(blob: bytes) -> bool:
    try:
        shapely.from_wkb(blob)
    except shapely.errors.ShapelyError:
        return False
    return True


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
