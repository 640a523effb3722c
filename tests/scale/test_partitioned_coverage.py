"""Coverage of a partitioned dataset (dask) against the in-memory `coverage` of the same tiles.

The truths are independent of the partitioned path: the in-memory path counts each group
at once or in its own cells (3,000 km, halved), and for boxes, GeographicLib's areas.
Partitions are by date (they overlap in space), so summing per-partition coverage would
be wrong; the tests check that it is, to show they can tell.
"""

from __future__ import annotations

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.scale.cells import cell_depths, cell_pieces, combine_coverage
from byocframe.scale.partitioned import partitioned_coverage, read_partitions, write_partitions
from byocframe.tools.stats import coverage

#: Differences allowed. Only the vertices where footprints are cut differ between the
#: paths (each cuts along its own cells); depth_areas snaps them to 0.1 m, which moves an
#: area by up to 0.07 m times the edges beside them (up to a cell long). Measured: at
#: most 0.013 km2 (arctic AOI) and 2e-9 relative. A lost or doubled piece of even 1 km
#: by 100 m (0.1 km2, a hundred-thousandth of one tile) would fail.
REL, ABS_KM2 = 1e-8, 0.05


@pytest.fixture(scope="module")
def tiles() -> gpd.GeoDataFrame:
    """6,000 tiles on 4 dates: 134 cross the antimeridian, 136 reach beyond 80 degrees;
    five have no footprint (counted as tiles, covering nothing)."""
    gdf = byocframe.tiles_from_records(synthetic_tiles(6000, seed=3))
    gdf.loc[gdf.index[:5], "geometry"] = None
    bounds = gdf.geometry.bounds
    assert ((bounds.minx < -179.9) & (bounds.maxx > 179.9)).sum() > 50
    assert ((bounds.maxy > 84) | (bounds.miny < -80)).sum() > 50
    return gdf


@pytest.fixture(scope="module")
def by_date(tiles, tmp_path_factory) -> str:
    """The tiles in 4 GeoParquet files, one per date: partitions that overlap in space."""
    folder = tmp_path_factory.mktemp("by_date")
    assert len(write_partitions(tiles, folder, by="sensing_time")) == 4
    return str(folder)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_index_equal(got.index, want.index)
    assert got["tiles"].tolist() == want["tiles"].tolist()
    for column in got.columns.drop("tiles"):
        np.testing.assert_allclose(
            got[column], want[column], rtol=REL, atol=ABS_KM2, err_msg=column
        )


@pytest.mark.parametrize("by", [None, "sensing_time", "month", "status"])
def test_same_numbers_as_in_memory(tiles, by_date, by):
    with dask.config.set(scheduler="sync"):
        got = partitioned_coverage(by_date, by=by)
    assert_same(got, coverage(tiles, by=by))


@pytest.mark.parametrize(
    "aoi",
    [(170, -25, -170, 10), (-180, 60, 180, 90), (0, 40, 30, 60)],
    ids=["across-antimeridian", "arctic", "europe"],
)
def test_same_numbers_inside_an_aoi(tiles, by_date, aoi):
    with dask.config.set(scheduler="sync"):
        got = partitioned_coverage(by_date, aoi, by="sensing_time")
    want = coverage(tiles, aoi, by="sensing_time")
    assert (want["tiles"] > 0).all()
    assert_same(got, want)


def test_threads_and_other_shuffle_sizes_agree(tiles, by_date):
    with dask.config.set(scheduler="threads"):
        got = partitioned_coverage(by_date, shuffle_partitions=7, cell_size=400_000.0)
    assert_same(got, coverage(tiles))


def test_summing_time_partitions_would_be_wrong(tiles, by_date):
    """Why the shuffle by cell: dates overlap, so per-partition unions do not add up."""
    frame = read_partitions(by_date)
    with dask.config.set(scheduler="sync"):
        parts = [frame.get_partition(i).compute() for i in range(frame.npartitions)]
    naive = sum(coverage(p)["covered_km2"].iloc[0] for p in parts)
    assert naive > 3 * coverage(tiles)["covered_km2"].iloc[0]


def truth_km2(*boxes) -> float:
    """Geodesic area (GeographicLib) of lon/lat boxes, edges densified to 0.01 degree."""
    dense = [shapely.segmentize(shapely.box(*b), 0.01) for b in boxes]
    return float(byocframe.geodesic_area(dense).sum())


@pytest.mark.parametrize("cell_size", [1_000_000.0, 100_000.0, 10_000.0])
def test_footprints_cut_across_many_cells_against_geodesic_areas(cell_size):
    """Boxes spanning up to ~1,100 cells (at 10 km), two partitions, a third box on top."""
    a, b = (5.0, 40.0, 15.0, 48.0), (10.0, 40.0, 20.0, 48.0)
    frame = gpd.GeoDataFrame(
        {"sensing_time": pd.to_datetime(["2024-06-01T10:00Z"] * 3, utc=True)},
        geometry=[shapely.box(*a), shapely.box(*b), shapely.box(*a)],
        crs=4326,
    )
    pieces = pd.concat(
        [
            cell_pieces(frame.iloc[:2], cell_size=cell_size),
            cell_pieces(frame.iloc[2:], cell_size=cell_size),
        ],
        ignore_index=True,
    )
    assert pieces["piece"].notna().sum() > 3  # the boxes were cut
    row = combine_coverage(cell_depths(pieces)).iloc[0]
    assert row["tiles"] == 3
    # the equal-area plane's straight edges vs densified geodesic ones: 1e-4
    assert row["footprint_km2"] == pytest.approx(truth_km2(a, b, a), rel=1e-4)
    assert row["covered_km2"] == pytest.approx(truth_km2((5, 40, 20, 48)), rel=1e-4)
    assert row["overlap_km2"] == pytest.approx(truth_km2(a), rel=1e-4)


def test_a_group_without_footprints_is_listed(tiles, tmp_path):
    frame = tiles.iloc[:40].copy()
    frame["status"] = frame["status"].cat.add_categories(["EMPTY"])
    frame.loc[frame.index[:3], "status"] = "EMPTY"
    frame.loc[frame.index[:3], "geometry"] = None
    write_partitions(frame, tmp_path, partitions=3)
    with dask.config.set(scheduler="sync"):
        got = partitioned_coverage(tmp_path, by="status")
    assert got.loc["EMPTY", "tiles"] == 3
    assert got.loc["EMPTY", "covered_km2"] == 0
    assert_same(got, coverage(frame, by="status").loc[got.index])


def test_bad_input_says_what_to_do(tmp_path):
    with pytest.raises(byocframe.ValidationError, match=r"no \.parquet file"):
        partitioned_coverage(tmp_path)
    with pytest.raises(TypeError, match="got list"):
        partitioned_coverage([1, 2])
    frame = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(ValueError, match=r"cell_size must be at least MIN_CELL_SIZE \(1,000 m\)"):
        cell_pieces(frame, cell_size=0)
    with pytest.raises(ValueError, match=r"got 10\.0"):
        partitioned_coverage(tmp_path, cell_size=10.0)
