"""Benchmark: what `byocframe.read_file`'s geopandas reading options cost (branch `conventions`).

For N synthetic tiles (``--tiles``, a date per 20,000) written once with ``byocframe.write_file``
as GeoParquet and as GeoPackage, each read runs in a fresh process (so its peak memory,
``VmHWM``, is its own) and prints its wall time, CPU time, peak memory and rows:

* the whole file, as before the options;
* ``rows=100`` (the first rows: a peek), ``rows=slice(mid, mid + 100)``;
* ``bbox=`` of about 1 % of the world, ``filters=[("status", "==", "FAILED")]``,
  ``columns=["status", "sensing_time"]``.

GeoPackage reads are whole-file then subset (no row groups); GeoParquet ``rows`` read only
the row groups that hold the rows (`byocframe.io.subsets.row_groups_of`). Each read runs
``--runs`` times after one warm-up read; the run with the least CPU is printed.

Run: ``PYTHONPATH=. python benchmarks/bench_read_options.py [--tiles 200000]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import byocframe
from byocframe.frame.synthetic import synthetic_tiles

CASES = {
    "whole file": "{}",
    "rows=100": "{'rows': 100}",
    "rows=slice(mid, mid+100)": "{'rows': slice(MID, MID + 100)}",
    "bbox (1 % of the world)": "{'bbox': (0.0, 0.0, 36.0, 18.0)}",
    "filters status == FAILED": "{'filters': [('status', '==', 'FAILED')]}",
    "columns=[status, sensing_time]": "{'columns': ['status', 'sensing_time']}",
}

CHILD = """
import json, sys, time
import byocframe
path, options, mid = sys.argv[1], sys.argv[2], int(sys.argv[3])
kwargs = eval(options.replace("MID", str(mid)))
start, cpu = time.perf_counter(), time.process_time()
frame = byocframe.read_file(path, **kwargs)
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
# VmHWM, not ru_maxrss: Linux keeps the parent's ru_maxrss across exec
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) / 1024
print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak, "rows": len(frame)}))
"""


def run(path: str, options: str, mid: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, path, options, str(mid)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=200_000)
    parser.add_argument("--formats", nargs="*", default=["parquet", "gpkg"])
    parser.add_argument("--runs", type=int, default=2, help="runs of each read (best kept)")
    parser.add_argument("--file", help="read this GeoParquet file instead of making one")
    args = parser.parse_args()
    if args.file:
        import pyarrow.parquet as pq

        rows = pq.read_metadata(args.file).num_rows
        print(f"{args.file}: {rows:,} rows, {os.path.getsize(args.file) / 1e6:.0f} MB")
        table(args.file, "parquet", rows // 2, args.runs)
        return
    start = time.perf_counter()
    # synthetic_tiles gives at most ~21,000 tiles a date: enough dates for --tiles
    dates = tuple(
        f"2024-{1 + d // 28:02d}-{1 + d % 28:02d}" for d in range(args.tiles // 20_000 + 1)
    )
    gdf = byocframe.tiles_from_records(synthetic_tiles(args.tiles, dates=dates))
    print(f"{len(gdf):,} synthetic tiles, built in {time.perf_counter() - start:.1f} s")
    mid = len(gdf) // 2
    with tempfile.TemporaryDirectory() as tmp:
        for ext in args.formats:
            path = os.path.join(tmp, f"tiles.{ext}")
            byocframe.write_file(gdf, path)
            size = os.path.getsize(path) / 1e6
            print(f"\n{ext} ({size:.0f} MB)")
            table(path, ext, mid, args.runs)


def table(path: str, ext: str, mid: int, runs: int) -> None:
    """One Markdown row per read of ``path``: the best of ``runs`` fresh processes."""
    run(path, "{'rows': 1}", mid)  # warm-up: the file and the libraries cached
    print("| read | wall s | CPU s | peak MB | rows |\n|---|---|---|---|---|")
    for name, options in CASES.items():
        if "filters" in options and ext != "parquet":
            continue
        r = min((run(path, options, mid) for _ in range(runs)), key=lambda x: x["cpu"])
        print(f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['peak_mb']:.0f} | {r['rows']:,} |")


if __name__ == "__main__":
    main()
