"""Benchmark: coverage and changes over a 4-partition GeoParquet dataset (dask) vs in memory.

``--tiles`` synthetic tiles on ``--dates`` dates (spread over a year) are written as one
GeoParquet file per quarter: 4 time partitions, which overlap in space. Each measurement
runs in its own process, so its peak RSS is its own:

* ``memory``: the whole frame read back from the files, then ``coverage()`` (one group) and
  ``coverage(by="sensing_time")``, then ``changes(deleted=True)`` after 1 % of edits;
* ``dask-threads`` / ``dask-sync``: `partitioned_coverage` (same two calls) with dask's
  threaded scheduler (2 workers) and its synchronous one, and `partitioned_changes` of
  the same edits written as 4 id-hash partitions;
* ``stages``: the per-task costs a cluster would pay, in one process per task: reading
  one partition and cutting it into cell pieces, reading one shuffled partition (written
  to a file first) and counting its depth, reading one id-hash partition and planning
  its changes; and the shuffle volume (bytes of pieces). docs/design/scale.md
  extrapolates from these.

It prints wall and CPU seconds, peak RSS, and the ratio of each dask run to the in-memory
one (same run, same machine). Run: ``python benchmarks/bench_partitioned.py --tiles 100000``
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mb() -> float:
    """Resident MB now; also restarts the peak (Linux: VmHWM) from here."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """Peak resident MB since `current_mb` (VmHWM)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def timed(call: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def edit(gdf: Any) -> Any:
    """1 % of the tiles retimed, 0.1 % dropped."""
    frame = gdf.copy()
    frame.attrs = gdf.attrs
    rng = np.random.default_rng(1)
    moved = rng.choice(len(frame), len(frame) // 100, replace=False)
    frame.loc[frame.index[moved], "sensing_time"] += pd.Timedelta(hours=1)
    return frame.drop(index=frame.index[rng.choice(len(frame), len(frame) // 1000, replace=False)])


def prepare(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import byocframe
    from byocframe.frame.synthetic import synthetic_tiles
    from byocframe.scale.partitioned import write_partitions

    # dates spread over a year, one partition per quarter: 4 partitions (from 4 dates up;
    # one date holds at most ~21,000 synthetic land tiles)
    spread = pd.date_range("2024-01-01", "2024-12-01", periods=args.dates).normalize()
    dates = tuple(str(d.date()) for d in spread)
    gdf = byocframe.tiles_from_records(synthetic_tiles(args.tiles, dates=dates, seed=2))
    (folder / "dates").mkdir()
    (folder / "edited").mkdir()
    wall, _, _ = timed(lambda: write_partitions(gdf, folder / "dates", by="quarter"))
    byocframe.write_file(gdf.iloc[:2], folder / "tiny.parquet")
    edited = edit(gdf)
    write_partitions(edited, folder / "edited", partitions=4)
    pd.Series(gdf.index.to_numpy(dtype=object)).to_frame("id").to_parquet(folder / "ids.parquet")
    files = sum(p.stat().st_size for p in (folder / "dates").glob("*.parquet"))
    return {"write_s": wall, "files_mb": files / 2**20, "tiles": len(gdf)}


def run_memory(folder: Path) -> dict[str, Any]:
    import byocframe
    from byocframe.tools import coverage

    paths = sorted((folder / "dates").glob("*.parquet"))
    wall, cpu, whole = timed(lambda: pd.concat([byocframe.read_file(p) for p in paths]))
    out: dict[str, Any] = {"read": (wall, cpu)}
    out["all"] = timed(functools.partial(coverage, whole))[:2]
    out["date"] = timed(functools.partial(coverage, whole, by="sensing_time"))[:2]
    del whole
    paths = sorted((folder / "edited").glob("*.parquet"))
    edited = pd.concat([byocframe.read_file(p) for p in paths])
    ids = pd.read_parquet(folder / "ids.parquet")["id"].tolist()
    # deletions: the loaded ids no row holds (the concatenated frame has no attrs to seal)
    out["changes"] = timed(
        lambda: len(byocframe.changes(edited)) + len(set(ids) - set(edited.index))
    )[:2]
    out["rss_mb"] = rss_mb()
    return out


def run_dask(folder: Path, scheduler: str) -> dict[str, Any]:
    import dask

    from byocframe.scale.partitioned import partitioned_changes, partitioned_coverage

    ids = pd.read_parquet(folder / "ids.parquet")["id"]
    extra = {"num_workers": 2} if scheduler == "threads" else {}
    out: dict[str, Any] = {}
    with dask.config.set(scheduler=scheduler, **extra):
        out["all"] = timed(lambda: partitioned_coverage(folder / "dates"))[:2]
        out["date"] = timed(lambda: partitioned_coverage(folder / "dates", by="sensing_time"))[:2]
        out["changes"] = timed(
            lambda: len(partitioned_changes(folder / "edited", deleted=True, loaded_ids=ids))
        )[:2]
    out["rss_mb"] = rss_mb()
    return out


def run_stage(folder: Path, stage: str, number: int) -> dict[str, Any]:
    """One task in a fresh process: its CPU time and the memory it adds."""
    import byocframe
    from byocframe.edits.diff import plan
    from byocframe.scale.cells import cell_depths, cell_pieces

    if stage == "shuffle":  # the 4 shuffled partitions, to files (hash of the cell, mod 4)
        paths = sorted((folder / "dates").glob("*.parquet"))
        pieces = pd.concat([cell_pieces(byocframe.read_file(p)) for p in paths])
        target = pd.util.hash_pandas_object(pieces["cell"], index=False).to_numpy() % 4
        (folder / "shuffled").mkdir()
        for i in range(4):
            mine = pieces[target == i].reset_index(drop=True)
            mine.assign(group=mine["group"].astype(str)).to_parquet(folder / f"shuffled/{i}.pq")
        return {}
    # the libraries a read loads are loaded once per worker, not per task: load them first
    byocframe.read_file(folder / "tiny.parquet")
    pd.read_parquet(folder / "tiny.parquet")
    base = current_mb()
    if stage == "depths":
        wall, cpu, mine = timed(lambda: pd.read_parquet(folder / f"shuffled/{number}.pq"))
        read = {"read_cpu": cpu, "read_mb": peak_mb() - base}
        base = current_mb()
        wall, cpu, depths = timed(lambda: cell_depths(mine))
        return {
            **read,
            "pieces": int(mine["piece"].notna().sum()),
            "bytes": int(mine.memory_usage(deep=True).sum()),
            "cells": len(depths),
            "cpu": cpu,
            "wall": wall,
            "added_mb": peak_mb() - base,
        }
    source = "dates" if stage == "pieces" else "edited"
    path = sorted((folder / source).glob("*.parquet"))[number]
    wall, cpu, part = timed(lambda: byocframe.read_file(path))
    read = {"read_cpu": cpu, "read_mb": peak_mb() - base, "tiles": len(part)}
    base = current_mb()
    if stage == "plan":
        wall, cpu, _ = timed(lambda: plan(part))
        return {**read, "cpu": cpu, "wall": wall, "added_mb": peak_mb() - base}
    wall, cpu, pieces = timed(lambda: cell_pieces(part))
    return {
        **read,
        "pieces": int(pieces["piece"].notna().sum()),
        "bytes": int(pieces.memory_usage(deep=True).sum()),
        "wkb_bytes": int(pieces["piece"].dropna().map(len).sum()),
        "cpu": cpu,
        "wall": wall,
        "added_mb": peak_mb() - base,
    }


def child(*argv: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=100_000)
    parser.add_argument("--dates", type=int, default=4)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--number", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        folder = Path(args.folder)
        if args.run == "memory":
            result = run_memory(folder)
        elif args.run.startswith("dask-"):
            result = run_dask(folder, args.run.removeprefix("dask-"))
        else:
            result = run_stage(folder, args.run, args.number)
        print(json.dumps(result))
        return
    import byocframe

    print(f"byocframe from {byocframe.__file__}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        made = prepare(args, folder)
        print(
            f"{made['tiles']:,d} tiles on {args.dates} dates: 4 GeoParquet files (quarters), "
            f"{made['files_mb']:.0f} MB, written in {made['write_s']:.1f} s"
        )
        runs = {
            name: child("--run", name, "--folder", tmp)
            for name in ("memory", "dask-threads", "dask-sync")
        }
        memory = runs["memory"]
        print(
            f"  memory: read the 4 files: wall {memory['read'][0]:.1f} s, cpu "
            f"{memory['read'][1]:.1f} s (not in the in-memory figures below; in the dask ones)"
        )
        for what, label in (
            ("all", "coverage()"),
            ("date", "coverage(by=date)"),
            ("changes", "changes"),
        ):
            wall0, cpu0 = memory[what]
            print(f"  {label:18s} in memory     wall {wall0:6.1f} s  cpu {cpu0:6.1f} s")
            for name in ("dask-threads", "dask-sync"):
                wall, cpu = runs[name][what]
                print(
                    f"  {label:18s} {name:12s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  "
                    f"x{wall / wall0:.2f} wall, x{cpu / cpu0:.2f} cpu of in memory"
                )
        for name, run in runs.items():
            print(f"  peak RSS {name:12s} {run['rss_mb']:,.0f} MB")
        child("--run", "shuffle", "--folder", tmp)
        for stage in ("pieces", "depths", "plan"):
            for number in range(4):
                s = child("--run", stage, "--folder", tmp, "--number", str(number))
                if stage == "pieces":
                    what = (
                        f"{s['tiles']:,d} tiles -> {s['pieces']:,d} pieces, "
                        f"{s['bytes'] / 2**20:.1f} MB ({s['wkb_bytes'] / 2**20:.1f} MB WKB)"
                    )
                elif stage == "depths":
                    what = (
                        f"{s['pieces']:,d} pieces ({s['bytes'] / 2**20:.1f} MB) "
                        f"in {s['cells']} group-cells"
                    )
                else:
                    what = f"{s['tiles']:,d} tiles"
                print(
                    f"  task {stage} #{number}: {what}; read: cpu {s['read_cpu']:.2f} s, "
                    f"{s['read_mb']:,.0f} MB; task: cpu {s['cpu']:.2f} s, "
                    f"adds {s['added_mb']:,.0f} MB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
