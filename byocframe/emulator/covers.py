"""Validation of cover geometries from requests: shape, CRS kind, area of use, validity.

A cover must be a GeoJSON Polygon or MultiPolygon (with the service's ``crs`` member, or
none for WGS84) in a 2-D geographic or projected CRS, of at most 100 points, within the
CRS's area of use (widened by `AREA_MARGIN` degrees), and a valid polygon of non-zero
area. It comes back in CRS84, as the service stores it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

import shapely
from pyproj import CRS

from byocframe.emulator.coords import Polygons, transform_polygons
from byocframe.emulator.problems import bad, is_number, shown
from byocframe.geometry import GeometryProblem, parse_crs

__all__ = ["AREA_MARGIN", "MAX_COVER_POINTS", "Cover", "read_cover"]

MAX_COVER_POINTS = 100
#: Degrees a cover may reach beyond its CRS's area of use (tiles overlap the next zone).
AREA_MARGIN = 5.0


class Cover(NamedTuple):
    """A validated cover: MultiPolygon coordinates in CRS84, the CRS given, the type."""

    polygons84: Polygons
    crs: str
    kind: str


@functools.lru_cache(maxsize=256)
def _area_of_use(crs: str) -> tuple[float, float, float, float]:
    """The CRS's area of use in degrees (widened by `AREA_MARGIN`), or refuse the CRS."""
    parsed = CRS.from_user_input(crs)
    if not (parsed.is_geographic or parsed.is_projected) or len(parsed.axis_info) != 2:
        kind = parsed.type_name  # e.g. "Vertical CRS", "Geocentric CRS", "Compound CRS"
        raise bad(f"coverGeometry.crs {crs} is a {kind}; use a 2-D geographic or projected CRS")
    area = parsed.area_of_use
    west, south, east, north = area.bounds if area else (-180.0, -90.0, 180.0, 90.0)
    if west > east:  # the area crosses the antimeridian
        west, east = west - 360.0, east
    return (
        west - AREA_MARGIN,
        max(-90.0, south - AREA_MARGIN),
        east + AREA_MARGIN,
        min(90.0, north + AREA_MARGIN),
    )


@functools.lru_cache(maxsize=256)
def _is_geographic(crs: str) -> bool:
    return bool(CRS.from_user_input(crs).is_geographic)


def read_cover(geojson: Any, field: str = "coverGeometry") -> Cover:
    """Validate a cover geometry from a request (shape, CRS, area of use, validity).

    Examples
    --------
    >>> bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    >>> read_cover(bowtie, "cover")
    Traceback (most recent call last):
    ...
    byocframe.emulator.problems.ApiProblem: cover is not a valid polygon: Self-intersection[0.5 0.5]
    """
    if not isinstance(geojson, Mapping):
        raise bad(f"{field} must be a GeoJSON Polygon or MultiPolygon object")
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise bad(f"{field} must be a Polygon or MultiPolygon, got {shown(kind)}")
    member = geojson.get("crs")
    try:
        name = None if member is None else member["properties"]["name"]
        crs = parse_crs(None if name is None else str(name))
    except (KeyError, TypeError) as err:
        raise bad(f"{field} has an unreadable crs member: {shown(member)}") from err
    except GeometryProblem as err:
        raise bad(f"{field}.crs: {err}") from err
    west, south, east, north = _area_of_use(crs)
    coords = geojson.get("coordinates")
    if not isinstance(coords, list):
        raise bad(f"{field} coordinates must be a list, got {type(coords).__name__}")
    polygons = _polygons(coords if kind == "MultiPolygon" else [coords], field)
    points = sum(len(ring) for poly in polygons for ring in poly)
    if points > MAX_COVER_POINTS:
        raise bad(
            f"{field} has {points} points; at most {MAX_COVER_POINTS} are allowed "
            "(simplify it first)"
        )
    # the area first: it bounds the magnitudes the validity check computes with
    moved = transform_polygons(polygons, crs, "EPSG:4326")
    # projected longitudes come back wrapped: a zone-1 tile reaching over the antimeridian
    # is at 179; geographic ones are the input itself (181 is allowed, 200 is not)
    turns = (0.0,) if _is_geographic(crs) else (-360.0, 0.0, 360.0)
    for poly in moved:
        for ring in poly:
            for x, y in ring:
                inside = any(west <= x + turn <= east for turn in turns)
                if not (inside and south <= y <= north):
                    raise bad(
                        f"{field} reaches outside the area of use of {crs} "
                        f"(a position maps to lon/lat {x:.6g}, {y:.6g})"
                    )
    shape = shapely.MultiPolygon([shapely.Polygon(poly[0], poly[1:]) for poly in polygons])
    reason = shapely.is_valid_reason(shape)
    if reason != "Valid Geometry":
        raise bad(f"{field} is not a valid polygon: {reason}")
    if any(part.area <= 0 for part in shape.geoms):
        raise bad(f"{field} has a polygon of zero area")
    return Cover(moved, crs, kind)


def _polygons(polygons: list[Any], field: str) -> Polygons:
    """Check the nesting of MultiPolygon coordinates; positions become floats."""
    if not polygons:
        raise bad(f"{field} coordinates must not be empty")
    out: Polygons = []
    for poly in polygons:
        if not isinstance(poly, list) or not poly:
            raise bad(f"{field} polygons must be non-empty lists of rings")
        rings = []
        for ring in poly:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                raise bad(f"{field} rings must be closed and have at least 4 positions")
            for pos in ring:
                if not (isinstance(pos, list) and len(pos) == 2 and all(map(is_number, pos))):
                    raise bad(f"{field} has a bad position {shown(pos)}: [x, y] numbers")
            rings.append([[float(x), float(y)] for x, y in ring])
        out.append(rings)
    return out
