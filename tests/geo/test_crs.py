"""`parse_crs` reads every CRS spelling pyproj reads, and agrees with pyproj's own parse.

Independent truth: ``pyproj.CRS.from_user_input`` on the same spelling. byocframe keeps
lon/lat order, so a lon/lat WGS84 (CRS84) is compared ignoring axis order.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.geo.crs import GeometryProblem, parse_crs

#: Spellings of a CRS with an EPSG code, as users and standards write them.
SPELLINGS = [
    "EPSG:32633",
    "epsg:32633",
    "urn:ogc:def:crs:EPSG::32633",
    "urn:ogc:def:crs:EPSG:9.8.15:32633",
    "http://www.opengis.net/def/crs/EPSG/0/32633",
    "https://www.opengis.net/def/crs/EPSG/9.9.1/32633",
    "+proj=utm +zone=33 +datum=WGS84 +units=m +no_defs",
    CRS.from_epsg(32633).to_wkt(),
    CRS.from_epsg(32633).to_json(),
    "ESRI:102100",
    "EPSG:3857",
    "EPSG:4326",
    "WGS 84",
    "WGS84",
    "OGC:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "+proj=longlat +datum=WGS84 +no_defs",
    "EPSG:4326+5773",  # a compound CRS with its own code (9707)
    " EPSG:3031 ",
    32633,
    CRS.from_epsg(3413),
]


@pytest.mark.parametrize("spelling", SPELLINGS, ids=lambda s: str(s)[:40])
def test_agrees_with_pyproj(spelling):
    parsed = parse_crs(spelling)
    assert parsed.startswith("EPSG:")
    theirs = CRS.from_user_input(spelling.strip() if isinstance(spelling, str) else spelling)
    assert CRS(parsed).equals(theirs, ignore_axis_order=True), (parsed, theirs.to_authority())


@pytest.mark.parametrize(
    ("spelling", "message"),
    [
        ("not a crs", "unrecognised CRS 'not a crs'"),
        ("http://www.opengis.net/gml/srs/epsg.xml#32633", "unrecognised CRS"),
        ("urn:ogc:def:crs:EPSG::999999", "unknown EPSG code 999999"),
        ("OGC:CRS27", "no EPSG code"),  # pyproj reads it, but it has no EPSG code
        ("+proj=tmerc +lon_0=15.3 +ellps=GRS80 +units=m", "no EPSG code"),
    ],
)
def test_what_cannot_be_used_is_a_one_line_error(spelling, message):
    with pytest.raises(GeometryProblem, match=message):
        parse_crs(spelling)
    try:  # pyproj agrees: it cannot read it, or finds no EPSG code
        code = CRS.from_user_input(spelling).to_epsg()
    except CRSError:
        code = None
    assert code is None


@pytest.mark.parametrize("value", [True, 4.5, [32633]], ids=["bool", "float", "list"])
def test_other_types_are_refused(value):
    with pytest.raises(GeometryProblem, match=f"type {type(value).__name__}"):
        parse_crs(value)


@pytest.mark.parametrize(
    "crs",
    ["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "OGC:CRS84", "urn:ogc:def:crs:EPSG::3857"],
)
def test_crs_arguments_take_them(crs):
    records = synthetic_tiles(20, seed=2)
    frame = byocframe.tiles_from_records(records, crs=crs)
    expected = byocframe.tiles_from_records(records, crs=parse_crs(crs))
    assert frame.crs == expected.crs
    assert np.all(shapely.equals_exact(frame.geometry.values, expected.geometry.values, 0))
