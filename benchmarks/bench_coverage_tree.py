"""Benchmark: divide and conquer over a stack, against ``depth_areas``, per cell (issue 24).

``coverage()`` needs two levels per group: the area covered once or more (``U``) and twice
or more (``D2``). For a set ``S`` split into halves ``A`` and ``B``::

    U(S)  = U(A) | U(B)
    D2(S) = D2(A) | D2(B) | (U(A) & U(B))

so both regions follow from a balanced tree of overlays (leaves: the footprints, ordered
by sensing time). If the regions of near-coincident versions stay about as complex as
one version, the tree costs about ``m log m`` per place for ``m`` stacked months, not the
``m^2`` crossings ``depth_areas`` walks. This measures it, per cell of the cut
``coverage()`` makes (3000 km cells, halved until none holds more than 20,000 pieces),
each cell counted alone by:

* ``depth``: ``depth_areas(pieces, deepest=2)``, the reference (exact for the input
  snapped to the 0.1 m grid);
* ``grid=G``: the tree with GEOS OverlayNG on a fixed precision grid of ``G`` metres
  (``shapely.union`` / ``shapely.intersection`` with ``grid_size=G``: snap rounding);
* ``float``: the tree with GEOS's floating overlay (no grid; GEOS falls back to snapping
  by itself when it fails), on the input snapped to the 0.1 m grid first;
* ``float+depth``: the float tree, but the root's two levels counted by ``depth_areas``
  on the four regions below it (``U(A), D2(A), U(B), D2(B)``: a point is covered twice
  in ``S`` exactly where two or more of those four hold it).

Printed per stack and method: CPU seconds (one thread, summed over cells), the exponent
``log(t2 / t1) / log(n2 / n1)`` between stacks, the areas and their difference with
``depth`` (km2 and relative), the bound of the 0.1 m snapping's own effect (the pieces'
perimeter x 0.1 m), the largest difference in one cell, the CPU seconds of the merges
across months (those whose halves hold different months; the others build each month's
own mosaic), GEOS raising (retried on a 0.01 m grid), results with lines or points
beside their polygons ("mixed") and invalid results, the most vertices the tree held at
once in a cell, and the vertices of the root's ``U`` and ``D2`` (in all, and in pieces'
worth per cell).

``--shared-points`` runs the stacks of ``bench_coverage_scale.py --shared-points``
instead (one UTM zone, each cell's covers with their own densifying points, then with
shared ones); run it from ``benchmarks/``, which imports that script.

Run: ``python benchmarks/bench_coverage_tree.py [--per-month 20000] [--months 2 8 24]
[--methods depth grid=0.1 float float+depth] [--shared-points]``. Results:
``docs/design/coverage.md`` ("Divide and conquer over the stack, measured").
"""

from __future__ import annotations

import argparse
import functools
import math
import resource
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.tools.depth import depth_areas, grid_cells
from byocframe.tools.stats import CELL_SIZE, equal_area_geometries

# the cut of ``tools/stats.py`` (its private _MAX_PER_CELL and _MIN_CELL)
MAX_PER_CELL = 20_000
MIN_CELL = 100_000.0
RESOLUTION = 0.1
EMPTY = shapely.Polygon()
#: one cell's pieces in the order of the tree's leaves, and the month of each
Cell = tuple[np.ndarray, np.ndarray]


def cpu_of(call: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds (this process, all threads) of one call, and its result."""
    start = time.process_time()
    result = call()
    return time.process_time() - start, result


def cells(geoms: np.ndarray, order: np.ndarray, month: np.ndarray) -> list[Cell]:
    """The footprints cut along the cells of ``coverage()``, each cell's pieces in ``order``."""
    xmin, ymin, xmax, ymax = shapely.bounds(geoms).T
    size = CELL_SIZE
    while True:
        row, ci, cj = grid_cells(xmin, ymin, xmax, ymax, size)
        key = ci * 1_000_003 + cj
        if np.unique(key, return_counts=True)[1].max() <= MAX_PER_CELL or size / 2 < MIN_CELL:
            break
        size /= 2
    boxes = shapely.box(ci * size, cj * size, (ci + 1) * size, (cj + 1) * size)
    pieces = shapely.intersection(geoms[row], boxes)
    keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 0)
    pieces, key, row = pieces[keep], key[keep], row[keep]
    by = np.lexsort((order[row], key))
    pieces, key, month = pieces[by], key[by], month[row[by]]
    cuts = np.flatnonzero(key[1:] != key[:-1]) + 1
    return list(zip(np.split(pieces, cuts), np.split(month, cuts), strict=True))


def snapped(geoms: np.ndarray) -> np.ndarray:
    """Vertices rounded to the 0.1 m grid, as ``depth_areas`` rounds them."""
    return shapely.transform(geoms, lambda xy: np.round(xy / RESOLUTION) * RESOLUTION)


@dataclass
class Tally:
    """What one method found over the cells of one stack."""

    cpu: float = 0.0
    across: float = 0.0  # CPU seconds of the merges whose halves hold different months
    areas: np.ndarray = field(default_factory=lambda: np.zeros(2))
    raised: int = 0
    invalid: int = 0
    overlays: int = 0
    mixed: int = 0  # results with lines or points beside their polygons
    held: int = 0  # the most vertices held by the tree at once (one cell)
    root_vertices: np.ndarray = field(default_factory=lambda: np.zeros(2))
    per_cell: list[np.ndarray] = field(default_factory=list)  # the two levels of each cell


def union_of_three(a: np.ndarray, b: np.ndarray, c: np.ndarray, grid_size: Any) -> np.ndarray:
    """One overlay of the three regions of each element (``union_all`` along an axis)."""
    return shapely.union_all(np.stack([a, b, c]), axis=0, grid_size=grid_size)


def overlay(tally: Tally, op: Any, grid: float | None, *arrays: np.ndarray) -> np.ndarray:
    """``op(*arrays)`` element-wise on a grid; an element that raises is retried on 0.01 m."""
    tally.overlays += len(arrays[0])
    try:
        return polygonal(tally, op(*arrays, grid_size=grid))
    except shapely.errors.GEOSException:
        out = np.empty(len(arrays[0]), dtype=object)
        for i in range(len(out)):
            single = [np.array([x[i]], dtype=object) for x in arrays]
            try:
                out[i] = op(*single, grid_size=grid)[0]
            except shapely.errors.GEOSException:
                tally.raised += 1
                out[i] = op(*single, grid_size=0.01)[0]
        return polygonal(tally, out)


def polygonal(tally: Tally, geoms: np.ndarray) -> np.ndarray:
    """The polygons of each result: a collection with lines or points keeps its polygons."""
    collection = shapely.get_type_id(geoms) == 7
    geoms[collection & shapely.is_empty(geoms)] = EMPTY
    mixed = np.flatnonzero(collection & ~shapely.is_empty(geoms))
    tally.mixed += len(mixed)
    for i in mixed:
        parts = [p for p in shapely.get_parts(geoms[i]) if p.geom_type == "Polygon"]
        geoms[i] = shapely.union_all(parts) if parts else EMPTY
    return geoms


def merge(
    tally: Tally, grid: float | None, ua: np.ndarray, ub: np.ndarray, da: np.ndarray, db: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One level of the tree: ``U = U(A) | U(B)``, ``D2 = D2(A) | D2(B) | (U(A) & U(B))``."""
    both = overlay(tally, shapely.intersection, grid, ua, ub)
    return overlay(tally, shapely.union, grid, ua, ub), overlay(
        tally, union_of_three, grid, da, db, both
    )


def tree(
    pieces: np.ndarray, month: np.ndarray, grid: float | None, tally: Tally, exact_root: bool
) -> np.ndarray:
    """Covered once and twice by a balanced tree of overlays (its CPU time in ``tally``).

    A merge of two nodes holding one and the same month only (the mosaic of one month)
    and a merge across months are timed apart: what the stack adds is the second.
    """
    u, d = pieces, np.full(len(pieces), EMPTY, dtype=object)
    first, last = month, month  # the months each node spans
    while len(u) > 1:
        if exact_root and len(u) == 2:  # the root's levels from its four regions, exactly
            regions = np.array([u[0], d[0], u[1], d[1]], dtype=object)
            took, levels = cpu_of(functools.partial(depth_areas, regions, deepest=2))
            tally.cpu += took
            tally.across += took
            return np.pad(levels, (0, 2))[:2]
        n = len(u) // 2 * 2
        nu, nd = np.empty(n // 2, dtype=object), np.empty(n // 2, dtype=object)
        across = first[0:n:2] != last[1:n:2]
        for pairs in (~across, across):
            at = np.flatnonzero(pairs) * 2
            halves = (u[at], u[at + 1], d[at], d[at + 1])
            took, (nu[pairs], nd[pairs]) = cpu_of(functools.partial(merge, tally, grid, *halves))
            tally.cpu += took
            tally.across += took if pairs is across else 0.0
        # outside the timing: validity, and how many vertices the level holds
        tally.invalid += int((~shapely.is_valid(nu)).sum() + (~shapely.is_valid(nd)).sum())
        u, d = np.r_[nu, u[n:]], np.r_[nd, d[n:]]
        first, last = np.r_[first[0:n:2], first[n:]], np.r_[last[1:n:2], last[n:]]
        held = int(shapely.get_num_coordinates(u).sum() + shapely.get_num_coordinates(d).sum())
        tally.held = max(tally.held, held)
    tally.root_vertices += [shapely.get_num_coordinates(u[0]), shapely.get_num_coordinates(d[0])]
    return np.array([shapely.area(u[0]), shapely.area(d[0])])


def run_method(method: str, by_cell: list[Cell]) -> Tally:
    """One method over every cell of a stack."""
    tally = Tally()
    for pieces, month in by_cell:
        if method == "depth":
            took, levels = cpu_of(lambda p=pieces: depth_areas(p, deepest=2))
            tally.cpu += took
            tally.areas += np.pad(levels, (0, 2))[:2]
            tally.per_cell.append(np.pad(levels, (0, 2))[:2])
            continue
        grid = float(method.split("=")[1]) if method.startswith("grid=") else None
        source = pieces if grid is not None else snapped(pieces)
        levels = tree(source, month, grid, tally, exact_root=method == "float+depth")
        tally.areas += levels
        tally.per_cell.append(levels)
    return tally


def worst_cell(tally: Tally, reference: Tally) -> float:
    """The largest relative difference of one cell's level (of cells with that level)."""
    got, truth = np.array(tally.per_cell), np.array(reference.per_cell)
    seen = truth > 0
    return float((np.abs(got - truth)[seen] / truth[seen]).max(initial=0.0))


def report(
    label: str, n: int, by_cell: list[Cell], methods: list[str], seen: dict[str, list]
) -> None:
    """Run every method on one stack's cells and print a line each."""
    pieces = np.concatenate([cell for cell, _ in by_cell])
    bound = float(shapely.length(pieces).sum()) * RESOLUTION
    vertices = int(shapely.get_num_coordinates(pieces).sum())
    print(
        f"{label}: {n:,d} footprints, {len(pieces):,d} pieces in {len(by_cell)} cells, "
        f"{vertices:,d} vertices; snapping bound (perimeter x 0.1 m) {bound / 1e6:.4f} km2",
        flush=True,
    )
    reference = None
    for method in methods:
        tally = run_method(method, by_cell)
        seen[method].append((n, tally.cpu))
        line = f"  {method:12s} cpu {tally.cpu:8.2f} s"
        if len(seen[method]) > 1:
            (n1, t1), (n2, t2) = seen[method][-2:]
            line += f"  exponent {math.log(t2 / t1) / math.log(n2 / n1):5.2f}"
        line += f"  covered {tally.areas[0] / 1e6:,.4f} km2  twice {tally.areas[1] / 1e6:,.4f} km2"
        if method == "depth":
            reference = tally
        elif reference is not None:
            diff = tally.areas - reference.areas
            rel = np.abs(diff) / reference.areas
            line += (
                f"  diff {diff[0] / 1e6:+.2e} / {diff[1] / 1e6:+.2e} km2"
                f" (rel {rel[0]:.1e} / {rel[1]:.1e}; of the snapping bound "
                f"{abs(diff[0]) / bound:.1e} / {abs(diff[1]) / bound:.1e})"
                f"  worst cell rel {worst_cell(tally, reference):.1e}"
                f"  x{tally.cpu / reference.cpu:.2f} of depth"
            )
        if method != "depth":
            line += (
                f"  across months cpu {tally.across:.2f} s"
                f" (x{tally.across / reference.cpu if reference else math.nan:.2f} of depth)"
                f"  overlays {tally.overlays:,d} raised {tally.raised} mixed {tally.mixed}"
                f" invalid {tally.invalid}  held {tally.held:,d} vertices"
            )
        if method == "float" or method.startswith("grid="):  # (float+depth forms no root)
            per_piece = tally.root_vertices / (vertices / len(pieces)) / len(by_cell)
            line += (
                f"; root U, D2 {tally.root_vertices[0]:,.0f}, {tally.root_vertices[1]:,.0f}"
                f" vertices ({per_piece[0]:.1f}, {per_piece[1]:.1f} pieces' worth a cell)"
            )
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{line}  peak RSS {rss:,.0f} MB", flush=True)


def listing_stacks(args: argparse.Namespace) -> None:
    """The synthetic world of ``bench_coverage_scale.py``: ``--per-month`` tiles a month."""
    months = tuple(f"{2020 + m // 12}-{m % 12 + 1:02d}-01" for m in range(max(args.months)))
    seen: dict[str, list] = {method: [] for method in args.methods}
    for k in args.months:
        gdf = byocframe.tiles_from_records(
            synthetic_tiles(args.per_month * k, dates=months[:k], polar=False)
        )
        geoms = equal_area_geometries(gdf)
        present = ~shapely.is_missing(geoms)
        order = np.argsort(gdf["sensing_time"].to_numpy()[present], kind="stable")
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        times = gdf["sensing_time"].dt.tz_convert("UTC")[present]
        month = (times.dt.year * 12 + times.dt.month).to_numpy()
        by_cell = cells(geoms[present], rank, month)
        del gdf
        report(f"{k} months", int(present.sum()), by_cell, args.methods, seen)


def shared_point_stacks(args: argparse.Namespace) -> None:
    """The stacks of ``bench_coverage_scale.py --shared-points`` (one UTM zone, 120 cells)."""
    from bench_coverage_scale import stacked_cells  # a sibling script

    for shared in (False, True):
        seen: dict[str, list] = {method: [] for method in args.methods}
        for k in args.months:
            covers = stacked_cells(k, shared)  # month by month: already in time order
            label = f"{'shared' if shared else 'own'} points, {k} months"
            month = np.arange(len(covers)) // (len(covers) // k)
            report(label, len(covers), [(covers, month)], args.methods, seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-month", type=int, default=20_000)
    parser.add_argument("--months", type=int, nargs="+", default=[2, 8, 24])
    parser.add_argument(
        "--methods", nargs="+", default=["depth", "grid=0.1", "float", "float+depth"]
    )
    parser.add_argument("--shared-points", action="store_true", help="the UTM-zone stacks")
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)  # GEOS invalid-geometry warnings
    print(f"byocframe from {byocframe.__file__}")
    if args.shared_points:
        shared_point_stacks(args)
    else:
        listing_stacks(args)


if __name__ == "__main__":
    main()
