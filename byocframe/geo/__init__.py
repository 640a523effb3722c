"""Geometry on the whole globe.

CRS names, GeoJSON covers, and reprojection that cuts at the antimeridian and closes polar
caps.
"""

from __future__ import annotations

from byocframe.geo.crs import WGS84, GeometryProblem, crs_urn, parse_crs
from byocframe.geo.geojson import MAX_VERTICES, geometries_to_geojson, parse_geojson
from byocframe.geo.geometry import reproject, transformer

__all__ = [
    "MAX_VERTICES",
    "WGS84",
    "GeometryProblem",
    "crs_urn",
    "geometries_to_geojson",
    "parse_crs",
    "parse_geojson",
    "reproject",
    "transformer",
]
