"""Benchmark: coverage of stacked monthly mosaics, and how it grows with the tiles.

A monthly mosaic is ``--per-month`` synthetic tiles (the same grid cells every month, each
month's footprints with their own float noise, as re-ingested covers have); ``--months``
of them are stacked. For each stack this times, on the current checkout:

* ``coverage()``: all months as one group (every footprint lies on ``months - 1`` others);
* ``coverage(by="sensing_time")``: one group per month;
* ``coverage(aoi=...)``: a 2 x 2 degree AOI that few of the tiles touch.

It prints wall and CPU seconds (the machine may be shared: CPU time is the steadier
figure), the ratio to the first stack, and the exponent ``log(t2 / t1) / log(n2 / n1)``
between successive stacks (1 means linear in the tiles), and the peak RSS of the
process. Run it on two checkouts (``PYTHONPATH=/path/to/checkout``) to compare them,
or pass ``--before /path/to/checkout``: each call then runs with that checkout's
``byocframe/tools/depth.py`` and with the current one, alternately in one process, on
the same frame (what differs is the counting; projecting and cutting are the current
checkout's in both).

Run: ``python benchmarks/bench_coverage_scale.py [--per-month 20000] [--months 1 5 15]
[--before /work/main] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import byocframe
import byocframe.tools.stats
from byocframe.frame.synthetic import synthetic_tiles


def timed(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU (all threads) seconds of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def counting_from(checkout: str) -> Callable[..., Any]:
    """``depth_areas`` of another checkout (it imports nothing from byocframe)."""
    path = Path(checkout) / "byocframe" / "tools" / "depth.py"
    spec = importlib.util.spec_from_file_location("depth_before", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no byocframe/tools/depth.py under {checkout}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = module.depth_areas

    def call(geoms: Any, deepest: int | None = None) -> Any:
        try:
            return before(geoms, deepest=deepest)
        except TypeError:  # a checkout without ``deepest``: every level
            return before(geoms)

    return call


def compare(args: argparse.Namespace, calls: dict[str, Callable[[Any], Any]]) -> None:
    """Before and after, alternately on the same frames: CPU seconds, the least of runs."""
    months = tuple(f"{2020 + m // 12}-{m % 12 + 1:02d}-01" for m in range(max(args.months)))
    versions = {"before": counting_from(args.before), "after": byocframe.tools.stats.depth_areas}
    for k in args.months:
        records = synthetic_tiles(args.per_month * k, dates=months[:k], polar=False)
        gdf = byocframe.tiles_from_records(records)
        del records
        for name, call in calls.items():
            cpu: dict[str, list[float]] = {version: [] for version in versions}
            for _ in range(args.repeat):
                for version, counting in versions.items():
                    byocframe.tools.stats.depth_areas = counting  # type: ignore[assignment]
                    cpu[version].append(timed(functools.partial(call, gdf))[1])
            byocframe.tools.stats.depth_areas = versions["after"]  # type: ignore[assignment]
            best = {version: min(times) for version, times in cpu.items()}
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{k:3d} months, {len(gdf):8,d} tiles  coverage[{name:4s}]  before cpu "
                f"{best['before']:7.2f} s  after cpu {best['after']:7.2f} s  "
                f"after / before {best['after'] / best['before']:5.2f}  peak RSS {rss:,.0f} MB",
                flush=True,
            )
        del gdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-month", type=int, default=20_000)
    parser.add_argument("--months", type=int, nargs="+", default=[1, 5, 15])
    parser.add_argument("--skip", nargs="*", default=[], choices=["all", "date", "aoi"])
    parser.add_argument("--before", help="a checkout to compare with, in the same process")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (with --before)")
    args = parser.parse_args()
    months = tuple(f"{2020 + m // 12}-{m % 12 + 1:02d}-01" for m in range(max(args.months)))
    print(f"byocframe from {byocframe.__file__}")
    calls: dict[str, Callable[[Any], Any]] = {
        "all": lambda gdf: gdf.byoc.coverage(),
        "date": lambda gdf: gdf.byoc.coverage(by="sensing_time"),
        "aoi": lambda gdf: gdf.byoc.coverage(aoi=(10.0, 45.0, 12.0, 47.0)),
    }
    calls = {name: call for name, call in calls.items() if name not in args.skip}
    if args.before:
        compare(args, calls)
        return
    seen: dict[str, list[tuple[int, float]]] = {name: [] for name in calls}
    for k in args.months:
        records = synthetic_tiles(args.per_month * k, dates=months[:k], polar=False)
        gdf = byocframe.tiles_from_records(records)
        del records
        for name, call in calls.items():
            wall, cpu, out = timed(functools.partial(call, gdf))
            seen[name].append((len(gdf), cpu))
            first_cpu = seen[name][0][1]
            line = (
                f"{k:3d} months, {len(gdf):8,d} tiles  coverage[{name:4s}]  "
                f"wall {wall:7.2f} s  cpu {cpu:7.2f} s  x{cpu / first_cpu:6.1f} of the first"
            )
            if len(seen[name]) > 1:
                (n1, t1), (n2, t2) = seen[name][-2:]
                line += f"  exponent {math.log(t2 / t1) / math.log(n2 / n1):.2f}"
            if name == "all":
                line += f"  overlap {out['overlap_km2'].iloc[0] / 1e6:.2f} M km2"
            elif name == "aoi":
                line += f"  ({int(out['tiles'].iloc[0])} tiles touch the AOI)"
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{line}  peak RSS {rss:,.0f} MB", flush=True)
        del gdf


if __name__ == "__main__":
    main()
