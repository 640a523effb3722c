"""One group's footprints in batches whose depth areas add up, within bounded memory.

A group of more than ``_MAX_AT_ONCE`` footprints is cut along a grid of square cells of the
equal-area plane (`CELL_SIZE` metres, halved while a cell holds too many) and its pieces
are counted a batch of whole cells at a time: areas add up over disjoint cells.
`footprint_batches` does it for `byocframe.tools.stats.coverage`; `clip` cuts footprints
to an area of interest and `robust` retries a GEOS overlay on a fine grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from byocframe.tools.depth import grid_cells

__all__ = ["CELL_SIZE", "clip", "footprint_batches", "robust"]

#: Groups of more footprints than _MAX_AT_ONCE are cut along a grid of square cells of
#: CELL_SIZE metres (in EQUAL_AREA) and counted by cells: areas add up over disjoint
#: cells, and the memory stays bounded by what one cell holds.
CELL_SIZE = 3_000_000.0
_MAX_AT_ONCE = 2_000
#: Cells are halved (down to _MIN_CELL metres) until none holds more than _MAX_PER_CELL
#: footprints: years of stacked mosaics then stay within one cell's memory too.
_MAX_PER_CELL = 20_000
_MIN_CELL = 100_000.0
#: Whole cells are counted together, up to _BATCH pieces a call (a cell that holds more
#: is counted alone): most cells of a worldwide group hold a few tiles, and each call
#: has a fixed cost of about a millisecond (500 measured best of 300 to 2,000).
_BATCH = 500
_GRID = 0.01  # metres: the snapping grid of an overlay retried after a topology error


def _cells(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut footprints (no missing ones) along the cell grid: (pieces, cell key of each)."""
    if len(geoms) == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=np.int64)
    xmin, ymin, xmax, ymax = shapely.bounds(geoms).T
    size = CELL_SIZE
    while True:
        row, ci, cj = grid_cells(xmin, ymin, xmax, ymax, size)
        _, fullest = np.unique(ci * 1_000_003 + cj, return_counts=True)
        if fullest.max() <= _MAX_PER_CELL or size / 2 < _MIN_CELL:
            break
        size /= 2
    count = np.bincount(row, minlength=len(geoms))
    pieces = np.empty(len(row), dtype=object)
    whole = (count == 1)[row]
    pieces[whole] = geoms[row[whole]]
    cut = ~whole
    boxes = shapely.box(ci[cut] * size, cj[cut] * size, (ci[cut] + 1) * size, (cj[cut] + 1) * size)
    pieces[cut] = shapely.intersection(geoms[row[cut]], boxes)
    keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 0)
    return pieces[keep], (ci * 1_000_003 + cj)[keep]


def _in_batches(pieces: np.ndarray, cell: np.ndarray) -> list[np.ndarray]:
    """The pieces in batches of whole cells, each batch up to _BATCH pieces (or one cell).

    Pieces of different cells meet along cell lines at most, so a batch of several
    cells counts the sum of their areas: small cells (a few tiles each) then share one
    call's fixed cost instead of paying it each.
    """
    if len(pieces) == 0:
        return []
    order = np.argsort(cell, kind="stable")
    _, starts, counts = np.unique(cell[order], return_index=True, return_counts=True)
    cuts = []
    filled = 0
    for start, count in zip(starts.tolist(), counts.tolist(), strict=True):
        if filled and filled + count > _BATCH:
            cuts.append(start)
            filled = 0
        filled += count
    return np.split(pieces[order], cuts)


def robust(operation: Any, *args: Any) -> Any:
    """Run a GEOS overlay; on a topology error, again on a fine snapping grid.

    Examples
    --------
    >>> import shapely
    >>> robust(shapely.intersection, shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3)).area
    1.0
    """
    try:
        return operation(*args)
    except shapely.errors.GEOSException:
        return operation(*args, grid_size=_GRID)


def clip(geoms: np.ndarray, aoi: shapely.Geometry) -> np.ndarray:
    """The footprints' parts inside the AOI (footprints outside it are dropped).

    Only footprints that cross the AOI's outline go through an overlay: an AOI can have
    thousands of vertices (a densified world or country), and overlays pay for them.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> footprints = np.array([shapely.box(0, 0, 2, 2), shapely.box(5, 5, 6, 6)])
    >>> parts = clip(footprints, shapely.box(1, 1, 3, 3))
    >>> [p.area for p in parts]  # the second footprint is outside
    [1.0]
    """
    shapely.prepare(aoi)
    touching = shapely.intersects(aoi, geoms)
    crossing = touching & ~shapely.contains_properly(aoi, geoms)
    parts = geoms.copy()
    parts[crossing] = robust(shapely.intersection, geoms[crossing], aoi)
    parts = parts[touching]
    return parts[~shapely.is_empty(parts) & (shapely.area(parts) > 0)]


def footprint_batches(
    geoms: np.ndarray, aoi: shapely.Geometry | None
) -> tuple[list[np.ndarray], int, float]:
    """One group's footprints (inside the AOI) in batches whose depth areas add up.

    A large group is cut along the cells, which bounds the memory, keeps the arrays in
    the processor's cache and lets one group use every core. Also returns how many
    footprints there are and the sum of their areas.

    Examples
    --------
    >>> import numpy as np, shapely
    >>> batches, count, area = footprint_batches(np.array([shapely.box(0, 0, 2, 2), None]), None)
    >>> len(batches), count, area
    (1, 1, 4.0)
    """
    present = geoms[~shapely.is_missing(geoms)]
    if aoi is not None:
        present = clip(present, aoi)
    footprint = float(shapely.area(present).sum())
    if len(present) <= _MAX_AT_ONCE:
        return [present], len(present), footprint
    return _in_batches(*_cells(present)), len(present), footprint
