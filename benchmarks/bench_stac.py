"""Benchmark: STAC export of a tile frame to stac-geoparquet, per item vs columnar.

Two ways to the same file (tests/stac/test_stac_parquet.py checks they hold the same items):

* ``per-item``: ``to_stac(frame, record, geoparquet=path)``: a pystac Item with five
  assets per tile, then the reference writer (``stac_geoparquet.arrow``);
* ``columnar``: ``write_stac_geoparquet(frame, path, record)``: Arrow columns a chunk of
  rows at a time, one ParquetWriter.

Each run is its own process that loads the frame (built once per size in another process
from ``synthetic_tiles`` and pickled), so its figures are its own: wall and CPU seconds of
the export, RSS before it (the frame loaded), the peak RSS while it runs (sampled from
/proc every 20 ms by a thread) and the growth, the file size, and the seconds to read the
file back with pyarrow. The machine may be shared: CPU time is the steadier figure.

Run: ``python benchmarks/bench_stac.py [--sizes 20000 100000] [--per-item 20000]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from byocframe.frame.synthetic import SYNTHETIC_BANDS

RECORD = {
    "id": "c1",
    "s3Bucket": "bucket",
    "noData": 0,
    "additionalData": {"bands": SYNTHETIC_BANDS},
}
# records built at a time (the builder never holds a million dicts); 4 dates of 12,500
# tiles each fit the synthetic grid's ~21,000 land cells, so every page is full
PAGE = 50_000


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss(threading.Thread):
    """Samples this process's RSS until stopped; ``peak`` is the largest seen (MB)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = rss_mb()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, rss_mb())


def build(n: int, out: str) -> None:
    """A frame of n synthetic tiles, made ``PAGE`` records at a time, pickled to ``out``."""
    import pandas as pd

    import byocframe
    from byocframe.frame.synthetic import synthetic_tiles

    parts = []
    for k, start in enumerate(range(0, n, PAGE)):
        size = min(PAGE, n - start)
        # another seed and other dates per page: new ids, as a longer collection would have
        dates = tuple(f"{2020 + k // 3}-{(k % 3) * 4 + m + 1:02d}-01" for m in range(4))
        parts.append(byocframe.tiles_from_records(synthetic_tiles(size, seed=k, dates=dates)))
    frame = pd.concat(parts) if len(parts) > 1 else parts[0]
    del parts  # the builder holds one copy while pickling
    with open(out, "wb") as f:
        pickle.dump(frame, f, protocol=pickle.HIGHEST_PROTOCOL)


def measure(method: str, frame_path: str, out: str) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from byocframe.stac import to_stac, write_stac_geoparquet

    with open(frame_path, "rb") as f:
        frame = pickle.load(f)
    gc.collect()
    before = rss_mb()
    sampler = PeakRss()
    sampler.start()
    wall, cpu = time.perf_counter(), time.process_time()
    if method == "per-item":
        to_stac(frame, RECORD, geoparquet=out)
    else:
        write_stac_geoparquet(frame, out, RECORD)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = sampler.stop()
    read = time.perf_counter()
    rows = pq.read_table(out).num_rows
    read = time.perf_counter() - read
    return {
        "method": method,
        "tiles": len(frame),
        "rows": rows,
        "wall": wall,
        "cpu": cpu,
        "before": before,
        "peak": peak,
        "file": Path(out).stat().st_size / 2**20,
        "read": read,
    }


def child(*args: str) -> str:
    command = [sys.executable, __file__, *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--per-item", type=int, nargs="*", default=[20_000])
    parser.add_argument("--build", nargs=2, metavar=("N", "PICKLE"), help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=3, metavar=("METHOD", "PICKLE", "OUT"))
    args = parser.parse_args()
    if args.build:
        build(int(args.build[0]), args.build[1])
        return
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    import byocframe

    print(f"byocframe from {byocframe.__file__}")
    print(
        f"{'method':9s} {'tiles':>9s} {'wall s':>8s} {'cpu s':>8s} {'us/tile':>8s} "
        f"{'RSS before':>11s} {'peak':>8s} {'growth':>8s} {'file MB':>8s} {'read s':>7s}"
    )
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for n in sorted(set(args.sizes) | set(args.per_item)):
        with tempfile.TemporaryDirectory() as tmp:
            frame_path = os.path.join(tmp, "frame.pkl")
            child("--build", str(n), frame_path)
            methods = ["columnar"] if n in args.sizes else []
            methods += ["per-item"] if n in args.per_item else []
            for method in methods:
                out = os.path.join(tmp, f"{method}.parquet")
                got = json.loads(child("--measure", method, frame_path, out))
                seen[method, n] = got
                print(
                    f"{method:9s} {got['tiles']:9,d} {got['wall']:8.2f} {got['cpu']:8.2f} "
                    f"{got['cpu'] / got['tiles'] * 1e6:8.1f} {got['before']:8,.0f} MB "
                    f"{got['peak']:5,.0f} MB {got['peak'] - got['before']:5,.0f} MB "
                    f"{got['file']:8.1f} {got['read']:7.2f}",
                    flush=True,
                )
    for n in args.per_item:
        if ("columnar", n) in seen and ("per-item", n) in seen:
            a, b = seen["per-item", n], seen["columnar", n]
            print(
                f"same run, {n:,d} tiles: columnar is x{a['cpu'] / b['cpu']:.1f} less CPU "
                f"(x{a['wall'] / b['wall']:.1f} wall), grows RSS "
                f"x{(a['peak'] - a['before']) / max(b['peak'] - b['before'], 1):.1f} less"
            )


if __name__ == "__main__":
    main()
