"""Adaptive densifying: error bound, length bound, determinism, settings.

The truth here is independent of `byocframe.geo.densify`: a tile's true outline is its
ring in its own CRS (straight there); the shown lon/lat outline is taken back into that
CRS point by point with pyproj, its lon/lat chords sampled finely, and measured there.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from byocframe.frame.synthetic import synthetic_tiles
from byocframe.geo import densify as densifying
from byocframe.geo.geojson import parse_geojson
from byocframe.geo.geometry import reproject

UNIFORM = {"densify": 10_000.0, "tolerance": np.inf}  # the behaviour before adaptive


@functools.cache
def _from_lonlat(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _nearest(points: np.ndarray, lines: shapely.Geometry) -> np.ndarray:
    """Distance from each point to the lines, through a tree of their segments."""
    xy, part = shapely.get_coordinates(shapely.get_parts(lines), return_index=True)
    same = part[1:] == part[:-1]
    segments = shapely.linestrings(np.stack([xy[:-1][same], xy[1:][same]], axis=1))
    _, distance = shapely.STRtree(segments).query_nearest(
        points, return_distance=True, all_matches=False
    )
    return distance


def outline_error(shown: shapely.Geometry, native: shapely.Geometry, crs: str) -> float:
    """Metres, in the native CRS, between the shown outline and the true one (both ways).

    The lines a cut at the antimeridian or a polar cap adds (longitude exactly 180,
    latitude exactly 90, meridians to a pole) are inside the true outline, so only the
    other way counts them.
    """
    to_native = _from_lonlat(crs)
    # the lon/lat chords as drawn, sampled every 0.01 degrees (<= 1.1 km)
    drawn = shapely.get_coordinates(shapely.segmentize(shapely.boundary(shown), 0.01))
    pole = np.abs(drawn[:, 1]) == 90
    # and the meridians that close a cap along a pole (exactly that longitude)
    outline = (np.abs(drawn[:, 0]) < 180) & ~pole & ~np.isin(drawn[:, 0], drawn[pole, 0])
    back = np.column_stack(to_native.transform(drawn[:, 0], drawn[:, 1]))
    back_lines = shapely.transform(
        shapely.segmentize(shapely.boundary(shown), 0.01),
        lambda xy: np.column_stack(to_native.transform(xy[:, 0], xy[:, 1])),
    )
    truth = shapely.boundary(native)
    true_points = shapely.points(shapely.get_coordinates(shapely.segmentize(truth, 100.0)))
    return max(
        _nearest(true_points, back_lines).max(),
        shapely.distance(shapely.points(back[outline]), truth).max(),
    )


def one(bounds, crs, **kwargs) -> shapely.Geometry:
    return reproject(np.array([shapely.box(*bounds)]), np.array([crs]), **kwargs)[0]


# (bounds in the CRS, CRS): mid-latitudes at a zone's centre and edge, far north, far
# south, across the antimeridian, round a pole, next to a pole
CASES = {
    "utm-centre-45n": ((400_000.0, 4_900_000.0, 509_800.0, 5_009_800.0), "EPSG:32633"),
    "utm-edge-45n": ((700_000.0, 4_900_000.0, 809_800.0, 5_009_800.0), "EPSG:32633"),
    "utm-edge-75n": ((500_000.0, 8_300_000.0, 609_800.0, 8_409_800.0), "EPSG:32633"),
    "utm-80s": ((300_000.0, 1_100_000.0, 409_800.0, 1_209_800.0), "EPSG:32733"),
    "antimeridian": ((600_000.0, 7_000_000.0, 900_000.0, 7_200_000.0), "EPSG:32660"),
    "south-pole-cap": ((-500_000.0, -400_000.0, 500_000.0, 600_000.0), "EPSG:3031"),
    "north-pole-corner": ((0.0, 0.0, 300_000.0, 300_000.0), "EPSG:3413"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("tolerance", [2.0, 10.0])
def test_outline_stays_within_the_tolerance(case, tolerance):
    bounds, crs = CASES[case]
    shown = one(bounds, crs, tolerance=tolerance)
    assert shown.is_valid
    # the midpoint test bounds a smooth edge's error; 20 % covers curves that are not
    # quite parabolas between two vertices
    assert outline_error(shown, shapely.box(*bounds), crs) < 1.2 * tolerance


@pytest.mark.parametrize("case", ["utm-centre-45n", "utm-edge-45n"])
def test_mid_latitude_tiles_need_half_the_vertices_of_uniform_steps(case):
    bounds, crs = CASES[case]
    adaptive = one(bounds, crs)
    uniform = one(bounds, crs, **UNIFORM)
    assert shapely.get_num_coordinates(adaptive) < shapely.get_num_coordinates(uniform) / 2


@pytest.mark.parametrize("case", ["utm-edge-75n", "utm-80s", "south-pole-cap", "north-pole-corner"])
def test_high_latitude_tiles_come_out_closer_than_with_uniform_steps(case):
    """10 km steps leave 8 m (75 N) to 5 km (next to a pole) between lon/lat chords and
    the true outline; the default tolerance is 5 m."""
    bounds, crs = CASES[case]
    true = shapely.box(*bounds)
    adaptive = outline_error(one(bounds, crs), true, crs)
    assert adaptive < densifying.DENSIFY_TOLERANCE * 1.2
    assert adaptive < outline_error(one(bounds, crs, **UNIFORM), true, crs)


def test_a_north_south_edge_at_the_central_meridian_is_not_split():
    # 1 km wide, 100 km tall, on 15 E: both long edges are (nearly) meridians
    bounds = (499_500.0, 5_000_000.0, 500_500.0, 5_100_000.0)
    shown = one(bounds, "EPSG:32633")
    assert shapely.get_num_coordinates(shown) == 5


def test_densify_is_still_an_upper_bound_on_edge_length():
    bounds, crs = CASES["utm-centre-45n"]
    shown = one(bounds, crs, densify=20_000.0, tolerance=1e6)
    back = np.column_stack(_from_lonlat(crs).transform(*shapely.get_coordinates(shown).T))
    edges = np.hypot(*np.diff(back, axis=0).T)
    assert edges.max() <= 20_000.0 + 1e-3
    assert len(edges) == 4 * 6  # 109.8 km edges in six pieces, nothing added


def test_densify_none_keeps_only_the_given_vertices():
    bounds, crs = CASES["utm-edge-75n"]
    assert shapely.get_num_coordinates(one(bounds, crs, densify=None, tolerance=0.5)) == 5


def test_uniform_steps_are_the_old_behaviour():
    square = (300_000.0, 6_900_000.0, 600_000.0, 7_200_000.0)  # 300 km, UTM 28N
    # 30 pieces an edge (ceil(300 / 10)), 4 edges, the closing vertex
    assert shapely.get_num_coordinates(one(square, "EPSG:32628", **UNIFORM)) == 121


def test_the_module_setting_is_read_at_call_time(monkeypatch):
    bounds, crs = CASES["utm-edge-75n"]
    default = shapely.get_num_coordinates(one(bounds, crs))
    monkeypatch.setattr(densifying, "DENSIFY_TOLERANCE", 0.5)
    finer = one(bounds, crs)
    assert shapely.get_num_coordinates(finer) > default
    assert shapely.equals_exact(finer, one(bounds, crs, tolerance=0.5), tolerance=0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan")])
def test_tolerance_must_be_positive(bad):
    with pytest.raises(ValueError, match="tolerance must be a positive number of metres"):
        one(CASES["utm-centre-45n"][0], "EPSG:32633", tolerance=bad)


def test_tolerance_must_be_a_number():
    with pytest.raises(TypeError, match="tolerance must be a number of metres, not str"):
        one(CASES["utm-centre-45n"][0], "EPSG:32633", tolerance="5")


def test_an_edge_through_a_pole_ends():
    # the edge y = 0 runs through the south pole, where longitude is undefined
    bounds = (-500_000.0, 0.0, 500_000.0, 600_000.0)
    shown = one(bounds, "EPSG:3031")
    assert shown.is_valid
    assert shapely.get_num_coordinates(shown) < 5_000


def test_a_tile_gets_the_same_vertices_alone_as_among_ten_thousand():
    """Edit detection recomputes a row's geometry on its own and compares it exactly."""
    records = [r for r in synthetic_tiles(10_000, seed=11) if "coverGeometry" in r]
    parsed = parse_geojson([r["coverGeometry"] for r in records])
    together = reproject(parsed.geoms, parsed.crs)
    parts = shapely.get_num_geometries(together)
    north = shapely.bounds(together)[:, 3]
    picks = {
        "first": 0,
        "last": len(records) - 1,
        "middle": len(records) // 2,
        "cut": int(np.flatnonzero(parts > 1)[0]),
        "farthest north": int(np.argmax(north)),
    }
    picks["most vertices"] = int(np.argmax(shapely.get_num_coordinates(together)))
    for name, i in picks.items():
        alone = reproject(parsed.geoms[i : i + 1], parsed.crs[i : i + 1])[0]
        assert shapely.to_wkb(alone) == shapely.to_wkb(together[i]), name
    # and in another company: the same geometry among others, in another order
    rng = np.random.default_rng(0)
    order = rng.permutation(len(records))[:3_000]
    order = np.concatenate([order, list(picks.values())])
    again = reproject(parsed.geoms[order], parsed.crs[order])
    for k, i in enumerate(order):
        assert shapely.to_wkb(again[k]) == shapely.to_wkb(together[i])


def test_refine_edges_orders_added_points_along_each_edge():
    """Halves of halves land in order along the edge, in every ring of the batch."""
    shown = one(CASES["utm-edge-75n"][0], "EPSG:32633", tolerance=0.5)
    ring = shapely.get_coordinates(shown)
    back = np.column_stack(_from_lonlat("EPSG:32633").transform(*ring.T))
    y0 = CASES["utm-edge-75n"][0][1]
    back = back[1:]  # shapely's box starts at the bottom right corner: drop the repeat
    bottom = back[np.abs(back[:, 1] - y0) < 1e-3]
    assert len(bottom) > 8
    assert (np.diff(bottom[:, 0]) > 0).all() or (np.diff(bottom[:, 0]) < 0).all()


def _synthetic_covers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    records = [r for r in synthetic_tiles(n, seed=seed) if "coverGeometry" in r]
    parsed = parse_geojson([r["coverGeometry"] for r in records])
    return parsed.geoms, parsed.crs


def test_pieces_of_smooth_edges_keep_the_error_bound_without_a_second_test():
    """The forecast that spares smooth edges a second test keeps every outline in bounds.

    Measured against the independent outline distance, on the test cases and on a
    sample of the synthetic world's covers (polar caps and antimeridian cells included).
    """
    for case, (bounds, crs) in CASES.items():
        shown = one(bounds, crs, tolerance=5.0)
        assert outline_error(shown, shapely.box(*bounds), crs) < 1.02 * 5.0, case
    geoms, crs = _synthetic_covers(600, seed=5)
    shown = reproject(geoms, crs)
    worst = max(outline_error(shown[i], geoms[i], str(crs[i])) for i in range(0, len(geoms), 7))
    assert worst < 1.02 * densifying.DENSIFY_TOLERANCE


def test_smooth_edges_are_not_tested_again(monkeypatch):
    """Fewer midpoint tests than when every piece is tested, for the same shapes (UTM)."""
    geoms, crs = _synthetic_covers(2_000, seed=3)
    utm = np.array([str(c).startswith(("EPSG:326", "EPSG:327")) for c in crs])
    geoms, crs = geoms[utm], crs[utm]
    counted = []
    first_cut, rounds = densifying.chord_error, densifying._round_error

    def counting_first(a, b, mid):
        counted.append(len(a))
        return first_cut(a, b, mid)

    def counting_rounds(a, b, mid, tolerance):
        counted.append(len(a))
        return rounds(a, b, mid, tolerance)

    # the first cut measures each edge's error, each round tests the open pieces
    monkeypatch.setattr(densifying, "chord_error", counting_first)
    monkeypatch.setattr(densifying, "_round_error", counting_rounds)
    forecast = reproject(geoms, crs)
    spared = sum(counted)
    counted.clear()
    monkeypatch.setattr(densifying, "_SMOOTH_MARGIN", 0.0)  # every piece tested again
    tested = reproject(geoms, crs)
    assert spared < 0.85 * sum(counted)
    # and the vertices differ only where testing would have split a forecast piece
    same = shapely.equals_exact(forecast, tested, tolerance=0)
    assert np.mean(same) > 0.95


def test_round_error_decides_as_the_full_chord_error():
    """The rounds skip the great circle where the planar distance decides: the same
    splits as ``chord_error > tolerance`` and the same error wherever the halves'
    forecast could use it; NaN, infinite and antipodal ends included."""
    rng = np.random.default_rng(11)
    k = 20_000
    a = np.column_stack([rng.uniform(-180, 180, k), rng.uniform(-90, 90, k)])
    b = a + rng.normal(0, 0.05, (k, 2)) * rng.choice([0.01, 1, 30], (k, 1))
    mid = (a + b) / 2 + rng.normal(0, 1e-4, (k, 2)) * rng.choice([0.01, 1, 10], (k, 1))
    mid[:5] = [np.nan, np.nan]
    mid[5:10] = [np.inf, np.inf]
    b[10:15] = a[10:15] * [1, -1] + [180, 0]  # antipodal: no one great circle
    for tolerance in (1.0, 5.0, 50.0):
        with np.errstate(invalid="ignore"):
            full = densifying.chord_error(a, b, mid)
            got = densifying._round_error(a, b, mid, tolerance)
            assert ((got > tolerance) == (full > tolerance)).all()
            near = full <= 4 * densifying._SMOOTH_MARGIN * tolerance
        assert np.array_equal(got[near], full[near])
        assert np.isnan(got[:5]).all()


def test_rounds_spare_the_halves_they_can_forecast(monkeypatch):
    """Polar tiles (edges that bend unevenly): the halves of a piece are tested only on
    a close call, and the vertices are those of testing every half."""
    geoms, crs = _synthetic_covers(3_000, seed=8)
    polar = np.array([str(c) in ("EPSG:3413", "EPSG:3031") for c in crs])
    assert polar.sum() > 20
    geoms, crs = geoms[polar], crs[polar]
    counted = []
    rounds = densifying._round_error

    def counting(a, b, mid, tolerance):
        counted.append(len(a))
        return rounds(a, b, mid, tolerance)

    monkeypatch.setattr(densifying, "_round_error", counting)
    forecast = reproject(geoms, crs)
    spared = sum(counted)
    counted.clear()
    monkeypatch.setattr(densifying, "_SMOOTH_MARGIN", 0.0)  # every piece tested again
    tested = reproject(geoms, crs)
    assert spared < 0.7 * sum(counted)
    assert shapely.equals_exact(forecast, tested, tolerance=0).all()
