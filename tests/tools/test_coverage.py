"""Coverage statistics against independently computed geodesic truths."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import box_ring, geojson

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.tools.stats import (
    EQUAL_AREA,
    aoi_geometry,
    coverage,
    equal_area_geometries,
    gaps,
    overlaps,
)


def truth_km2(*boxes) -> float:
    """Geodesic area (GeographicLib) of lon/lat boxes, edges densified to 0.01 degree."""
    dense = [shapely.segmentize(shapely.box(*b), 0.01) for b in boxes]
    return float(byocframe.geodesic_area(dense).sum())


def frame(*boxes, times=None, index=None) -> gpd.GeoDataFrame:
    n = len(boxes)
    data = {
        "path": [f"p{i}" for i in range(n)],
        "status": pd.Categorical(["INGESTED"] * n),
        "sensing_time": pd.to_datetime(times or ["2024-06-01T10:00:00Z"] * n, utc=True),
    }
    return gpd.GeoDataFrame(data, geometry=[shapely.box(*b) for b in boxes], crs=4326, index=index)


@pytest.fixture(params=["at once", "cell by cell", "cells in batches", "in halved cells"])
def counting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with groups counted at once, cut along the cells (each cell counted
    alone, or whole cells counted together up to 40 pieces a call), and cut along cells
    halved down to 100 km (as when a cell would hold too many footprints)."""
    if request.param != "at once":
        monkeypatch.setattr(byocframe.tools.batching, "_MAX_AT_ONCE", 0)
        monkeypatch.setattr(byocframe.tools.batching, "_BATCH", 1)
    if request.param == "cells in batches":
        monkeypatch.setattr(byocframe.tools.batching, "_BATCH", 40)
    if request.param == "in halved cells":
        monkeypatch.setattr(byocframe.tools.batching, "_MAX_PER_CELL", 1)
    return request.param


@pytest.mark.usefixtures("counting")
class TestCoverage:
    def test_two_overlapping_tiles(self):
        a, b = (10, 50, 11, 51), (10.5, 50, 11.5, 51)
        row = coverage(frame(a, b)).iloc[0]
        assert row["tiles"] == 2
        assert row["footprint_km2"] == pytest.approx(truth_km2(a, b), rel=1e-4)
        assert row["covered_km2"] == pytest.approx(truth_km2((10, 50, 11.5, 51)), rel=1e-4)
        assert row["overlap_km2"] == pytest.approx(truth_km2((10.5, 50, 11, 51)), rel=1e-4)

    def test_three_deep_overlap_counts_once(self):
        a = (0, 0, 1, 1)
        row = coverage(frame(a, a, (0.5, 0, 1, 1))).iloc[0]
        assert row["covered_km2"] == pytest.approx(truth_km2(a), rel=1e-4)
        assert row["overlap_km2"] == pytest.approx(truth_km2(a), rel=1e-4)

    def test_footprints_across_cells_are_not_double_counted(self):
        big = (-20, -20, 20, 20)  # spans many 1000 km cells
        row = coverage(frame(big)).iloc[0]
        assert row["covered_km2"] == pytest.approx(truth_km2(big), rel=1e-4)
        assert row["overlap_km2"] == 0

    def test_aoi_across_the_antimeridian(self):
        east, west = (175, -20, 180, -10), (-180, -20, -178, -10)
        row = coverage(frame(east, west), aoi=(170, -20, -170, -10)).iloc[0]
        aoi = truth_km2((170, -20, 180, -10), (-180, -20, -170, -10))
        assert row["aoi_km2"] == pytest.approx(aoi, rel=1e-4)
        assert row["covered_fraction"] == pytest.approx(truth_km2(east, west) / aoi, rel=1e-4)

    def test_aoi_counts_footprints_inside_crossing_and_not_outside(self):
        inside, crossing, outside = (2, 2, 3, 3), (9, 9, 11, 11), (20, 20, 21, 21)
        row = coverage(frame(inside, crossing, outside), aoi=(0, 0, 10, 10)).iloc[0]
        assert row["tiles"] == 2
        expected = truth_km2(inside, (9, 9, 10, 10))
        assert row["footprint_km2"] == pytest.approx(expected, rel=1e-4)
        assert row["covered_km2"] == pytest.approx(expected, rel=1e-4)

    def test_aoi_as_geoseries_in_another_crs(self):
        aoi = gpd.GeoSeries([shapely.box(10, 50, 11, 51)], crs=4326).to_crs(3857)
        row = coverage(frame((10, 50, 12, 52)), aoi=aoi).iloc[0]
        assert row["covered_fraction"] == pytest.approx(1.0, abs=1e-4)

    def test_polar_cap(self):
        record = {
            "id": "pole",
            "path": "p",
            "status": "INGESTED",
            "tileGeometry": geojson(
                "Polygon",
                [box_ring(-500_000, -500_000, 500_000, 500_000)],
                "urn:ogc:def:crs:EPSG::3031",
            ),
        }
        gdf = byocframe.tiles_from_records([record])
        # independent truth: the same square measured in a polar equal-area projection
        laea = shapely.segmentize(shapely.box(-500_000, -500_000, 500_000, 500_000), 1_000)
        projected = gpd.GeoSeries([laea], crs=3031).to_crs("+proj=laea +lat_0=-90 +ellps=WGS84")
        truth = projected.area.iloc[0] / 1e6
        assert coverage(gdf).iloc[0]["covered_km2"] == pytest.approx(truth, rel=5e-3)

    def test_groups(self):
        gdf = frame(
            (0, 0, 1, 1),
            (0, 0, 1, 1),
            (5, 5, 6, 6),
            times=["2024-06-01T01:00Z", "2024-06-01T23:00Z", "2024-07-15T10:00Z"],
        )
        per_date = coverage(gdf, by="sensing_time")
        assert [f"{d:%m-%d}" for d in per_date.index] == ["06-01", "07-15"]
        assert per_date["tiles"].tolist() == [2, 1]
        assert per_date["overlap_km2"].iloc[0] == pytest.approx(truth_km2((0, 0, 1, 1)), rel=1e-4)
        per_month = coverage(gdf, by="MS")
        assert len(per_month) == 2
        with pytest.raises(ValueError, match="neither a column nor a pandas frequency"):
            coverage(gdf, by="nonsense!")

    def test_aoi_touching_a_few_tiles_of_many(self, monkeypatch):
        # two stacked dates of 600 tiles; a 1 degree AOI touches a handful of them
        records = synthetic_tiles(1200, dates=("2024-06-01", "2024-07-01"), polar=False)
        gdf = byocframe.tiles_from_records(records)
        centre = gdf.geometry.iloc[0].representative_point()
        aoi = (centre.x - 0.5, centre.y - 0.5, centre.x + 0.5, centre.y + 0.5)
        touching = gdf[gdf.intersects(shapely.box(*aoi))]
        assert 2 <= len(touching) <= 40
        projected = []
        project = byocframe.tools.areas.project

        def spy(geoms, inverse=False):
            projected.append(len(geoms))
            return project(geoms, inverse)

        monkeypatch.setattr(byocframe.tools.areas, "project", spy)
        row = coverage(gdf, aoi=aoi).iloc[0]
        # only the footprints near the AOI (and the AOI itself) were projected
        assert sum(projected) <= 3 * len(touching) + 1
        monkeypatch.setattr(byocframe.tools.areas, "project", project)
        # the same as counting the touching tiles alone
        alone = coverage(touching, aoi=aoi).iloc[0]
        assert row.to_dict() == pytest.approx(alone.to_dict(), rel=1e-12)
        assert row["tiles"] == len(touching)
        # and as GEOS overlays of the footprints cut to the AOI, in the equal-area CRS (up
        # to the 0.1 m snapping of the points where footprint edges cross the AOI's)
        ea = gpd.GeoSeries(touching.geometry.array, crs=4326).to_crs(EQUAL_AREA)
        region = gpd.GeoSeries([aoi_geometry(aoi)], crs=4326).to_crs(EQUAL_AREA).iloc[0]
        cut = shapely.intersection(ea.array, region)
        assert row["covered_km2"] == pytest.approx(shapely.union_all(cut).area / 1e6, rel=1e-5)
        left, right = shapely.STRtree(cut).query(cut, predicate="intersects")
        twice = shapely.union_all(
            shapely.intersection(cut[left[left < right]], cut[right[left < right]])
        )
        assert row["overlap_km2"] == pytest.approx(twice.area / 1e6, rel=1e-5)

    def test_demo_listing_within_half_a_percent_of_geodesic_truth(self, demo_service):
        gdf = byocframe.read_tiles(demo_service.client(), demo_service.demo_collection)
        one_date = gdf[gdf["sensing_time"].dt.day == 1]
        row = coverage(one_date).iloc[0]
        union = shapely.union_all(shapely.set_precision(one_date.geometry.dropna().array, 1e-7))
        truth = byocframe.geodesic_area([union]).iloc[0]
        assert row["covered_km2"] == pytest.approx(truth, rel=5e-3)
        # covered twice or more = the union of the pairwise intersections
        left, right = shapely.STRtree(one_date.geometry.array).query(
            one_date.geometry.array, predicate="intersects"
        )
        pairs = (
            one_date.geometry.array[left[left < right]],
            one_date.geometry.array[right[left < right]],
        )
        twice = shapely.union_all(shapely.intersection(*pairs, grid_size=1e-7))
        truth_twice = byocframe.geodesic_area([twice]).iloc[0]
        assert row["overlap_km2"] == pytest.approx(truth_twice, rel=5e-3)


class TestGapsAndOverlaps:
    def test_gap_is_the_uncovered_part(self):
        hole = gaps(frame((0, 0, 1, 1)), (0, 0, 2, 1))
        assert hole["area_km2"].iloc[0] == pytest.approx(truth_km2((1, 0, 2, 1)), rel=1e-4)
        assert np.allclose(hole.geometry.iloc[0].bounds, (1, 0, 2, 1))

    def test_no_gap(self):
        hole = gaps(frame((0, 0, 3, 3)), (1, 1, 2, 2))
        assert hole["area_km2"].iloc[0] == pytest.approx(0.0, abs=1e-6)

    def test_same_footprint_twice(self):
        pairs = overlaps(frame((0, 0, 1, 1), (0, 0, 1, 1), (0.9, 0, 2, 1), index=["a", "b", "c"]))
        assert pairs[["tile", "other", "fraction"]].iloc[0].tolist() == ["a", "b", 1.0]
        assert len(pairs) == 3
        touching = overlaps(frame((0, 0, 1, 1), (1, 0, 2, 1)))
        assert touching.empty

    def test_other_dates_are_not_compared_by_default(self):
        gdf = frame((0, 0, 1, 1), (0, 0, 1, 1), times=["2024-06-01T00:00Z", "2024-06-02T00:00Z"])
        assert overlaps(gdf).empty
        assert len(overlaps(gdf, within=None)) == 1


class TestAoi:
    @pytest.mark.parametrize("aoi", [(0, 0, 1, 1), shapely.box(0, 0, 1, 1), [0, 0, 1, 1]])
    def test_spellings(self, aoi):
        assert aoi_geometry(aoi).bounds == pytest.approx((0, 0, 1, 1))

    @pytest.mark.parametrize(
        ("aoi", "error", "message"),
        [
            ("Europe", TypeError, "aoi must be a shapely geometry"),
            ((0, 10, 1, 5), ValueError, "south < north"),
            (shapely.Point(0, 0), ValueError, "must be polygonal"),
            (gpd.GeoSeries([shapely.box(0, 0, 1, 1)]), ValueError, "has no CRS"),
        ],
    )
    def test_bad_aoi(self, aoi, error, message):
        with pytest.raises(error, match=message):
            aoi_geometry(aoi)


def overlay_km2(geoms: np.ndarray) -> tuple[float, float, float]:
    """Covered and covered-twice areas from GEOS, in the equal-area CRS (the union, and
    the union of the pairwise intersections), and how much snapping to the 0.1 m grid
    can change either: at most 0.1 m along every footprint's outline."""
    ea = gpd.GeoSeries(geoms, crs=4326).to_crs(EQUAL_AREA).array
    left, right = shapely.STRtree(ea).query(ea, predicate="intersects")
    pairs = left < right
    twice = shapely.union_all(shapely.intersection(ea[left[pairs]], ea[right[pairs]]))
    grid = shapely.length(ea).sum() * 0.1
    return shapely.union_all(ea).area / 1e6, twice.area / 1e6, grid / 1e6


def counted_pieces(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of pieces of each `depth_areas` call `coverage` makes from now on."""
    calls: list[int] = []
    count = byocframe.tools.stats.depth_areas

    def spy(pieces, **kwargs):
        calls.append(len(pieces))
        return count(pieces, **kwargs)

    monkeypatch.setattr(byocframe.tools.stats, "depth_areas", spy)
    return calls


def fullest_cell(gdf: gpd.GeoDataFrame) -> tuple[int, int]:
    """The pieces of the fullest cell, and the cells, of a frame cut as `coverage` cuts it."""
    _, cell = byocframe.tools.batching._cells(equal_area_geometries(gdf))
    counts = np.unique(cell, return_counts=True)[1]
    return int(counts.max()), len(counts)


@pytest.mark.usefixtures("counting")
class TestStackedMonths:
    """Months of the same tiles, each month's footprints with their own float noise,
    counted as one group and per month."""

    @staticmethod
    def noisy(geom: shapely.Geometry, rng: np.random.Generator, scale: float) -> shapely.Geometry:
        """The footprint with every coordinate but +-180 degrees moved by up to ``scale``
        (a vertex moves as a function of where it is, so rings stay closed)."""
        phase = rng.uniform(0, 2 * np.pi, 2)

        def move(xy: np.ndarray) -> np.ndarray:
            moved = xy + scale * np.sin(xy * 1e3 + xy[:, ::-1] * 7e3 + phase)
            return np.where(np.abs(xy) == 180, xy, moved)

        return shapely.transform(geom, move)

    def test_across_the_antimeridian(self):
        rng = np.random.default_rng(4)
        east, west = shapely.box(175, -20, 180, -10), shapely.box(-180, -20, -178, -10)
        tiles = [shapely.MultiPolygon([east, west]), shapely.box(176, -12, 179, -8)]
        months = 6
        geoms = [self.noisy(t, rng, 1e-8) for _ in range(months) for t in tiles]  # ~1 mm
        times = [f"2024-{m + 1:02d}-01T10:00:00Z" for m in range(months) for _ in tiles]
        gdf = gpd.GeoDataFrame(
            {
                "path": [f"p{i}" for i in range(len(geoms))],
                "status": pd.Categorical(["INGESTED"] * len(geoms)),
                "sensing_time": pd.to_datetime(times, utc=True),
            },
            geometry=geoms,
            crs=4326,
        )
        row = coverage(gdf).iloc[0]
        covered, twice, grid = overlay_km2(gdf.geometry.array)
        assert row["covered_km2"] == pytest.approx(covered, abs=grid)
        assert row["overlap_km2"] == pytest.approx(twice, abs=grid)
        # the noise-free tiles on the ellipsoid: the box pokes out of the east part
        union = truth_km2((175, -20, 180, -10), (-180, -20, -178, -10), (176, -10, 179, -8))
        assert row["covered_km2"] == pytest.approx(union, rel=1e-4)
        assert row["overlap_km2"] == pytest.approx(row["covered_km2"], rel=1e-7)
        per_month = coverage(gdf, by="MS")
        assert len(per_month) == months
        one, one_twice, grid = overlay_km2(gdf.geometry.array[:2])
        assert per_month["covered_km2"].iloc[0] == pytest.approx(one, abs=grid)
        assert per_month["overlap_km2"].iloc[0] == pytest.approx(one_twice, abs=grid)

    def test_a_mosaic_with_shared_edges_cut_across_small_cells(self, counting, monkeypatch):
        # 5 x 4 one-degree tiles sharing their edges, 3 months of them with their own noise,
        # counted in 150 km cells: most tiles are cut, and pieces of one tile in
        # neighbouring cells (which share the cell line) are counted in one call
        rng = np.random.default_rng(6)
        monkeypatch.setattr(byocframe.tools.batching, "CELL_SIZE", 150_000.0)
        tiles = [shapely.box(x, y, x + 1, y + 1) for x in range(10, 15) for y in range(40, 44)]
        months = 3
        geoms = [self.noisy(t, rng, 1e-8) for _ in range(months) for t in tiles]
        times = [f"2024-{m + 1:02d}-01T10:00:00Z" for m in range(months) for _ in tiles]
        gdf = gpd.GeoDataFrame(
            {"sensing_time": pd.to_datetime(times, utc=True)}, geometry=geoms, crs=4326
        )
        calls = counted_pieces(monkeypatch)
        row = coverage(gdf).iloc[0]
        covered, twice, grid = overlay_km2(gdf.geometry.array)
        assert row["covered_km2"] == pytest.approx(covered, abs=grid)
        assert row["overlap_km2"] == pytest.approx(twice, abs=grid)
        # the noise-free mosaic on the ellipsoid
        assert row["covered_km2"] == pytest.approx(truth_km2((10, 40, 15, 44)), rel=1e-6)
        fullest, cells = fullest_cell(gdf)
        if counting == "cell by cell":
            assert max(calls) == fullest
        if counting == "cells in batches":  # whole cells together, up to 40 pieces a call
            assert fullest < max(calls) <= 40
            assert len(calls) < cells
        per_month = coverage(gdf, by="MS")
        one, one_twice, grid = overlay_km2(gdf.geometry.array[: len(tiles)])
        assert per_month["covered_km2"].iloc[0] == pytest.approx(one, abs=grid)
        assert per_month["overlap_km2"].iloc[0] == pytest.approx(one_twice, abs=grid)

    def test_polar_tiles(self, counting, monkeypatch):
        rng = np.random.default_rng(5)
        months = 5
        records = []
        for m in range(months):
            for i, (x, y) in enumerate([(-500_000, -500_000), (300_000, -200_000)]):
                ring = np.array(box_ring(x, y, x + 600_000, y + 600_000), dtype=float)
                ring[:-1] += rng.uniform(-0.001, 0.001, (4, 2))  # 1 mm
                ring[-1] = ring[0]
                records.append(
                    {
                        "id": f"t{m}-{i}",
                        "path": "p",
                        "status": "INGESTED",
                        "sensingTime": f"2024-{m + 1:02d}-01T10:00:00.000",
                        "tileGeometry": geojson(
                            "Polygon", [ring.tolist()], "urn:ogc:def:crs:EPSG::3031"
                        ),
                    }
                )
        gdf = byocframe.tiles_from_records(records)
        calls = counted_pieces(monkeypatch)
        row = coverage(gdf).iloc[0]
        if counting == "cells in batches":  # the caps cross many cells, counted together
            assert fullest_cell(gdf)[0] < max(calls) <= 40
        covered, twice, grid = overlay_km2(gdf.geometry.array)
        assert row["covered_km2"] == pytest.approx(covered, abs=grid)
        assert row["overlap_km2"] == pytest.approx(twice, abs=grid)
        # independent truth: the squares in a polar equal-area projection
        squares = [
            shapely.segmentize(shapely.box(x, y, x + 600_000, y + 600_000), 1_000)
            for x, y in [(-500_000, -500_000), (300_000, -200_000)]
        ]
        laea = gpd.GeoSeries(squares, crs=3031).to_crs("+proj=laea +lat_0=-90 +ellps=WGS84")
        assert row["covered_km2"] == pytest.approx(laea.union_all().area / 1e6, rel=5e-3)
        assert row["overlap_km2"] == pytest.approx(row["covered_km2"], rel=1e-6)
