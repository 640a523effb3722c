"""Benchmark: building the tile frame at scale, its resident size, against a plain build.

Each measurement runs in a fresh subprocess on the same synthetic listing (``--tiles``
tiles over ``--dates`` monthly dates, more where a date cannot hold its share: the grid
has ~21,000 cells; a mosaic's grid cells repeat every month, each month's covers carry
their own noise). It prints, per size:

* ``tiles_from_records``: wall and CPU seconds, the peak RSS of the process (records
  included) and the frame's resident size (RSS after the build, the allocator trimmed,
  minus RSS just before it, after a warm-up call; the records live through both);
* a plain per-CRS pyproj build: ``shapely.geometry.shape`` per record, one pyproj
  transform per CRS (no densifying, no antimeridian or pole repair, no checks), the
  cover only, into a GeoDataFrame with id, path, status and sensing time;
* the ratio plain / ours (above 1: ours is faster) and the exponent between sizes;
* the frame written with ``write_file`` (size) and read back with ``read_file`` in a
  fresh process: wall and CPU seconds, resident size of the frame read, peak RSS.

Run: ``python benchmarks/bench_frame_scale.py [--tiles 20000 100000] [--dates 12]``

``--read FILE`` measures only ``read_file`` of an existing file (e.g. a million tiles
written earlier), each time in a fresh process: the file as it is, then the same frame
written again by this checkout's ``write_file`` (its format) and read back.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

_RSS = r"""
import ctypes, gc

def rss():
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
"""

_CHILD = (
    _RSS
    + r"""
import json, resource, sys, time
import numpy as np


which, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import geopandas as gpd, pandas as pd, shapely
from pyproj import Transformer
from shapely.geometry import shape
import byocframe
from byocframe.frame.synthetic import synthetic_tiles

# the synthetic grid has ~21,000 cells: more dates when one date cannot hold n / k tiles
k = max(k, -(-n // 20_000))
dates = tuple(f"{2000 + m // 12}-{m % 12 + 1:02d}-01" for m in range(k))
records = synthetic_tiles(n, dates=dates, polar=True)
assert len(records) == n, (len(records), n)

def plain(recs):
    groups = {}
    for i, r in enumerate(recs):
        g = r.get("coverGeometry") or r.get("tileGeometry")
        groups.setdefault(g["crs"]["properties"]["name"], []).append(i)
    geoms = np.empty(len(recs), dtype=object)
    for urn, rows in groups.items():
        to84 = Transformer.from_crs("EPSG:" + urn.rsplit(":", 1)[-1], "EPSG:4326", always_xy=True)
        src = np.array(
            [shape(recs[i].get("coverGeometry") or recs[i]["tileGeometry"]) for i in rows],
            dtype=object,
        )
        geoms[rows] = shapely.transform(
            src, lambda xy: np.column_stack(to84.transform(xy[:, 0], xy[:, 1]))
        )
    frame = pd.DataFrame(
        {
            "path": [r["path"] for r in recs],
            "status": [r["status"] for r in recs],
            "sensing_time": pd.to_datetime(
                [r.get("sensingTime") for r in recs], utc=True, format="ISO8601"
            ),
        },
        index=pd.Index([r["id"] for r in recs], name="id"),
    )
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:4326")

build = byocframe.tiles_from_records if which == "ours" else plain
build(synthetic_tiles(200, dates=dates, polar=True, seed=1))  # load what a first call loads
before = rss()
wall, cpu = time.perf_counter(), time.process_time()
frame = build(records)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
resident = rss() - before
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = {"wall": wall, "cpu": cpu, "resident": resident, "peak": peak,
       "columns": len(frame.columns), "dates": k}
if which == "ours" and len(sys.argv) > 4:  # and its GeoParquet file, for the reading child
    del records
    start = time.perf_counter()
    byocframe.write_file(frame, sys.argv[4])
    out["write"] = time.perf_counter() - start
print(json.dumps(out))
"""
)

_READ = (
    _RSS
    + r"""
import json, os, resource, sys, time


import byocframe
path = sys.argv[1]
before = rss()
usage = resource.getrusage(resource.RUSAGE_SELF)
wall, cpu = time.perf_counter(), time.process_time()
frame = byocframe.read_file(path)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
after = resource.getrusage(resource.RUSAGE_SELF)
# system time here is mostly the kernel giving the process fresh memory (page faults)
out = {"wall": wall, "cpu": cpu, "resident": rss() - before, "rows": len(frame),
       "user": after.ru_utime - usage.ru_utime, "system": after.ru_stime - usage.ru_stime,
       "peak": after.ru_maxrss * 1024, "size": os.path.getsize(path)}
if len(sys.argv) > 2:  # write the frame again, in this checkout's format
    start = time.perf_counter()
    byocframe.write_file(frame, sys.argv[2])
    out["write"] = time.perf_counter() - start
print(json.dumps(out))
"""
)


def run(which: str, n: int, dates: int, *extra: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, which, str(n), str(dates), *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def read(path: str, *again: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _READ, path, *again], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _read_line(what: str, back: dict[str, float]) -> str:
    return (
        f"{what}: {back['rows']:,} tiles, file {back['size'] / 1e9:.3f} GB; read_file "
        f"{back['wall']:6.2f} s wall {back['cpu']:6.2f} s CPU ({back['user']:.2f} user, "
        f"{back['system']:.2f} system), frame read back "
        f"{back['resident'] / 1e9:.2f} GB, peak {back['peak'] / 1e9:.2f} GB"
    )


def read_only(path: str) -> None:
    """``--read``: the file as it is, then written again by this checkout and read back."""
    with tempfile.TemporaryDirectory() as folder:
        again = os.path.join(folder, "again.parquet")
        print(_read_line("as given", read(path, again)))
        print(_read_line("written again by this checkout", read(again)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--read", metavar="FILE", help="only read_file of this file (see above)")
    args = parser.parse_args()
    if args.read:
        read_only(args.read)
        return
    previous: tuple[int, float] | None = None
    for n in args.tiles:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "tiles.parquet")
            ours = run("ours", n, args.dates, path)
            back = read(path)
        plain = run("plain", n, args.dates)
        print(
            f"{n:>9,} tiles  tiles_from_records {ours['wall']:7.2f} s wall "
            f"{ours['cpu']:7.2f} s CPU, frame {ours['resident'] / n:6.0f} B/tile "
            f"({ours['resident'] / 1e9:.2f} GB), peak {ours['peak'] / 1e9:.2f} GB, "
            f"{ours['columns']} columns, {ours['dates']} dates"
        )
        print(
            f"{'':>15} plain per-CRS pyproj {plain['wall']:7.2f} s wall "
            f"{plain['cpu']:7.2f} s CPU, frame {plain['resident'] / n:6.0f} B/tile; "
            f"plain / ours: {plain['wall'] / ours['wall']:.2f}x wall, "
            f"{plain['cpu'] / ours['cpu']:.2f}x CPU"
        )
        print(
            f"{'':>15} write_file {ours['write']:6.2f} s wall; file {back['size'] / 1e9:.3f} GB "
            f"({back['size'] / n:.0f} B/tile); read_file {back['wall']:6.2f} s wall "
            f"{back['cpu']:6.2f} s CPU, frame read back {back['resident'] / 1e9:.2f} GB, "
            f"peak {back['peak'] / 1e9:.2f} GB"
        )
        if previous is not None:
            exponent = math.log(ours["cpu"] / previous[1]) / math.log(n / previous[0])
            print(f"{'':>15} exponent of our CPU time since {previous[0]:,}: {exponent:.2f}")
        previous = (n, ours["cpu"])


if __name__ == "__main__":
    main()
