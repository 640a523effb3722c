"""Edit covers in each tile's own CRS: `set_native_covers`.

``native_cover`` is the cover as loaded, which the push compares the server's with, so it
is read-only. A user who works in the tiles' own CRS (a UTM zone, a polar projection)
hands the new covers to `set_native_covers`, which shows them in the frame's CRS the
way `byocframe.read_tiles` would (densified edges, antimeridian cuts, polar caps); the
push then takes them back into the tile's CRS.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from byocframe.edits.equality import cover_problem
from byocframe.exceptions import ValidationError
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.settings import drawing
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject

__all__ = ["set_native_covers"]


def set_native_covers(
    frame: gpd.GeoDataFrame, covers: pd.Series | Mapping[str, shapely.Geometry]
) -> gpd.GeoDataFrame:
    """Set the ``geometry`` of tiles from covers given in each tile's own CRS (in place).

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame from `byocframe.read_tiles` or `byocframe.read_file`.
    covers : Series or mapping of tile id to Polygon / MultiPolygon
        The new covers, in the CRS of each tile (its ``native_crs``). A GeoSeries with a
        CRS must have the CRS of every tile it names.

    Returns
    -------
    GeoDataFrame
        ``frame`` itself, with the new geometries shown in its CRS; `byocframe.changes`
        lists them and `byocframe.push` sends them.

    Raises
    ------
    ValidationError
        When a tile id is not in the frame, a cover is not polygonal or cannot be sent
        (not finite, outside its CRS's area of use, not valid), or the GeoSeries' CRS
        is not the tile's. Nothing is changed then.

    Examples
    --------
    >>> import byocframe, shapely
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> tid = gdf.index[0]
    >>> moved = shapely.affinity.translate(gdf.byoc.native_covers()[tid], 500.0)
    >>> _ = set_native_covers(gdf, {tid: moved})
    >>> byocframe.changes(gdf)[["field", "action"]].to_dict("records")
    [{'field': 'geometry', 'action': 'update'}]
    """
    series = covers if isinstance(covers, pd.Series) else pd.Series(dict(covers), dtype=object)
    if not len(series):
        return frame
    unknown = series.index[~series.index.isin(frame.index)]
    if len(unknown):
        raise ValidationError(
            f"{len(unknown)} cover(s) name tiles that are not in the frame (e.g. "
            f"{unknown[0]!r}): index the covers by tile id"
        )
    positions = frame.index.get_indexer(series.index)
    codes = frame["native_crs"].iloc[positions].astype(object).fillna(WGS84).to_numpy()
    geoms = np.asarray(
        series.array if isinstance(series, gpd.GeoSeries) else series.to_numpy(), dtype=object
    )
    if isinstance(series, gpd.GeoSeries) and series.crs is not None:
        other = [k for k, code in enumerate(codes) if series.crs != CRS.from_user_input(code)]
        if other:
            raise ValidationError(
                f"the covers are in {series.crs.to_string()}, but tile "
                f"{series.index[other[0]]!r} is in {codes[other[0]]} ({len(other)} such "
                "tile(s)): give each cover in its tile's native_crs, or set geometry with to_crs"
            )
    kinds = np.array([getattr(g, "geom_type", type(g).__name__) for g in geoms])
    bad = np.flatnonzero(~np.isin(kinds, ["Polygon", "MultiPolygon"]))
    if len(bad):
        raise ValidationError(
            f"tile {series.index[bad[0]]!r}: a cover must be a Polygon or MultiPolygon, not "
            f"a {kinds[bad[0]]} ({len(bad)} such cover(s))"
        )
    unsendable = [
        (tid, why)
        for tid, geom, code in zip(series.index, geoms, codes, strict=True)
        if (why := cover_problem(geom, str(code))) is not None
    ]
    if unsendable:
        tid, why = unsendable[0]
        raise ValidationError(
            f"tile {tid!r}: the cover cannot be sent: {why} ({len(unsendable)} such "
            "cover(s)); nothing was changed",
            [
                {"id": t, "field": "native_cover", "value": None, "problem": w}
                for t, w in unsendable
            ],
        )
    target = frame.crs.to_string() if frame.crs is not None else WGS84
    drawn = drawing(frame.attrs.get(ATTRS_KEY, {}))
    shown = reproject(geoms, codes, target, clip=False, **drawn)
    column = frame.columns.get_loc(frame.active_geometry_name)
    frame.iloc[positions, column] = shown
    return frame
