"""Benchmark: coverage per sensing date of a 20,000-tile listing.

* naive way: per date, ``union_all`` of the footprints in EPSG:4326, then the area in a
  global projection (Web Mercator, EPSG:3857, as a map-minded user would; and the
  equal-area EPSG:6933 for comparison);
* ``gdf.byoc.coverage(by="sensing_time")``: equal-area on the ellipsoid, cell by cell.

Truth: geodesic area (GeographicLib) of each date's union, edges densified to 0.01 deg.

Run: ``python benchmarks/bench_coverage.py [--tiles 20000]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import geopandas as gpd
import pandas as pd
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles


def naive(gdf: gpd.GeoDataFrame, crs: str) -> pd.Series:
    dates = gdf["sensing_time"].dt.normalize()
    out = {}
    for date, group in gdf.groupby(dates):
        union = shapely.union_all(group.geometry.dropna().array)
        out[date] = gpd.GeoSeries([union], crs=4326).to_crs(crs).area.iloc[0] / 1e6
    return pd.Series(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs of byocframe's call")
    args = parser.parse_args()
    gdf = byocframe.tiles_from_records(synthetic_tiles(args.tiles, polar=False))
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = gdf.byoc.coverage(by="sensing_time")["covered_km2"]
        times.append(time.perf_counter() - start)
    ours_time = statistics.median(times)
    start = time.perf_counter()
    gdf.byoc.coverage()
    all_dates_time = time.perf_counter() - start
    start = time.perf_counter()
    mercator = naive(gdf, "EPSG:3857")
    naive_time = time.perf_counter() - start
    equal_area = naive(gdf, "EPSG:6933")
    dates = gdf["sensing_time"].dt.normalize()
    truth = {}
    for date, group in gdf.groupby(dates):
        union = shapely.union_all(group.geometry.dropna().array)
        truth[date] = byocframe.geodesic_area([shapely.segmentize(union, 0.01)]).iloc[0]
    truth = pd.Series(truth)
    ours.index = truth.index

    def error(values: pd.Series) -> float:
        return float(((values - truth) / truth).abs().max() * 100)

    print(f"{len(gdf)} tiles, {len(truth)} dates")
    print(
        f"naive (union in EPSG:4326, area in EPSG:3857): {naive_time:6.2f} s, "
        f"max area error {error(mercator):8.2f} %"
    )
    print(
        f"  same union, area in EPSG:6933 (equal-area):           "
        f"max area error {error(equal_area):8.1e} %"
    )
    print(
        f"gdf.byoc.coverage(by='sensing_time'):          {ours_time:6.2f} s, "
        f"max area error {error(ours):8.1e} %  (also gives overlap_km2)"
    )
    print(
        f"  median of {len(times)} runs; fastest {min(times):.2f} s, slowest {max(times):.2f} s; "
        f"ratio naive / ours {naive_time / ours_time:.1f}x"
    )
    print(f"gdf.byoc.coverage() (all dates as one group):  {all_dates_time:6.2f} s")


if __name__ == "__main__":
    main()
