"""Depth areas against GEOS overlays computed independently, degenerate cases first."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
import shapely.affinity

import byocframe.tools.depth
import byocframe.tools.edges
from byocframe.tools.depth import depth_areas


def overlay_truth(polygons: list, deepest: int = 4) -> np.ndarray:
    """Area covered k or more times = area of the union of all k-wise intersections."""
    out = []
    for k in range(1, deepest + 1):
        parts = [shapely.intersection_all(list(c)) for c in itertools.combinations(polygons, k)]
        out.append(shapely.union_all(parts).area if parts else 0.0)
    return np.array(out)


def levels(polygons: list, deepest: int = 4, **kwargs) -> np.ndarray:
    """``depth_areas`` padded or cut to ``deepest`` levels."""
    return np.pad(depth_areas(polygons, **kwargs), (0, deepest))[:deepest]


def count_pairs(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record how many candidate edge pairs each ``depth_areas`` call compares."""
    compared = []
    find_pairs = byocframe.tools.depth.candidate_pairs

    def spy(edges):
        pairs = find_pairs(edges)
        compared.append(sum(len(a) for a, _ in pairs))
        return pairs

    monkeypatch.setattr(byocframe.tools.depth, "candidate_pairs", spy)
    return compared


def random_polygons(rng: np.random.Generator) -> list:
    """Up to 8 polygons on a half-unit grid (shared vertices, collinear edges) plus
    exact duplicates, holes and multi-part polygons, the cases that break overlays."""
    polygons = []
    for _ in range(rng.integers(1, 8)):
        centre, radius = rng.uniform(0, 10, 2), rng.uniform(0.5, 4)
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 9)))
        ring = np.round((centre + radius * np.c_[np.cos(angles), np.sin(angles)]) * 2) / 2
        valid = shapely.make_valid(shapely.Polygon(ring))
        area = shapely.union_all([g for g in shapely.get_parts(valid) if g.area > 0])
        if area.area > 0:
            polygons.append(area)
    if len(polygons) > 1 and rng.random() < 0.4:
        polygons += [polygons[0]] * int(rng.integers(1, 4))  # the same footprint again
    if len(polygons) > 1 and rng.random() < 0.4:
        polygons.append(polygons[1].difference(shapely.box(3, 3, 6, 6)))  # holes, notches
    if polygons and rng.random() < 0.4:
        polygons.append(shapely.union(polygons[0], shapely.box(-3, -3, 0, 0)))  # multi-part
    return [p for p in polygons if p.area > 0]


@pytest.mark.parametrize("seed", range(4))
def test_random_degenerate_polygons_match_overlays(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        polygons = random_polygons(rng)
        expected = overlay_truth(polygons)
        np.testing.assert_allclose(levels(polygons, resolution=1e-7), expected, atol=1e-5)
        two = depth_areas(polygons, resolution=1e-7, deepest=2)
        assert len(two) <= 2
        np.testing.assert_allclose(np.pad(two, (0, 2))[:2], expected[:2], atol=1e-5)


class TestDegenerateCases:
    def test_the_same_polygon_n_times(self):
        box = shapely.box(0, 0, 3, 2)
        assert levels([box] * 4, deepest=5).tolist() == pytest.approx([6, 6, 6, 6, 0])

    def test_copies_beside_another_polygon(self):
        a, b = shapely.box(0, 0, 2, 2), shapely.box(1, 0, 3, 2)
        assert levels([a, b, a, a], deepest=5).tolist() == pytest.approx([6, 4, 4, 2, 0])

    def test_many_copies_count_once_with_a_weight(self, monkeypatch):
        # copies are merged before any edge is compared: no candidate pair between them
        compared = count_pairs(monkeypatch)
        box = shapely.segmentize(shapely.box(0, 0, 100, 100), 1)
        assert levels([box] * 200, deepest=201)[[0, 199, 200]] == pytest.approx([1e4, 1e4, 0])
        assert compared == [0]

    def test_neighbours_sharing_an_edge_do_not_overlap(self):
        result = levels([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], deepest=2)
        assert result.tolist() == pytest.approx([2, 0])

    def test_a_polygon_filling_anothers_hole(self):
        ring = shapely.box(0, 0, 4, 4).difference(shapely.box(1, 1, 3, 3))
        assert levels([ring, shapely.box(1, 1, 3, 3)], 2).tolist() == pytest.approx([16, 0])

    def test_vertex_shared_by_two_polygons(self):
        # found by the random test: both rings pass through (6.5, 4.5)
        a = shapely.Polygon([(11.5, 8.5), (10, 11), (6, 5), (6.5, 4.5), (7, 4.5), (11.5, 6.5)])
        b = shapely.Polygon([(8, 3), (7.5, 4), (6.5, 4.5), (4.5, 1.5), (5, 1), (8, 2.5)])
        np.testing.assert_allclose(levels([a, b], resolution=1e-7), overlay_truth([a, b]))

    def test_near_collinear_cut_that_polygonize_gets_wrong(self):
        # GEOS node + polygonize loses the sliver between these two; the overlay does not
        a = shapely.Polygon([(11, 4.5), (5.5, 4.5), (11, 0.5)])
        b = a.difference(shapely.box(3, 3, 6, 6))
        expected = [a.area, b.area]
        assert levels([a, b], 2, resolution=1e-7) == pytest.approx(expected, abs=1e-6)

    def test_lines_and_points_have_no_area(self):
        square = shapely.box(0, 0, 1, 1)
        collection = shapely.GeometryCollection(
            [shapely.MultiPolygon([shapely.box(2, 0, 3, 1)]), shapely.LineString([(0, 0), (5, 5)])]
        )
        assert levels([square, collection, None], 2).tolist() == pytest.approx([2, 0])


class TestLimits:
    def test_nothing_to_count(self):
        assert depth_areas([]).size == 0
        assert depth_areas([None, shapely.Polygon()]).size == 0

    def test_deepest_below_one(self):
        with pytest.raises(ValueError, match="1 level or more"):
            depth_areas([shapely.box(0, 0, 1, 1)], deepest=0)

    def test_coordinates_too_large_for_the_grid(self):
        with pytest.raises(ValueError, match="coarser resolution"):
            depth_areas([shapely.box(0, 0, 1e12, 1)], resolution=0.1)

    def test_one_very_long_edge_among_short_ones(self):
        # a polar cap in the equal-area plane: one edge 40,000 km long
        cap = shapely.box(-2.0e7, 6.0e6, 2.0e7, 6.4e6)
        small = [shapely.box(x, 6.3e6, x + 1e4, 6.5e6) for x in np.arange(-1e6, 1e6, 2e4)]
        polygons = [cap, *small]
        np.testing.assert_allclose(levels(polygons, 2), overlay_truth(polygons, 2), rtol=1e-12)

    def test_small_chunks_give_the_same_areas(self, monkeypatch):
        rng = np.random.default_rng(7)
        polygons = [shapely.box(x, y, x + 3, y + 3) for x, y in rng.uniform(0, 10, (40, 2))]
        expected = depth_areas(polygons)
        monkeypatch.setattr(byocframe.tools.edges, "CHUNK", 50)
        np.testing.assert_allclose(depth_areas(polygons), expected, rtol=1e-12)


class TestStackedCopies:
    """One mosaic stacked k times, each copy with its own float noise (tiles re-ingested
    every month): the depth is k everywhere, and the work grows with k, not with k**2."""

    @staticmethod
    def mosaic(copy: int, noise: float) -> list:
        """A 4 x 3 grid of squares sharing edges, vertices moved by up to ``noise``."""
        rng = np.random.default_rng(copy)
        squares = []
        for x, y in itertools.product(range(4), range(3)):
            square = shapely.segmentize(shapely.box(x * 10, y * 10, x * 10 + 10, y * 10 + 10), 2)
            squares.append(shapely.transform(square, lambda c: c + rng.uniform(-noise, noise)))
        return squares

    @pytest.mark.parametrize("k", [1, 2, 5, 12])
    def test_depth_is_k_exactly(self, k):
        # noise far below the grid: every copy snaps onto the same vertices
        stack = [p for copy in range(k) for p in self.mosaic(copy, noise=1e-6)]
        assert len(set(shapely.to_wkb(stack))) == len(stack)  # no two copies are equal
        result = levels(stack, deepest=k + 1, resolution=0.01)
        assert result.tolist() == pytest.approx([1200.0] * k + [0.0], rel=1e-12)

    def test_edge_pairs_do_not_grow_with_the_copies(self, monkeypatch):
        compared = count_pairs(monkeypatch)
        for k in (2, 20):
            depth_areas([p for copy in range(k) for p in self.mosaic(copy, noise=1e-6)])
        assert compared[0] == compared[1] > 0

    @pytest.mark.parametrize("seed", range(3))
    def test_copies_that_snap_apart_match_overlays(self, seed):
        # noise of a grid step: copies snap to different vertices and their edges cross
        # one another at shallow angles; the truth is the overlay of the snapped copies
        rng = np.random.default_rng(seed)
        copies = []
        for _ in range(3):
            ring = np.array([(0, 0), (4, 0), (4, 3), (2, 4), (0, 3)]) * 100.0
            ring = ring + rng.integers(-1, 2, ring.shape)
            copies.append(shapely.Polygon(ring))
        other = shapely.box(150, -50, 600, 150)
        polygons = [*copies, other]
        np.testing.assert_allclose(
            levels(polygons, 5, resolution=1.0), overlay_truth(polygons, 5), rtol=1e-12
        )


def arrangement_truth(polygons: list, deepest: int) -> np.ndarray:
    """Area covered k or more times from GEOS: node every boundary, polygonize the faces
    and count the polygons that hold a point inside each face."""
    lines = shapely.union_all(shapely.boundary(np.asarray(polygons, dtype=object)))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    inside = shapely.point_on_surface(faces)
    count = np.array([sum(p.covers(q) for p in polygons) for q in inside])
    return np.array([shapely.area(faces[count >= k]).sum() for k in range(1, deepest + 1)])


class TestStackedVariants:
    """Years of one mosaic counted as one group: copies that snap apart, covers cut anew
    each month (a swath edge), rings turned the other way or starting elsewhere. Exact
    coordinates on a unit grid (``resolution=1``), so the truth is GEOS's on the input."""

    @staticmethod
    def swath(rng: np.random.Generator, cell: shapely.Polygon) -> shapely.Polygon:
        """The cell minus the part below a zig-zag from its bottom edge (integer vertices)."""
        xmin, ymin, xmax, _ = cell.bounds
        a = int(rng.integers(1, 4))
        zig = [(xmin + a + 2 * i, ymin + 1 + i + 2 * (i % 2)) for i in range(5)]
        cut = shapely.Polygon([(xmin, ymin), *zig, (xmax, ymin)])
        swath = shapely.difference(cell, shapely.make_valid(cut))
        return swath if swath.geom_type == "Polygon" else cell

    def stack(self, rng: np.random.Generator, months: int) -> list:
        cells = [shapely.box(x, y, x + 12, y + 12) for x, y in itertools.product((0, 10), (0, 10))]
        out = []
        for _, cell in itertools.product(range(months), cells):
            cover = self.swath(rng, cell) if rng.random() < 0.35 else cell
            ring = shapely.get_coordinates(cover.exterior)[:-1]
            ring = ring + rng.integers(-1, 2, ring.shape) * (rng.random(ring.shape) < 0.2)
            out.append(shapely.Polygon(ring))
        return [p for p in out if p.is_valid]

    @pytest.mark.parametrize("seed", range(3))
    def test_recut_and_snapped_apart_copies_match_the_arrangement(self, seed):
        polygons = self.stack(np.random.default_rng(seed), months=5)
        expected = arrangement_truth(polygons, 6)
        np.testing.assert_allclose(levels(polygons, 6, resolution=1.0), expected, rtol=1e-9)
        # only the levels asked for are counted, and they are the same
        two = depth_areas(polygons, resolution=1.0, deepest=2)
        np.testing.assert_allclose(two, expected[:2], rtol=1e-9)

    def test_small_chunks_give_the_same_areas(self, monkeypatch):
        # candidate pairs, tie sums and the pieces' levels, each in chunks of a few
        polygons = self.stack(np.random.default_rng(9), months=6)
        expected = depth_areas(polygons, resolution=1.0)
        monkeypatch.setattr(byocframe.tools.edges, "CHUNK", 7)
        result = depth_areas(polygons, resolution=1.0)
        np.testing.assert_allclose(result, expected, rtol=1e-12, atol=1e-9)

    def test_reversed_and_rotated_rings_are_the_same_footprint(self):
        square = np.array([(0, 0), (10, 0), (10, 10), (0, 10)])
        copies = [shapely.Polygon(np.roll(square, k, axis=0)) for k in range(4)]
        copies += [shapely.Polygon(np.roll(square[::-1], k, axis=0)) for k in range(3)]
        other = shapely.box(5, -5, 15, 5)  # a neighbour sharing a vertex with every copy
        result = levels([*copies, other], 9, resolution=1.0)
        assert result.tolist() == pytest.approx([175.0, 100.0, *[100.0] * 5, 25.0, 0.0])
        expected = arrangement_truth([*copies, other], 9)
        np.testing.assert_allclose(result, expected, rtol=1e-12)

    def test_shared_edges_and_copies_sharing_a_corner(self):
        # 4 x 3 squares sharing edges, three times, each copy's vertices moved by up to
        # one grid step: the slivers between copies are counted exactly
        rng = np.random.default_rng(11)
        polygons = []
        for _, (x, y) in itertools.product(range(3), itertools.product(range(4), range(3))):
            ring = np.add([(0, 0), (10, 0), (10, 10), (0, 10)], (10 * x, 10 * y))
            polygons.append(shapely.Polygon(ring + rng.integers(-1, 2, ring.shape)))
        expected = arrangement_truth(polygons, 5)
        np.testing.assert_allclose(levels(polygons, 5, resolution=1.0), expected, rtol=1e-9)

    def test_the_work_grows_with_the_copies_not_copies_times_crossings(self, monkeypatch):
        # one cell stacked k times (noise below the grid), 3 covers of it cut anew (they
        # share three of its corners) and 3 shifted ones whose edges cross the copies':
        # a crossing is one event per class and a shared corner one sum per member, so
        # the events do not grow with k (before: k member events per crossing)
        events = []
        crossings = byocframe.tools.depth.crossings

        def spy(segments, a, b):
            on_class, on_member, at_ends = crossings(segments, a, b)
            events.append(len(on_class[0]) + len(on_member[0]) + len(at_ends[0]))
            return on_class, on_member, at_ends

        monkeypatch.setattr(byocframe.tools.depth, "crossings", spy)
        rng = np.random.default_rng(3)
        cell = shapely.box(0, 0, 100, 100)
        cut = [self.swath(rng, cell) for _ in range(6)]
        cut[3:] = [shapely.affinity.translate(c, 50, 30) for c in cut[3:]]
        expected = arrangement_truth([cell, cell, *cut], 2)
        totals = []
        for k in (2, 20):
            copies = [
                shapely.transform(cell, lambda c: c + rng.uniform(-1e-4, 1e-4)) for _ in range(k)
            ]
            events.clear()
            result = depth_areas([*copies, *cut], resolution=0.01, deepest=2)
            np.testing.assert_allclose(result, expected, rtol=1e-12)
            totals.append(sum(events))
        assert totals[0] == totals[1] > 0
