"""What can colour a tile map: the status colours, and the columns a map may be coloured by.

Shared by the matplotlib maps (`byocframe.maps.plotting`), the web maps
(`byocframe.maps.webmap`), their colour classes (`byocframe.maps.classes`) and the
command line.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["STATUS_COLORS", "check_column", "colour_columns"]

STATUS_COLORS = {
    "WAITING": "#9e9e9e",
    "QUEUED": "#64b5f6",
    "INGESTING": "#1565c0",
    "INGESTED": "#2e7d32",
    "FAILED": "#d32f2f",
}
#: The snapshot token push needs (`byocframe.frame`): a column, but nothing to colour by.
_NOT_COLOURS = ("loaded",)


def colour_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` a map can be coloured by, in frame order.

    Every column but those holding geometries (``geometry``, ``tile_geometry``) or WKB
    bytes (``native_cover``, ``native_tile``), and the ``loaded`` token.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> colour_columns(gdf)[:3]
    ['path', 'status', 'sensing_time']
    >>> {"geometry", "tile_geometry", "native_cover", "loaded"} & set(colour_columns(gdf))
    set()
    """
    return [
        str(name)
        for name, values in frame.items()
        if name not in _NOT_COLOURS and not _holds_shapes(values)
    ]


def _holds_shapes(values: pd.Series) -> bool:
    """Whether a column holds geometries or WKB bytes (nothing a colour can stand for)."""
    dtype = values.dtype
    if isinstance(dtype, gpd.array.GeometryDtype) or dtype.kind == "S":
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return "binary" in str(dtype.pyarrow_dtype)
    if pd.api.types.is_object_dtype(dtype):  # the first value that is there tells
        first = next((v for v in values if v is not None and v is not np.nan), None)
        return isinstance(first, bytes | shapely.Geometry)
    return False


def check_column(frame: pd.DataFrame, column: str | None) -> None:
    """Refuse, in one line, a ``column`` that cannot colour a map of ``frame``.

    Parameters
    ----------
    frame : DataFrame
    column : str or None
        None (the default colouring) always passes.

    Raises
    ------
    ValueError
        When ``column`` is not a column of ``frame``, or holds geometries or WKB bytes;
        the message lists the columns that can colour the map.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> check_column(gdf, "sensing_time")
    >>> check_column(gdf, "date")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: column='date' is not a column of the frame, so it cannot colour the map; \
pick one of path, status, sensing_time, ...
    """
    if column is None:
        return
    usable = colour_columns(frame)
    if column in usable:
        return
    why = (
        "holds geometries or WKB bytes"
        if column in frame.columns
        else "is not a column of the frame"
    )
    raise ValueError(
        f"column={column!r} {why}, so it cannot colour the map; pick one of {', '.join(usable)}"
    )
