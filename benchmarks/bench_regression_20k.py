"""Benchmark: does the mission get slower at 20k tiles? This checkout against another.

Issue 24 asks that nothing else in the mission gets slower at 20,000 tiles. Each run
times, in a fresh process per checkout and alternating between them, the operations a
user of 20,000 tiles meets (best of three calls each, CPU seconds): building the frame,
``changes()`` unedited and with 200 edited paths, ``coverage()`` as one group and by
date, ``write_file`` / ``read_file`` of GeoParquet, ``to_records``.

Run: ``python benchmarks/bench_regression_20k.py /path/to/other/checkout [more checkouts]
[--runs 2] [--coverage-only]`` (each other checkout's ``byocframe`` is put first on
``PYTHONPATH``; ``--coverage-only`` times the two ``coverage()`` calls alone).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys

_CHILD = r"""
import json, os, sys, tempfile, time, warnings
warnings.simplefilter("ignore")
import byocframe
try:
    from byocframe.synthetic import synthetic_tiles  # before the frame subpackage
except ImportError:
    from byocframe.frame.synthetic import synthetic_tiles
records = synthetic_tiles(20000)

def cpu(fn):
    best = None
    for _ in range(3):
        start = time.process_time()
        out = fn()
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    return best, out

out = {}
out["tiles_from_records"], gdf = cpu(lambda: byocframe.tiles_from_records(records))
if COVERAGE_ONLY:
    out = {}
    out["coverage()"], _ = cpu(lambda: gdf.byoc.coverage())
    out["coverage(by=date)"], _ = cpu(lambda: gdf.byoc.coverage(by="sensing_time"))
    print(json.dumps(out))
    raise SystemExit
out["changes() unedited"], _ = cpu(lambda: gdf.byoc.changes())
edited = gdf.copy()
column = edited.columns.get_loc("path")
edited.iloc[:200, column] = [p + "x" for p in edited["path"].iloc[:200]]
out["changes() 200 paths"], _ = cpu(lambda: edited.byoc.changes())
out["coverage()"], _ = cpu(lambda: gdf.byoc.coverage())
out["coverage(by=date)"], _ = cpu(lambda: gdf.byoc.coverage(by="sensing_time"))
folder = tempfile.mkdtemp()
path = os.path.join(folder, "t.parquet")
out["write_file"], _ = cpu(lambda: byocframe.write_file(gdf, path))
out["read_file"], _ = cpu(lambda: byocframe.read_file(path))
out["to_records"], _ = cpu(lambda: byocframe.to_records(gdf))
print(json.dumps(out))
"""


def run(checkout: str, coverage_only: bool = False) -> dict[str, float]:
    """The child's CPU seconds per operation, in a fresh process on ``checkout``."""
    env = {**os.environ, "PYTHONPATH": checkout}
    child = f"COVERAGE_ONLY = {coverage_only}\n{_CHILD}"
    done = subprocess.run(
        [sys.executable, "-c", child], cwd=checkout, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{checkout}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "other", nargs="+", help="the checkouts to compare with (e.g. git worktrees)"
    )
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--coverage-only", action="store_true", help="time coverage() alone")
    args = parser.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs: dict[str, list[dict[str, float]]] = collections.defaultdict(list)
    for _ in range(args.runs):
        for checkout in [*args.other, here]:
            runs[checkout].append(run(checkout, args.coverage_only))
    others = " | ".join(f"{o} | this / {o}" for o in args.other)
    print(f"| operation, 20,000 tiles | this checkout | {others} |")
    print("|---|---|" + "---|---|" * len(args.other))
    for key in runs[here][0]:
        now = min(r[key] for r in runs[here])
        cells = [f"{now:.3f} s"]
        for other in args.other:
            before = min(r[key] for r in runs[other])
            cells += [f"{before:.3f} s", f"{now / before:.2f}"]
        print(f"| {key} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
