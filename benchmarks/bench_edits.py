"""Benchmark: the cost of keeping what was loaded, on a 20,000-tile frame.

* ordinary pandas operations (a column, a boolean filter, a copy, a sort) on a frame
  reloaded from GeoParquet, against the same frame with no byocframe attrs at all;
* ``byocframe.changes`` with 0, 100 and 20,000 edited sensing times, and 100 edited
  geometries.

Each figure is the median of ``--repeat`` runs. Run: ``python benchmarks/bench_edits.py``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import byocframe
from byocframe.frame.snapshot import stamp
from byocframe.frame.synthetic import synthetic_tiles


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    gdf = byocframe.tiles_from_records(synthetic_tiles(args.tiles, seed=1))
    stamp(gdf, collection="c", service="http://127.0.0.1:1")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiles.parquet"
        byocframe.write_file(gdf, path)
        reloaded = byocframe.read_file(path)
    plain = reloaded.copy()
    plain.attrs = {}
    operations: dict[str, Callable[[pd.DataFrame], object]] = {
        'g["path"]': lambda g: g["path"],
        "g[mask]": lambda g: g[g["status"] == "INGESTED"],
        "g.copy()": lambda g: g.copy(),
        'g.sort_values("sensing_time")': lambda g: g.sort_values("sensing_time"),
    }
    print(f"{len(gdf):,} tiles; median of {args.repeat} runs")
    print(f"{'operation':32s} {'reloaded':>10s} {'no attrs':>10s} {'ratio':>6s}")
    for label, op in operations.items():
        a = median_ms(lambda op=op: op(reloaded), args.repeat)
        b = median_ms(lambda op=op: op(plain), args.repeat)
        print(f"{label:32s} {a:8.2f}ms {b:8.2f}ms {a / b:6.2f}")
    cases = {"0 edits": reloaded.copy()}
    some = reloaded.copy()
    some.loc[some.index[:100], "sensing_time"] += pd.Timedelta(hours=1)
    cases["100 edited sensing times"] = some
    every = reloaded.copy()
    every["sensing_time"] += pd.Timedelta(hours=1)
    cases[f"{len(gdf):,} edited sensing times"] = every
    moved = reloaded.copy()
    moved.loc[moved.index[:100], "geometry"] = moved.geometry.iloc[:100].translate(0.01).values
    cases["100 edited geometries"] = moved
    for label, frame in cases.items():
        found = byocframe.changes(frame)
        ms = median_ms(lambda frame=frame: byocframe.changes(frame), args.repeat)
        print(f"changes(), {label:30s} {ms:8.1f} ms ({len(found):,} rows)")


if __name__ == "__main__":
    main()
