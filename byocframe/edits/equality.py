"""When two times or two covers are the same, and when a cover can be sent at all.

The one home of the equality rules the diff, the push and the verify share:

* times agree to the millisecond (the service's precision): `same_instant`;
* covers in one CRS agree vertex by vertex within 2 cm (`covers_equal`, for what the
  service answers), or enclose the same area with no boundary point more than 2 cm from
  the other's (`same_cover`, for an edited frame whose vertices were re-rendered);
* a cover can be sent when its coordinates are finite, it is a valid polygon and it lies
  within its CRS's area of use widened by `AREA_MARGIN` degrees (`cover_problem`), the
  rules the real service documents (``docs/design/edits.md``).

Examples
--------
>>> import shapely
>>> square = shapely.box(500000, 0, 510000, 10000)
>>> same_cover(square, shapely.affinity.translate(square, 0.001), "EPSG:32633")
True
>>> same_cover(square, shapely.affinity.translate(square, 0.03), "EPSG:32633")
False
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS, Transformer

from byocframe.geo.geometry import transformer

__all__ = [
    "AREA_MARGIN",
    "CUT_TOLERANCE",
    "SHAPE_TOLERANCE",
    "cover_problem",
    "covers_equal",
    "same_cover",
    "same_instant",
    "same_shape",
    "tolerance",
]

#: A cover whose area changed by less than this fraction of it was not edited (a 5 cm
#: shift of a side of a 100 km tile: above the noise of a round trip through another
#: CRS); for a footprint shown cut at the antimeridian, whose cut is interpolated in
#: degrees, 1e-5 (about 0.5 m).
SHAPE_TOLERANCE = 1e-6
CUT_TOLERANCE = 1e-5
#: Degrees a cover may reach beyond its CRS's area of use (tiles overlap the next zone),
#: as the service allows.
AREA_MARGIN = 5.0


def same_instant(a: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
    """Whether int64 microsecond times agree to the millisecond (the service's precision).

    Examples
    --------
    >>> nat = np.iinfo(np.int64).min
    >>> bool(same_instant(1_000_999, 1_000_000)), bool(same_instant(nat, nat))
    (True, True)
    """
    return np.asarray(np.floor_divide(a, 1000) == np.floor_divide(b, 1000))


@functools.lru_cache(maxsize=256)
def tolerance(crs: str) -> float:
    """Coordinates closer than this are the same point (2 cm, in the CRS's units).

    Examples
    --------
    >>> tolerance("EPSG:32633"), tolerance("EPSG:4326")
    (0.02, 2e-07)
    """
    return 2e-7 if CRS(crs).is_geographic else 0.02


def _missing(geom: shapely.Geometry | None) -> bool:
    return geom is None or bool(shapely.is_missing(geom) or shapely.is_empty(geom))


def covers_equal(a: shapely.Geometry | None, b: shapely.Geometry | None, crs: str) -> bool:
    """Whether two covers in ``crs`` are the same within 2 cm (both missing counts).

    Vertex order, ring start and Polygon vs one-part MultiPolygon do not matter: the
    service re-renders covers through CRS84, which adds millimetres of noise.

    Examples
    --------
    >>> square = shapely.box(500000, 0, 510000, 10000)
    >>> moved = shapely.affinity.translate(square, 0.001)
    >>> covers_equal(square, moved, "EPSG:32633"), covers_equal(square, None, "EPSG:32633")
    (True, False)
    >>> covers_equal(square, shapely.affinity.translate(square, 0.05), "EPSG:32633")
    False
    """
    if a is b:
        return True  # the same object (or both None): the usual unedited cover
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    step = tolerance(crs)
    if shapely.equals_exact(a, b, tolerance=step):
        return True  # the common case, without normalising
    left, right = shapely.normalize(_multi(a)), shapely.normalize(_multi(b))
    return bool(shapely.equals_exact(left, right, tolerance=step))


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(geom) == 3:
        return shapely.MultiPolygon([geom])
    return geom


def same_shape(
    a: shapely.Geometry, b: shapely.Geometry, tolerance: float = SHAPE_TOLERANCE
) -> bool:
    """Whether two covers in one CRS enclose the same area (to ``tolerance`` of it).

    Examples
    --------
    >>> same_shape(shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 1.5))
    False
    """
    a, b = shapely.make_valid(a), shapely.make_valid(b)
    scale = max(shapely.area(a), shapely.area(b))
    if scale == 0:
        return bool(shapely.equals(a, b))
    return bool(shapely.area(shapely.symmetric_difference(a, b)) <= tolerance * scale)


def same_cover(
    edited: shapely.Geometry, loaded: shapely.Geometry, crs: str, *, cut: bool = False
) -> bool:
    """Whether an edited cover is the loaded one, re-rendered (both in ``crs``).

    The same when the two enclose the same area (to `SHAPE_TOLERANCE` of it) and, for
    a cover that was not shown cut at the antimeridian (``cut``), no point of either
    boundary lies more than 2 cm (`tolerance`) from the other boundary; a cut one gets
    `CUT_TOLERANCE` of its area and no distance test (its cut is interpolated in
    degrees). A polygon made invalid (a bow-tie) is never the same as a valid one.
    Vertex order, ring start, part order and extra vertices along an edge do not count.

    Examples
    --------
    >>> square = shapely.box(0, 0, 100, 100)
    >>> bowtie = shapely.Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    >>> same_cover(square, square.segmentize(10), "EPSG:32633")
    True
    >>> same_cover(bowtie, square, "EPSG:32633")
    False
    """
    if bool(shapely.is_valid(edited)) != bool(shapely.is_valid(loaded)):
        return False
    if not same_shape(edited, loaded, CUT_TOLERANCE if cut else SHAPE_TOLERANCE):
        return False
    if cut:
        return True
    distance = shapely.hausdorff_distance(shapely.boundary(edited), shapely.boundary(loaded))
    return bool(distance <= tolerance(crs))


@functools.lru_cache(maxsize=256)
def _area(crs: str) -> tuple[tuple[float, float, float, float], bool, Transformer]:
    """The CRS's area of use widened by `AREA_MARGIN`, whether geographic, to lon/lat."""
    parsed = CRS.from_user_input(crs)
    area = parsed.area_of_use
    west, south, east, north = area.bounds if area else (-180.0, -90.0, 180.0, 90.0)
    if west > east:  # the area crosses the antimeridian
        west -= 360.0
    bounds = (
        west - AREA_MARGIN,
        max(-90.0, south - AREA_MARGIN),
        east + AREA_MARGIN,
        min(90.0, north + AREA_MARGIN),
    )
    to_lonlat = transformer(crs, "EPSG:4326")
    return bounds, bool(parsed.is_geographic), to_lonlat


def cover_problem(cover: shapely.Geometry | None, crs: str) -> str | None:
    """Why a cover in ``crs`` cannot be sent, or None when it can.

    Examples
    --------
    >>> cover_problem(shapely.box(500000, 0, 510000, 10000), "EPSG:32633") is None
    True
    >>> cover_problem(shapely.box(500000, 0, 510000, 10000), "EPSG:32601") is None
    True
    >>> print(cover_problem(shapely.box(-5e6, 0, -4.9e6, 1e4), "EPSG:32633"))
    it reaches outside the area of use of EPSG:32633 (a vertex maps to lon/lat -28.557, 0)
    >>> print(cover_problem(shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "EPSG:4326"))
    it is not a valid polygon (Self-intersection[0.5 0.5]): fix it, e.g. with shapely.make_valid
    """
    if _missing(cover):
        return "it is missing or empty"
    xy = shapely.get_coordinates(cover)
    if not np.isfinite(xy).all():
        return f"its coordinates are not finite in {crs}: it lies far outside that CRS"
    (west, south, east, north), geographic, to_lonlat = _area(crs)
    lon, lat = xy[:, 0], xy[:, 1]
    if not geographic:
        lon, lat = to_lonlat.transform(lon, lat)
        lon, lat = np.asarray(lon), np.asarray(lat)
    turns = (0.0,) if geographic else (-360.0, 0.0, 360.0)
    inside_lon = np.zeros(len(lon), dtype=bool)
    for turn in turns:
        inside_lon |= (west <= lon + turn) & (lon + turn <= east)
    inside = inside_lon & (south <= lat) & (lat <= north)
    if not inside.all():
        k = int(np.flatnonzero(~inside)[0])
        return (
            f"it reaches outside the area of use of {crs} "
            f"(a vertex maps to lon/lat {lon[k]:.6g}, {lat[k]:.6g})"
        )
    reason = shapely.is_valid_reason(cover)
    if reason != "Valid Geometry":
        return f"it is not a valid polygon ({reason}): fix it, e.g. with shapely.make_valid"
    return None
