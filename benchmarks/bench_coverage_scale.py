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

``--shared-points`` runs an experiment instead, outside the frame build: 120 cells of one
UTM zone stacked ``--months`` times (35 % of the covers recut by a swath edge drawn anew
each month, 1 mm noise, as the synthetic listing), their straight UTM edges densified
every 4 km either at points of their own (halving each edge, as densifying by an edge's
ends does) or at points they share (where the edge crosses the lines of a 4 km lattice),
then projected to the equal-area CRS and counted as one group by ``depth_areas``. It
prints the CPU seconds, the polygons after merging copies, the edge classes and the
class events (crossings), and the areas.

Run: ``python benchmarks/bench_coverage_scale.py [--per-month 20000] [--months 1 5 15]
[--before /work/main] [--repeat 1] [--shared-points]``
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import itertools
import math
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer

import byocframe
import byocframe.tools.stats
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.tools import edges
from byocframe.tools.stats import EQUAL_AREA


def timed(call: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU (all threads) seconds of one call, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def load(name: str, path: Path) -> Any:
    """A module of another checkout, from its file."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def counting_from(checkout: str) -> Callable[..., Any]:
    """``depth_areas`` of another checkout, with that checkout's ``tools/edges.py`` (if any)."""
    tools = Path(checkout) / "byocframe" / "tools"
    own = sys.modules["byocframe.tools.edges"]
    if (tools / "edges.py").exists():  # its depth.py imports its edges.py, not ours
        sys.modules["byocframe.tools.edges"] = load("edges_before", tools / "edges.py")
    try:
        before = load("depth_before", tools / "depth.py").depth_areas
    finally:
        sys.modules["byocframe.tools.edges"] = own

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


def stacked_cells(months: int, shared: bool, cells: int = 120) -> np.ndarray:
    """Covers of ``cells`` UTM cells stacked ``months`` times, in the equal-area CRS."""
    rng = np.random.default_rng(0)
    to_equal_area = Transformer.from_crs("EPSG:32632", EQUAL_AREA, always_xy=True)
    covers = []
    for _ in range(months):
        for i in range(cells):
            x0, y0 = 200_000 + (i % 6) * 100_000, 5_000_000 + (i // 6) * 100_000
            ring = densified(cover_ring(rng, x0, y0, 109_800.0), 4_000.0, shared)
            x, y = to_equal_area.transform(ring[:, 0], ring[:, 1])
            covers.append(shapely.Polygon(np.column_stack([x, y])))
    return np.array(covers)


def cover_ring(rng: np.random.Generator, x0: float, y0: float, size: float) -> np.ndarray:
    """A cell, maybe recut by a zig-zag swath edge (35 %), with 1 mm noise: a closed ring."""
    x1, y1 = x0 + size, y0 + size
    corners = [(x0, y1), (x0, y0), (x1, y0), (x1, y1)]
    if rng.random() < 0.35:
        n = int(rng.integers(5, 12))
        a, b = rng.uniform(0.2, 0.8, 2)
        inward = rng.uniform(0, 0.05, n) * size
        inward[[0, -1]] = 0.0
        t = np.arange(n) / (n - 1)
        swath = np.column_stack([x0 + size * (a + (1 - a) * t), y0 + size * b * t + inward])
        corners = [(x0, y1), (x0, y0), *map(tuple, swath), (x1, y1)]
    ring = np.array(corners) + rng.normal(0, 0.001, (len(corners), 2))
    return np.vstack([ring, ring[:1]])


def densified(ring: np.ndarray, step: float, shared: bool) -> np.ndarray:
    """The ring with points every ``step`` or less: shared lattice points, or its own."""
    out = []
    for (ax, ay), (bx, by) in itertools.pairwise(ring):
        if shared:  # where the edge crosses a lattice line across its main direction
            a, b = (ax, bx) if abs(bx - ax) >= abs(by - ay) else (ay, by)
            lines = np.arange(np.floor(min(a, b) / step) + 1, np.ceil(max(a, b) / step)) * step
            t = np.sort((lines - a) / (b - a))
            t = t[(t > 1e-9) & (t < 1 - 1e-9)]
        else:  # halved until no piece is longer than the step: points of its own ends
            pieces = 2 ** max(0, math.ceil(math.log2(max(math.hypot(bx - ax, by - ay) / step, 1))))
            t = np.arange(1, pieces) / pieces
        out.append(
            np.column_stack([np.r_[0.0, t] * (bx - ax) + ax, np.r_[0.0, t] * (by - ay) + ay])
        )
    out.append(ring[-1:])
    return np.vstack(out)


def shared_points(months: list[int]) -> None:
    """The experiment of ``--shared-points``: own against shared densifying points."""
    for shared in (False, True):
        seen: list[tuple[int, float]] = []
        for k in months:
            covers = stacked_cells(k, shared)
            cpu = min(
                timed(functools.partial(byocframe.tools.stats.depth_areas, covers, deepest=2))[1]
                for _ in range(2)
            )
            found = edges.Edges(covers, np.ones(len(covers), np.int64), 0.1)
            classes = edges.Segments(found, found.weight)
            events = sum(
                len(edges.crossings(classes, a, b)[0][0]) for a, b in edges.candidate_pairs(classes)
            )
            areas = byocframe.tools.stats.depth_areas(covers, deepest=2) / 1e6
            line = (
                f"{'shared' if shared else 'own'} points  {k:3d} months  {len(covers):6,d} covers  "
                f"cpu {cpu:6.2f} s  polygons after merging {len(found.weight):6,d}  "
                f"classes {len(classes):8,d}  class events {events:10,d}  "
                f"covered {areas[0]:,.4f} km2  twice {areas[1]:,.4f} km2"
            )
            seen.append((len(covers), cpu))
            if len(seen) > 1:
                (n1, t1), (n2, t2) = seen[-2:]
                line += f"  exponent {math.log(t2 / t1) / math.log(n2 / n1):.2f}"
            print(line, flush=True)


def sliver_widths(locations: int = 40) -> None:
    """How far apart two months' versions of one recut cover run (``--shared-points``).

    For the first ``locations`` cells whose covers differ in their vertex count over 6
    stacked months of the synthetic listing: the mean width (2 area / perimeter) of the
    thin parts (under 25 m) of the symmetric difference of two versions, the widest.
    """
    months = tuple(f"2020-{m + 1:02d}-01" for m in range(6))
    gdf = byocframe.tiles_from_records(synthetic_tiles(300 * 6, dates=months, polar=False))
    geoms = byocframe.tools.stats.equal_area_geometries(gdf)
    cell = gdf["path"].str.split("/").str[-2].to_numpy()
    widths = []
    for name in np.unique(cell):
        versions = geoms[cell == name]
        versions = versions[~shapely.is_missing(versions)]
        if len(versions) < 2 or len(set(shapely.get_num_coordinates(versions))) < 2:
            continue
        parts = shapely.get_parts(shapely.symmetric_difference(versions[0], versions[1]))
        mean = 2 * shapely.area(parts) / shapely.length(parts)
        if (thin := mean[mean < 25.0]).size:
            widths.append(thin.max())
        if len(widths) == locations:
            break
    print(
        f"slivers between two versions of a recut cover, {len(widths)} locations: mean width "
        f"median {np.median(widths):.2f} m, from {min(widths):.4f} to {max(widths):.2f} m"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-month", type=int, default=20_000)
    parser.add_argument("--months", type=int, nargs="+", default=[1, 5, 15])
    parser.add_argument("--skip", nargs="*", default=[], choices=["all", "date", "aoi"])
    parser.add_argument("--before", help="a checkout to compare with, in the same process")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (with --before)")
    parser.add_argument("--shared-points", action="store_true", help="the experiment above")
    args = parser.parse_args()
    if args.shared_points:
        sliver_widths()
        shared_points(args.months)
        return
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
