"""Benchmark: GeoParquet files of tile frames (issue 24): size, write and read times.

For N synthetic tiles (``--tiles``, ten dates: each footprint repeats), in one run:

* "before": the frame as ``GeoDataFrame.to_parquet`` writes it (what ``write_file`` did
  until now: four WKB geometry columns, snappy), read back with ``geopandas.read_parquet``;
* "now": ``byocframe.write_file`` (`byocframe.io.geoparquet`), read back with
  ``byocframe.read_file`` (exact frame), ``geopandas.read_parquet`` and DuckDB;
* the bytes each column takes in the new file (compressed, from the Parquet footer), and
  the file size at other zstd levels.

Run: ``PYTHONPATH=. python benchmarks/bench_geoparquet.py [--tiles 100000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict

import geopandas as gpd
import pyarrow.parquet as pq

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.io import geoparquet_write

DATES = tuple(f"2024-{m:02d}-10" for m in range(1, 11))


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def column_bytes(path: str) -> dict[str, int]:
    """Compressed bytes of each column, summed over the row groups."""
    meta = pq.ParquetFile(path).metadata
    out: dict[str, int] = defaultdict(int)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            out[column.path_in_schema.split(".")[0]] += column.total_compressed_size
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=100_000)
    parser.add_argument("--levels", type=int, nargs="*", default=[1, 3, 9, 15])
    args = parser.parse_args()
    gdf, build = timed(byocframe.tiles_from_records, synthetic_tiles(args.tiles, dates=DATES))
    n = len(gdf)
    print(f"{n} synthetic tiles ({len(DATES)} dates), frame built in {build:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        old, new = os.path.join(tmp, "old.parquet"), os.path.join(tmp, "new.parquet")
        _, write_old = timed(gdf.to_parquet, old)
        _, write_new = timed(byocframe.write_file, gdf, new)
        _, read_old = timed(gpd.read_parquet, old)
        back, read_new = timed(byocframe.read_file, new)
        assert byocframe.changes(back).empty
        _, read_gpd = timed(gpd.read_parquet, new)
        size_old, size_new = os.path.getsize(old), os.path.getsize(new)
        print(
            f"  before (to_parquet):  {size_old / 1e6:8.1f} MB ({size_old / n:6.0f} B a tile), "
            f"write {write_old:5.2f} s, read {read_old:5.2f} s "
            f"({read_old / n * 1e6:4.1f} us a tile)"
        )
        print(
            f"  now (write_file):     {size_new / 1e6:8.1f} MB ({size_new / n:6.0f} B a tile), "
            f"write {write_new:5.2f} s, read_file {read_new:5.2f} s "
            f"({read_new / n * 1e6:4.1f} us a tile)"
        )
        print(
            f"  ratio: {size_old / size_new:.1f}x smaller, read {read_old / read_new:.1f}x faster;"
            f" geopandas.read_parquet of the new file {read_gpd:5.2f} s"
        )
        try:
            import duckdb

            query = "SELECT count(*), count(DISTINCT path) FROM read_parquet(?)"
            rows, duck = timed(lambda: duckdb.connect().execute(query, [new]).fetchone())
            print(f"  DuckDB count(*) and distinct paths: {rows} in {duck:5.2f} s")
        except ImportError:
            print("  (DuckDB not installed)")
        print("  bytes a tile per column of the new file:")
        for name, size in sorted(column_bytes(new).items(), key=lambda kv: -kv[1]):
            print(f"    {name:<24} {size / n:7.1f}")
        for level in args.levels:
            geoparquet_write.COMPRESSION_LEVEL = level
            path = os.path.join(tmp, f"l{level}.parquet")
            _, took = timed(byocframe.write_file, gdf, path)
            size = os.path.getsize(path)
            print(f"  zstd level {level:>2}: {size / n:6.0f} B a tile, write {took:5.2f} s")


if __name__ == "__main__":
    main()
