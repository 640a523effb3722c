"""The geometry engine: CRS spellings, densifying, antimeridian, poles, validity."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import shapely
from conftest import box_ring, geojson
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod, Transformer

from byocframe.geo.crs import GeometryProblem, parse_crs
from byocframe.geo.geojson import geometries_to_geojson, parse_cover, parse_geojson
from byocframe.geo.geometry import reproject
from byocframe.tools.stats import geodesic_area

GEOD = Geod(ellps="WGS84")


@functools.cache
def _to_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def reference_area_km2(ring: list[list[float]], crs: str) -> float:
    """Independent truth: the ring densified to 1 km, transformed point by point and
    measured by GeographicLib, which handles rings across 180 degrees or round a pole."""
    dense = np.asarray(shapely.segmentize(shapely.LineString(ring), 1_000.0).coords)
    lon, lat = _to_lonlat(crs).transform(*dense.T)
    area, _ = GEOD.polygon_area_perimeter(lon, lat)
    return abs(area) / 1e6


def one(geom_box: tuple[float, float, float, float], crs: str, **kwargs) -> shapely.Geometry:
    return reproject(np.array([shapely.box(*geom_box)]), np.array([crs]), **kwargs)[0]


class TestParseCrs:
    @pytest.mark.parametrize(
        ("spelling", "expected"),
        [
            ("urn:ogc:def:crs:EPSG::32633", "EPSG:32633"),
            ("urn:ogc:def:crs:EPSG:9.8.15:32633", "EPSG:32633"),
            ("URN:OGC:DEF:CRS:EPSG::3031", "EPSG:3031"),
            ("urn:ogc:def:crs:OGC::CRS84", "EPSG:4326"),
            ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"),
            ("EPSG:32761", "EPSG:32761"),
            ("http://www.opengis.net/def/crs/EPSG/0/3413", "EPSG:3413"),
            (None, "EPSG:4326"),
        ],
    )
    def test_spellings(self, spelling, expected):
        assert parse_crs(spelling) == expected

    @pytest.mark.parametrize(
        ("spelling", "message"),
        [
            ("urn:ogc:def:crs:EPSG::999999", "unknown EPSG code 999999"),
            ("WGS 1984 please", "unrecognised CRS 'WGS 1984 please'"),
            ("urn:ogc:def:crs:EPSG::", "unrecognised CRS"),
        ],
    )
    def test_bad_spellings(self, spelling, message):
        with pytest.raises(GeometryProblem, match=message):
            parse_crs(spelling)


class TestParseGeojson:
    def test_types_and_crs_are_kept(self):
        ring = box_ring(0, 0, 1, 1)
        parsed = parse_geojson(
            [
                geojson("Polygon", [ring], "urn:ogc:def:crs:EPSG::32633"),
                geojson("MultiPolygon", [[ring], [box_ring(2, 2, 3, 3)]], None),
                None,
            ]
        )
        assert [g.geom_type if g else None for g in parsed.geoms] == [
            "Polygon",
            "MultiPolygon",
            None,
        ]
        assert parsed.crs.tolist() == ["EPSG:32633", "EPSG:4326", None]
        assert parsed.problems == {}

    def test_holes_survive(self):
        outer, hole = box_ring(0, 0, 10, 10), box_ring(4, 4, 6, 6)[::-1]
        geom = parse_geojson([geojson("Polygon", [outer, hole], None)]).geoms[0]
        assert len(geom.interiors) == 1
        assert geom.area == pytest.approx(96.0)

    @pytest.mark.parametrize(
        ("item", "problem"),
        [
            (geojson("Point", [1, 2], None), "Point geometry; only Polygon and MultiPolygon"),
            (geojson("Polygon", [[[0, 0], [1, 0], [1, 1], [0, 1]]], None), "unclosed ring"),
            (geojson("Polygon", [[[0, 0], [1, 0], [0, 0]]], None), "a ring has 3 positions"),
            (
                geojson("Polygon", [[[0, 0], [float("nan"), 0], [1, 1], [0, 0]]], None),
                "non-finite coordinate",
            ),
            (
                geojson("Polygon", [[[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 0, 5]]], None),
                "bad position",
            ),
            (geojson("Polygon", [box_ring(0, 0, 1, 1)], "urn:ogc:def:crs:EPSG::1"), "unknown EPSG"),
            ({"type": "Polygon"}, "not a GeoJSON geometry"),
        ],
    )
    def test_problems_name_the_geometry(self, item, problem):
        good = geojson("Polygon", [box_ring(0, 0, 1, 1)], None)
        parsed = parse_geojson([good, item, good])
        assert list(parsed.problems) == [1]
        assert problem in parsed.problems[1]
        # the good neighbours are still read, the bad one is None
        assert parsed.geoms[0] is not None
        assert parsed.geoms[2] is not None
        assert parsed.geoms[1] is None


class TestDensify:
    corners = (300_000.0, 6_900_000.0, 600_000.0, 7_200_000.0)  # 300 km, UTM 28N

    def test_straight_utm_edges_come_out_curved(self):
        curved = one(self.corners, "EPSG:32628")
        straight = one(self.corners, "EPSG:32628", densify=None)
        assert shapely.get_num_coordinates(straight) == 5
        assert shapely.get_num_coordinates(curved) > 50  # 10 km steps gave 121
        # the true image of the top edge's midpoint lies on the curved outline, not the chord
        lon, lat = Transformer.from_crs("EPSG:32628", "EPSG:4326", always_xy=True).transform(
            450_000.0, 7_200_000.0
        )
        on_curve = shapely.Point(lon, lat)
        assert shapely.distance(curved.boundary, on_curve) < 1e-4  # ~5 m at 65N
        assert shapely.distance(straight.boundary, on_curve) > 1e-2  # ~500 m off

    def test_densify_step_controls_the_error(self):
        coarse = one(self.corners, "EPSG:32628", densify=100_000)
        fine = one(self.corners, "EPSG:32628", densify=1_000)
        assert shapely.get_num_coordinates(coarse) < shapely.get_num_coordinates(fine)
        truth = reference_area_km2(box_ring(*self.corners), "EPSG:32628")
        assert geodesic_area([fine]).iloc[0] == pytest.approx(truth, rel=1e-5)


class TestAntimeridian:
    @pytest.mark.parametrize(
        ("bounds", "crs"),
        [
            ((100_000.0, 7_000_000.0, 400_000.0, 7_200_000.0), "EPSG:32601"),  # zone 1, west
            ((600_000.0, 7_000_000.0, 900_000.0, 7_200_000.0), "EPSG:32660"),  # zone 60, east
            ((100_000.0, 8_000_000.0, 400_000.0, 8_300_000.0), "EPSG:32701"),  # Fiji, south
        ],
    )
    def test_crosser_is_cut_into_two_valid_parts(self, bounds, crs):
        geom = one(bounds, crs)
        assert geom.is_valid
        assert geom.geom_type == "MultiPolygon"
        assert len(geom.geoms) == 2
        xmin, _, xmax, _ = geom.bounds
        assert xmin == pytest.approx(-180.0)
        assert xmax == pytest.approx(180.0)
        for part in geom.geoms:  # no band around the world
            assert part.bounds[2] - part.bounds[0] < 15
        truth = reference_area_km2(box_ring(*bounds), crs)
        assert geodesic_area([geom]).iloc[0] == pytest.approx(truth, rel=1e-4)

    def test_touching_from_either_side_stays_one_polygon(self):
        east = reproject(np.array([shapely.box(170, 10, 180, 20)]), np.array(["EPSG:4326"]))[0]
        west = reproject(np.array([shapely.box(-180, 10, -170, 20)]), np.array(["EPSG:4326"]))[0]
        for geom in (east, west):
            assert geom.is_valid
            assert len(geom.geoms) == 1
        assert east.bounds[2] == 180.0
        assert west.bounds[0] == -180.0

    def test_lon_lat_beyond_180_is_wrapped(self):
        wrapped = reproject(np.array([shapely.box(175, 10, 185, 20)]), np.array(["EPSG:4326"]))
        geom = wrapped[0]
        assert geom.is_valid
        assert len(geom.geoms) == 2
        assert geom.bounds[0] == pytest.approx(-180)
        assert geom.bounds[2] == pytest.approx(180)

    def test_polar_stereographic_tile_across_180_without_pole(self):
        bounds = (-100_000.0, -2_000_000.0, 100_000.0, -1_800_000.0)  # lon 180 in EPSG:3031
        geom = one(bounds, "EPSG:3031")
        assert geom.is_valid
        assert len(geom.geoms) == 2
        assert geom.bounds[3] < -60
        truth = reference_area_km2(box_ring(*bounds), "EPSG:3031")
        assert geodesic_area([geom]).iloc[0] == pytest.approx(truth, rel=1e-4)


class TestPoles:
    @pytest.mark.parametrize(
        ("crs", "bounds", "pole"),
        [
            ("EPSG:3031", (-500_000.0, -400_000.0, 500_000.0, 600_000.0), -90),
            ("EPSG:3413", (-300_000.0, -300_000.0, 300_000.0, 300_000.0), 90),
            ("EPSG:32661", (1_800_000.0, 1_800_000.0, 2_200_000.0, 2_200_000.0), 90),
            ("EPSG:32761", (1_800_000.0, 1_800_000.0, 2_200_000.0, 2_200_000.0), -90),
        ],
    )
    def test_tile_holding_a_pole_becomes_a_cap(self, crs, bounds, pole):
        geom = one(bounds, crs)
        assert geom.is_valid
        xmin, ymin, xmax, ymax = geom.bounds
        assert (xmin, xmax) == (pytest.approx(-180), pytest.approx(180))
        assert (ymin if pole < 0 else ymax) == pytest.approx(pole)
        truth = reference_area_km2(box_ring(*bounds), crs)
        assert geodesic_area([geom]).iloc[0] == pytest.approx(truth, rel=1e-3)

    @pytest.mark.parametrize("crs", ["EPSG:32661", "EPSG:32761", "EPSG:3413"])
    def test_polar_tile_away_from_the_pole(self, crs):
        bounds = (2_500_000.0, 2_500_000.0, 2_700_000.0, 2_700_000.0)
        geom = one(bounds, crs)
        assert geom.is_valid
        assert len(geom.geoms) == 1
        truth = reference_area_km2(box_ring(*bounds), crs)
        assert geodesic_area([geom]).iloc[0] == pytest.approx(truth, rel=1e-4)

    def test_web_mercator_target_clips_the_cap(self):
        geom = one((-500_000.0, -400_000.0, 500_000.0, 600_000.0), "EPSG:3031", target="EPSG:3857")
        assert geom.is_valid
        assert np.isfinite(geom.bounds).all()
        assert geom.bounds[1] == pytest.approx(-20_048_966, rel=1e-3)  # 85.06 S


def test_missing_and_same_crs_geometries():
    square = shapely.box(0, 0, 1, 1)
    out = reproject(np.array([None, square]), np.array([None, "EPSG:4326"]))
    assert out[0] is None
    assert out[1].equals(square)
    assert out[1].geom_type == "MultiPolygon"


def test_geojson_writer_uses_the_service_urn():
    out = geometries_to_geojson([shapely.box(0, 0, 1, 1)], ["EPSG:32633"])[0]
    assert out["crs"] == {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}}
    assert out["coordinates"][0][0] == out["coordinates"][0][-1]


def test_whole_globe_listing_is_valid_and_area_true():
    """Every synthetic tile on Earth (UTM, polar, crossers) against the reference area."""
    from byocframe.frame.synthetic import synthetic_tiles

    records = [r for r in synthetic_tiles(1500, seed=7) if "tileGeometry" in r]
    parsed = parse_geojson([r["tileGeometry"] for r in records])
    out = reproject(parsed.geoms, parsed.crs)
    assert shapely.is_valid(out).all()
    bounds = shapely.bounds(out)
    assert (bounds[:, 0] >= -180).all()
    assert (bounds[:, 2] <= 180).all()
    assert (bounds[:, 1] >= -90).all()
    assert (bounds[:, 3] <= 90).all()
    areas = geodesic_area(out).to_numpy()
    # the same independent truth as reference_area_km2, with one transform per CRS
    rings = [
        np.asarray(
            shapely.segmentize(
                shapely.LineString(r["tileGeometry"]["coordinates"][0]), 1_000.0
            ).coords
        )
        for r in records
    ]
    truth = np.empty(len(rings))
    for crs in set(parsed.crs):
        mine = [i for i, c in enumerate(parsed.crs) if c == crs]
        points = np.concatenate([rings[i] for i in mine])
        lon, lat = _to_lonlat(crs).transform(points[:, 0], points[:, 1])
        ends = np.cumsum([len(rings[i]) for i in mine])
        for i, a, b in zip(mine, np.concatenate([[0], ends[:-1]]), ends, strict=True):
            truth[i] = abs(GEOD.polygon_area_perimeter(lon[a:b], lat[a:b])[0]) / 1e6
    np.testing.assert_allclose(areas, truth, rtol=1e-3)
    sample = records[:: len(records) // 25]  # the point-by-point reference agrees
    for r in sample:
        i = records.index(r)
        ring = r["tileGeometry"]["coordinates"][0]
        assert truth[i] == pytest.approx(reference_area_km2(ring, parsed.crs[i]), rel=1e-9)


# ---------------------------------------------------------------------- one cover
_JSON_VALUES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)
_POSITIONS = st.one_of(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=2),
    st.lists(_JSON_VALUES, min_size=0, max_size=3),
)


@st.composite
def _covers(draw):
    """Covers as a service might send them: mostly well formed, some not."""

    def ring():
        points = draw(st.lists(_POSITIONS, min_size=0, max_size=7))
        if points and draw(st.booleans()):
            points = [*points, points[0]]  # closed, as it should be
        return points

    def polygon():
        return [ring() for _ in range(draw(st.integers(0, 3)))]

    kind = draw(st.sampled_from(["Polygon", "MultiPolygon", "Point", None]))
    cover = {"type": kind}
    if kind == "MultiPolygon":
        cover["coordinates"] = [polygon() for _ in range(draw(st.integers(0, 3)))]
    elif kind is not None:
        cover["coordinates"] = polygon()
    crs = draw(st.sampled_from([None, "urn:ogc:def:crs:EPSG::32633", "EPSG:4326", "junk", 5]))
    if crs is not None:
        cover["crs"] = {"type": "name", "properties": {"name": crs}}
    return cover


@settings(max_examples=400, deadline=None)
@given(_covers())
def test_one_cover_reads_as_the_general_reader_reads_it(cover):
    """`parse_cover`'s quick path must give exactly `parse_geojson`'s answer."""
    geom, crs = parse_cover(cover)
    parsed = parse_geojson([cover])
    assert crs == parsed.crs[0]
    if parsed.geoms[0] is None:
        assert geom is None
    else:
        assert geom.geom_type == parsed.geoms[0].geom_type
        assert shapely.equals_exact(geom, parsed.geoms[0], tolerance=0)


def test_one_cover_quick_path_keeps_holes_and_parts():
    outer, hole = box_ring(0, 0, 10, 10), box_ring(2, 2, 3, 3)
    geom, crs = parse_cover({"type": "MultiPolygon", "coordinates": [[outer, hole], [outer]]})
    assert crs == "EPSG:4326"
    assert geom.geom_type == "MultiPolygon"
    assert len(geom.geoms) == 2
    assert geom.area == pytest.approx(100 - 1 + 100)


@pytest.mark.parametrize(
    "cover",
    [
        {"type": "Polygon", "coordinates": []},
        {"type": "MultiPolygon", "coordinates": [[]]},
        {"type": "MultiPolygon", "coordinates": [[], [box_ring(0, 0, 1, 1)]]},
        {"type": "Polygon", "coordinates": [box_ring(0, 0, 1, 1), 5]},
        {"type": "Polygon", "coordinates": [box_ring(0, 0, 1, 1), "abcd"]},
    ],
    ids=["polygon-no-rings", "part-no-rings", "one-part-no-rings", "int-ring", "text-ring"],
)
def test_malformed_polygons_are_problems_not_crashes(cover):
    """A polygon without rings once reached shapely, which crashed the process."""
    good = {"type": "Polygon", "coordinates": [box_ring(0, 0, 1, 1)]}
    parsed = parse_geojson([cover, good])
    assert parsed.geoms[0] is None
    assert 0 in parsed.problems
    assert parsed.geoms[1].area == 1.0
    assert 1 not in parsed.problems
    assert parse_cover(cover) == (None, None)


@pytest.mark.parametrize(
    "name",
    [10**5000, "urn:ogc:def:crs:EPSG::" + "9" * 5000, "EPSG:" + "9" * 5000],
    ids=["int", "urn", "plain"],
)
def test_parse_crs_refuses_a_code_of_thousands_of_digits(name):
    """Today: Python's ValueError (int/str conversion past 4,300 digits) from a hostile record."""
    from byocframe.geo.crs import GeometryProblem, parse_crs

    with pytest.raises(GeometryProblem, match="unknown EPSG code"):
        parse_crs(name)


def test_geojson_writer_matches_shapely_mapping_for_every_kind():
    """Polygons with holes, MultiPolygons, Z, other kinds, empty and missing: the lists
    shapely's own mapping gives (tuples as lists), in the same order."""
    import json

    holed = shapely.Polygon(
        [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)], [[(1, 1), (2, 1), (2, 2), (1, 1)]]
    )
    geoms = [
        holed,
        shapely.MultiPolygon([holed, shapely.box(20, 20, 21, 21)]),
        None,
        shapely.Polygon(),
        shapely.Polygon([(0, 0, 5), (1, 0, 5), (1, 1, 5), (0, 0, 5)]),
        shapely.Point(3, 4),
        shapely.box(0.1, 0.2, 0.30000000000000004, 0.4),
    ]
    out = geometries_to_geojson(geoms, ["EPSG:32633"] * len(geoms))
    for geom, got in zip(geoms, out, strict=True):
        if geom is None or geom.is_empty:
            assert got is None
            continue
        expected = json.loads(json.dumps(shapely.geometry.mapping(geom)))
        assert got["type"] == expected["type"]
        assert got["coordinates"] == expected["coordinates"]
        assert json.loads(json.dumps(got["coordinates"])) == got["coordinates"]


# ------------------------------------------------------------- whole parallels (252)
def test_a_lon_lat_edge_along_a_whole_parallel_is_read_as_drawn():
    """A global band in lon/lat: its edges from -180 to 180 are the whole parallel.

    Before, they read as crossing the antimeridian the short way, which for two ends
    that are the same point left nothing (finding 252).
    """
    band = shapely.box(-180, -85, 180, 85)
    with_hole = shapely.Polygon(
        band.exterior.coords, [shapely.box(-180, -10, 180, 10).exterior.coords[::-1]]
    )
    utm = shapely.box(300000, 6900000, 600000, 7200000)
    geoms = np.array([utm, band, with_hole, shapely.box(10, 10, 11, 11)])
    crs = np.array(["EPSG:32628", "EPSG:4326", "EPSG:4326", "EPSG:4326"])
    out = reproject(geoms, crs)
    assert out[1].bounds == (-180.0, -85.0, 180.0, 85.0)
    assert out[1].area == pytest.approx(360 * 170)
    assert out[2].area == pytest.approx(360 * 150)  # its hole, a whole band too
    # the same geometry gives the same vertices whatever is reprojected with it
    for k in range(len(geoms)):
        alone = reproject(geoms[k : k + 1], crs[k : k + 1])[0]
        assert shapely.equals_exact(alone, out[k], tolerance=0), k
    # in Web Mercator, the band spans the world's width
    shown = reproject(geoms[1:2], crs[1:2], "EPSG:3857")[0]
    assert shown.bounds[2] - shown.bounds[0] == pytest.approx(2 * 20037508.34, rel=1e-6)


@pytest.mark.parametrize(
    "ring",
    [
        # along the antimeridian itself (a meridian): ends at other latitudes
        [(180, 10), (-180, 20), (-179, 20), (-179, 10), (180, 10)],
        # a short way across the antimeridian, as before
        [(179, 0), (-179, 0), (-179, 1), (179, 1), (179, 0)],
    ],
)
def test_other_jumps_still_cross_the_antimeridian_the_short_way(ring):
    out = reproject(np.array([shapely.Polygon(ring)]), np.array(["EPSG:4326"]))[0]
    # a few square degrees beside the antimeridian, not a band around the globe
    assert 1 <= out.area <= 10
    assert all(abs(x) >= 179 for x in shapely.get_coordinates(out)[:, 0])
