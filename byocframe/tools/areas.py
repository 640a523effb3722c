"""Where areas are measured: on the WGS84 ellipsoid, or in an equal-area plane.

`geodesic_area` measures each footprint on the ellipsoid (Karney's algorithm). The
statistics count areas in `EQUAL_AREA`, Lambert's cylindrical equal-area projection of
the ellipsoid: `equal_area_geometries` and `project` take footprints there (lon/lat
first, with byocframe's own reprojection), `aoi_geometry` reads an area of interest and
`near_aoi` projects only the footprints that can meet it.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer

from byocframe.exceptions import ByocframeError
from byocframe.geo.crs import WGS84, parse_crs
from byocframe.geo.geometry import reproject
from byocframe.typing import AoiLike, GeometriesLike

__all__ = [
    "EQUAL_AREA",
    "aoi_geometry",
    "equal_area_geometries",
    "geodesic_area",
    "near_aoi",
    "project",
]

_GEOD = Geod(ellps="WGS84")


def geodesic_area(geoms: GeometriesLike, *, unit: str = "km2") -> pd.Series:
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


#: Lambert cylindrical equal-area on the WGS84 ellipsoid: planar areas here are true
#: ellipsoidal areas, and parallels / meridians (grid cells, bounding boxes) are
#: straight lines, so clipping footprints to cells is exact.
EQUAL_AREA = "+proj=cea +lon_0=0 +lat_ts=0 +ellps=WGS84 +units=m +no_defs"
_DENSIFY_DEGREES = 0.1  # lon/lat edges of AOIs are densified before projecting


@functools.lru_cache(maxsize=2)
def _to_equal_area(inverse: bool = False) -> Transformer:
    src, dst = ("EPSG:4326", EQUAL_AREA) if not inverse else (EQUAL_AREA, "EPSG:4326")
    return Transformer.from_crs(src, dst, always_xy=True)


def project(geoms: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Geometries from lon/lat into `EQUAL_AREA` (``inverse``: back to lon/lat).

    Examples
    --------
    >>> import shapely
    >>> square = project(np.array([shapely.box(0, 0, 1, 1)]))[0]
    >>> round(square.area / 1e6)  # km2, between two meridians and two parallels
    12308
    """
    transformer = _to_equal_area(inverse)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), fn)


def equal_area_geometries(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Footprints in the equal-area CRS (None where a tile has no geometry).

    Examples
    --------
    >>> geoms = equal_area_geometries(gpd.GeoSeries([shapely.box(0, 0, 1, 1), None], crs=4326))
    >>> round(geoms[0].area / 1e6), geoms[1]
    (12308, None)
    """
    geoms = _lonlat(frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame)
    values = np.array(geoms.array, dtype=object)  # a copy: empty ones become None
    values[shapely.is_empty(values)] = None
    return project(values)


def _lonlat(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Footprints in lon/lat, cut at the antimeridian and capped at the poles.

    A frame loaded in another CRS (``read_tiles(crs="EPSG:3035")``) is drawn back with
    byocframe's own reprojection: geopandas' ``to_crs`` leaves a footprint across the
    antimeridian as one polygon around the world, which no area can be counted on.
    """
    if geoms.crs is None or geoms.crs.equals("EPSG:4326"):
        return geoms
    try:
        code = parse_crs(geoms.crs)
    except ByocframeError:  # no EPSG code: geopandas' way
        return geoms.to_crs("EPSG:4326")
    values = np.asarray(geoms.array, dtype=object)
    drawn = reproject(values, np.full(len(values), code, dtype=object), WGS84)
    return gpd.GeoSeries(drawn, index=geoms.index, crs="EPSG:4326")


def near_aoi(frame: gpd.GeoDataFrame, aoi: shapely.Geometry) -> np.ndarray:
    """Equal-area footprints of the tiles whose lon/lat bounds meet the AOI's parts' bounds.

    The others are None: they cannot touch the AOI (the equal-area projection keeps
    meridians and parallels straight, so a footprint stays inside its projected
    bounding box), and projecting them would cost more than all the rest of the call.

    Examples
    --------
    >>> near = near_aoi(gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(50, 0, 51, 1)],
    ...                 crs=4326), shapely.box(0.5, 0.5, 2, 2))
    >>> [g is None for g in near]
    [False, True]
    """
    geoms = _lonlat(frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame)
    xmin, ymin, xmax, ymax = shapely.bounds(np.asarray(geoms.array, dtype=object)).T
    near = np.zeros(len(geoms), dtype=bool)
    for west, south, east, north in shapely.bounds(shapely.get_parts(aoi)):
        near |= (xmin <= east) & (xmax >= west) & (ymin <= north) & (ymax >= south)
    out = np.full(len(geoms), None, dtype=object)
    out[near] = equal_area_geometries(geoms[near])
    return out


def aoi_geometry(aoi: AoiLike) -> shapely.Geometry:
    """Read an area of interest into one valid lon/lat geometry inside [-180, 180].

    Parameters
    ----------
    aoi : shapely geometry, GeoSeries, GeoDataFrame or (west, south, east, north)
        A shapely geometry is taken as WGS84 lon/lat; a GeoSeries / GeoDataFrame is
        reprojected from its CRS; a bounding box with ``west > east`` crosses the
        antimeridian. Longitudes beyond +-180 are wrapped.

    Examples
    --------
    >>> aoi_geometry((170, -20, -170, -10)).bounds  # across the antimeridian
    (-180.0, -20.0, 180.0, -10.0)
    """
    if isinstance(aoi, gpd.GeoDataFrame | gpd.GeoSeries):
        series = aoi.geometry if isinstance(aoi, gpd.GeoDataFrame) else aoi
        if series.crs is None:
            raise ValueError("the AOI GeoSeries / GeoDataFrame has no CRS; set one first")
        geom = shapely.union_all(series.to_crs("EPSG:4326").array)
    elif isinstance(aoi, shapely.Geometry):
        geom = aoi
    elif isinstance(aoi, tuple | list) and len(aoi) == 4:
        west, south, east, north = (float(v) for v in aoi)
        if not (-90 <= south < north <= 90):
            raise ValueError(f"AOI south/north must satisfy -90 <= south < north <= 90: {aoi}")
        if east <= west:
            east += 360.0  # across the antimeridian
        geom = shapely.box(west, south, east, north)
    else:
        raise TypeError(
            "aoi must be a shapely geometry (WGS84), a GeoSeries/GeoDataFrame with a CRS, "
            f"or a (west, south, east, north) tuple; got {type(aoi).__name__}"
        )
    geom = shapely.segmentize(geom, _DENSIFY_DEGREES)
    polygons = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise ValueError(f"the AOI must be polygonal, got {geom.geom_type}")
    out = reproject(np.array([shapely.union_all(polygons)]), np.array([WGS84]), densify=None)[0]
    if out is None or out.is_empty:
        raise ValueError("the AOI is empty")
    return out
