"""Footprint statistics, always on the ellipsoid (geodesic) or in an equal-area CRS."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

__all__ = ["geodesic_area"]

_GEOD = Geod(ellps="WGS84")


def geodesic_area(geoms: Any, *, unit: str = "km2") -> pd.Series:
    """Geodesic area of each footprint on the WGS84 ellipsoid (Karney's algorithm).

    Right for footprints cut at the antimeridian and for polar caps: the area is summed
    over the parts of each geometry after orienting every ring, never in square degrees.

    Parameters
    ----------
    geoms : GeoSeries, GeoDataFrame or array of shapely geometries
        Footprints. A GeoSeries / GeoDataFrame in another CRS is reprojected to
        EPSG:4326 first; plain arrays are taken as lon/lat.
    unit : {"km2", "m2"}
        Unit of the result.

    Returns
    -------
    pandas.Series
        Float areas (NaN where there is no geometry), on the input's index.

    Examples
    --------
    >>> import shapely
    >>> # one degree by one degree at the equator: about 12 309 km2
    >>> round(geodesic_area([shapely.box(0, 0, 1, 1)]).iloc[0])
    12309
    """
    if unit not in ("km2", "m2"):
        raise ValueError(f"unit must be 'km2' or 'm2', got {unit!r}")
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if isinstance(geoms, gpd.GeoSeries):
        index = geoms.index
        if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
            geoms = geoms.to_crs("EPSG:4326")
        values = np.asarray(geoms.array, dtype=object)
    else:
        values = np.asarray(list(geoms), dtype=object)
        index = pd.RangeIndex(len(values))
    oriented = shapely.orient_polygons(values)
    areas = np.full(len(values), np.nan)
    for i, geom in enumerate(oriented):
        if geom is not None and not geom.is_empty:
            areas[i] = _GEOD.geometry_area_perimeter(geom)[0]
    scale = 1e-6 if unit == "km2" else 1.0
    return pd.Series(areas * scale, index=index, name=f"area_{unit}")
