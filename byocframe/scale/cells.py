"""Coverage by equal-area cells, one partition at a time (pandas only, no dask).

`byocframe.tools.stats.coverage` needs every footprint of a group in memory. These three
steps split it so that no step does: `cell_pieces` cuts one partition's footprints along
a grid of square cells of the equal-area plane (``byocframe.tools.areas.EQUAL_AREA``),
keyed by group and cell; whatever engine brings each group's pieces of a cell together
(a shuffle on ``group`` and ``cell``) runs `cell_depths` on them; `combine_coverage`
adds the cells up.

Why the sum is exact: the cells are disjoint squares (closed boxes that share only their
edges, which have no area), and a point of a cell lies in a footprint exactly when it
lies in that footprint's piece in its cell. So the depth at every point (how many
footprints hold it) is the same whether the footprints are whole or cut, and the area
covered ``k`` times or more is the sum, over cells, of that area inside each cell. In the
equal-area CRS meridians and parallels are straight lines, so the cells are plain
axis-aligned boxes and cutting is one GEOS intersection per footprint and cell. The
only difference from the in-memory path is rounding: GEOS computes each cut vertex in
floating point, and `byocframe.tools.depth.depth_areas` snaps vertices to 0.1 m, as it
does for the in-memory path's own cells; docs/design/scale.md gives the measured size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.tools.areas import aoi_geometry, equal_area_geometries
from byocframe.tools.depth import depth_areas, grid_cells
from byocframe.tools.groups import group_labels
from byocframe.tools.tables import CoverageTable
from byocframe.typing import AoiLike

__all__ = [
    "CELL_SIZE",
    "MIN_CELL_SIZE",
    "PIECE_COLUMNS",
    "TOTALS_CELL",
    "cell_depths",
    "cell_key",
    "cell_pieces",
    "check_cell_size",
    "combine_coverage",
    "equal_area_aoi",
    "group_name",
]

#: Side of the square cells, in metres of the equal-area plane (1,000 km: about 520
#: cells over the world, 40 of them over one row). One group's pieces in one cell are
#: what one task counts at once after the shuffle: lower it (``cell_size=``) for deep
#: stacks of many years as one group; docs/design/scale.md gives the sizes and costs.
CELL_SIZE = 1_000_000.0
#: The smallest cell side, in metres: cell keys pack a row number below 500,000, and
#: cells much smaller than a tile only multiply the pieces.
MIN_CELL_SIZE = 1_000.0
#: The cell key of the one row per group and partition that carries the group's tile
#: count and footprint area (it holds no piece).
TOTALS_CELL = np.iinfo(np.int64).min
#: The columns `cell_pieces` returns, in order.
PIECE_COLUMNS = ("group", "cell", "piece", "tiles", "footprint_m2")
_ROW = 1_000_003  # cell key = column * _ROW + row; rows stay far below it


def check_cell_size(cell_size: float) -> None:
    """Refuse a cell side that is not a number of metres of at least `MIN_CELL_SIZE`.

    Examples
    --------
    >>> check_cell_size(500_000.0)
    >>> check_cell_size(10.0)
    Traceback (most recent call last):
    ...
    ValueError: cell_size must be at least MIN_CELL_SIZE (1,000 m), got 10.0
    """
    if not isinstance(cell_size, int | float) or not cell_size >= MIN_CELL_SIZE:
        raise ValueError(
            f"cell_size must be at least MIN_CELL_SIZE ({MIN_CELL_SIZE:,.0f} m), got {cell_size!r}"
        )


def cell_key(column: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One int64 key per cell from its column and row on the grid.

    Examples
    --------
    >>> cell_key(np.array([0, -1]), np.array([2, -3])).tolist()
    [2, -1000006]
    """
    return np.asarray(column, np.int64) * _ROW + np.asarray(row, np.int64)


def equal_area_aoi(aoi: AoiLike) -> shapely.Geometry:
    """An area of interest in the equal-area plane, as `coverage` projects it.

    Examples
    --------
    >>> round(equal_area_aoi((0, 0, 1, 1)).area / 1e6)
    12308
    """
    lonlat = gpd.GeoSeries([aoi_geometry(aoi)], crs="EPSG:4326")
    return equal_area_geometries(lonlat)[0]


def _clipped(geoms: np.ndarray, region: shapely.Geometry | None) -> np.ndarray:
    """Footprints inside the region (None outside or without area), as `coverage` clips."""
    out = geoms.copy()
    present = ~shapely.is_missing(out)
    if region is not None:
        shapely.prepare(region)
        touching = present & shapely.intersects(region, out)
        crossing = touching & ~shapely.contains_properly(region, out)
        out[crossing] = shapely.intersection(out[crossing], region)
        out[~touching] = None
    out[~shapely.is_missing(out) & (shapely.is_empty(out) | (shapely.area(out) <= 0))] = None
    return out


def cell_pieces(
    frame: gpd.GeoDataFrame,
    aoi: AoiLike | shapely.Geometry | None = None,
    *,
    by: str | None = None,
    cell_size: float = CELL_SIZE,
    projected_aoi: bool = False,
) -> pd.DataFrame:
    """Cut a partition's footprints along the equal-area cells, keyed by group and cell.

    Each polygon part of a footprint (a footprint cut at the antimeridian has one on
    either side) is intersected with every cell its bounding box touches; pieces without
    area are dropped. Each group also gets one row (cell `TOTALS_CELL`, no piece) with
    its tile count and the sum of its footprint areas, so that these add up over
    partitions as they do over cells.

    Parameters
    ----------
    frame : GeoDataFrame
        One partition of a tile frame (any CRS).
    aoi : optional
        As in `byocframe.tools.coverage`; pieces are then cut to it.
    by : str, optional
        As in `byocframe.tools.coverage` (None, a column, ``"sensing_time"``, a period).
    cell_size : float
        Side of the cells in metres (`CELL_SIZE`, at least `MIN_CELL_SIZE`); every
        partition must use the same.
    projected_aoi : bool
        ``aoi`` is already in the equal-area plane (`equal_area_aoi`), as when one
        projected AOI is shipped to every partition.

    Returns
    -------
    pandas.DataFrame
        `PIECE_COLUMNS`: ``group`` (the group's label, object), ``cell`` (int64,
        `cell_key`), ``piece`` (WKB bytes in the equal-area plane, None on a totals
        row), ``tiles`` and ``footprint_m2`` (zero except on totals rows).

    Examples
    --------
    >>> import shapely
    >>> tiles = gpd.GeoDataFrame(geometry=[shapely.box(8, 0, 10, 1)], crs=4326)
    >>> pieces = cell_pieces(tiles)  # 1,000 km cells: x = 1,000 km is at 8.98 degrees
    >>> pieces["piece"].notna().sum(), pieces["tiles"].sum()
    (np.int64(2), np.int64(1))
    """
    check_cell_size(cell_size)
    region: shapely.Geometry | None = None
    if aoi is not None:
        region = aoi if projected_aoi else equal_area_aoi(aoi)
    labels = group_labels(frame, by)
    geoms = _clipped(equal_area_geometries(frame), region)
    counted = np.ones(len(frame), bool) if region is None else ~shapely.is_missing(geoms)
    area = np.where(shapely.is_missing(geoms), 0.0, shapely.area(geoms))
    group = labels.to_numpy(dtype=object)
    # one totals row per group, even a group with no footprint (as `coverage` lists it)
    totals = pd.DataFrame({"group": group, "tiles": counted.astype(np.int64), "area": area})
    totals = totals.groupby("group", sort=False, dropna=False).sum()
    parts, owner = shapely.get_parts(geoms, return_index=True)
    xmin, ymin, xmax, ymax = shapely.bounds(parts).T
    at, column, row = grid_cells(xmin, ymin, xmax, ymax, cell_size)
    pieces = parts[at]
    alone = np.bincount(at, minlength=len(parts))[at] == 1  # inside one cell: no cut
    cut = np.flatnonzero(~alone)
    boxes = shapely.box(
        column[cut] * cell_size,
        row[cut] * cell_size,
        (column[cut] + 1) * cell_size,
        (row[cut] + 1) * cell_size,
    )
    pieces[cut] = shapely.intersection(pieces[cut], boxes)
    keep = ~shapely.is_empty(pieces) & (shapely.area(pieces) > 0)
    n_totals = len(totals)
    out = pd.DataFrame(
        {
            "group": np.r_[group[owner[at[keep]]], totals.index.to_numpy(dtype=object)],
            "cell": np.r_[cell_key(column[keep], row[keep]), np.full(n_totals, TOTALS_CELL)],
            "piece": np.r_[shapely.to_wkb(pieces[keep]), np.full(n_totals, None)],
            "tiles": np.r_[np.zeros(keep.sum(), np.int64), totals["tiles"].to_numpy()],
            "footprint_m2": np.r_[np.zeros(keep.sum()), totals["area"].to_numpy()],
        }
    )
    out["group"] = out["group"].astype(object)
    out["piece"] = out["piece"].astype(object)
    return out


def group_name(by: str | None, columns: Sequence[str]) -> str:
    """The name `byocframe.tools.groups.group_labels` gives the groups of ``by``.

    Examples
    --------
    >>> group_name(None, []), group_name("sensing_time", []), group_name("status", ["status"])
    ('group', 'date', 'status')
    """
    if by is None:
        return "group"
    if by in ("sensing_time", "date"):
        return "date"
    return by if by in columns else "period"


def cell_depths(pieces: pd.DataFrame) -> pd.DataFrame:
    """Depth areas per group and cell, from all the pieces of the cells given.

    Every piece of a group in a cell must be in ``pieces`` (the rows of a shuffle on
    ``group`` and ``cell``); pieces of several groups and cells may be.

    Parameters
    ----------
    pieces : pandas.DataFrame
        Rows of `cell_pieces` (from any partitions).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``cell``, ``covered_m2`` (covered once or more), ``overlap_m2``
        (twice or more), ``tiles`` and ``footprint_m2`` (the totals rows' sums).

    Examples
    --------
    >>> import shapely
    >>> tiles = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4326)
    >>> depths = cell_depths(cell_pieces(tiles))
    >>> round(depths["covered_m2"].sum() / 1e6), round(depths["overlap_m2"].sum() / 1e6)
    (12308, 12308)
    """
    rows: list[dict[str, Any]] = []
    keys = pieces.groupby(["group", "cell"], sort=False, dropna=False).indices
    values = pieces["piece"].to_numpy(dtype=object)
    tiles, footprint = pieces["tiles"].to_numpy(), pieces["footprint_m2"].to_numpy()
    for (group, cell), at in keys.items():
        if cell == TOTALS_CELL:
            level = np.zeros(2)
        else:
            level = np.pad(depth_areas(shapely.from_wkb(values[at]), deepest=2), (0, 2))[:2]
        rows.append(
            {
                "group": group,
                "cell": cell,
                "covered_m2": float(level[0]),
                "overlap_m2": float(level[1]),
                "tiles": int(tiles[at].sum()),
                "footprint_m2": float(footprint[at].sum()),
            }
        )
    out = pd.DataFrame(rows, columns=list(DEPTH_META))
    return out.astype(DEPTH_META)


#: The columns and dtypes of `cell_depths`' table.
DEPTH_META = {
    "group": object,
    "cell": np.int64,
    "covered_m2": np.float64,
    "overlap_m2": np.float64,
    "tiles": np.int64,
    "footprint_m2": np.float64,
}


def combine_coverage(
    depths: pd.DataFrame,
    *,
    name: str = "group",
    aoi: AoiLike | shapely.Geometry | None = None,
    projected_aoi: bool = False,
    categories: Sequence[Any] | None = None,
) -> CoverageTable:
    """Add the cells' depth areas up into `byocframe.tools.coverage`'s table.

    Parameters
    ----------
    depths : pandas.DataFrame
        `cell_depths` rows of every cell (from any partitions).
    name : str
        The name of the groups' index (``labels.name`` of `group_labels`: ``"group"``
        for ``by=None``, ``"date"``, ``"period"`` or the column).
    aoi : optional
        The area of interest the pieces were cut to, for ``aoi_km2`` and
        ``covered_fraction``.
    projected_aoi : bool
        ``aoi`` is already in the equal-area plane.
    categories : sequence, optional
        The categories of a categorical ``by`` column: groups then come in their order,
        as `byocframe.tools.coverage` lists them, instead of sorted.

    Returns
    -------
    CoverageTable
        As `byocframe.tools.coverage` returns.

    Examples
    --------
    >>> import shapely
    >>> tiles = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4326)
    >>> table = combine_coverage(cell_depths(cell_pieces(tiles)))
    >>> table.round(0).iloc[0].to_dict()
    {'tiles': 2.0, 'footprint_km2': 24617.0, 'covered_km2': 12308.0, 'overlap_km2': 12308.0}
    """
    columns = ["tiles", "footprint_m2", "covered_m2", "overlap_m2"]
    sums = depths.groupby("group", sort=False, dropna=False)[columns].sum()
    if categories is not None:
        rank = {value: i for i, value in enumerate(categories)}
        keys = sorted(sums.index, key=lambda v: (v not in rank, rank.get(v, 0)))
    else:
        keys = sorted(sums.index, key=_sort_key)
    sums = sums.loc[keys] if keys else sums
    out = pd.DataFrame(
        {
            "tiles": sums["tiles"].to_numpy(),
            "footprint_km2": sums["footprint_m2"].to_numpy() / 1e6,
            "covered_km2": sums["covered_m2"].to_numpy() / 1e6,
            "overlap_km2": sums["overlap_m2"].to_numpy() / 1e6,
        },
        index=pd.Index(keys, name=name),
    )
    if aoi is not None:
        region: shapely.Geometry = aoi if projected_aoi else equal_area_aoi(aoi)
        out["aoi_km2"] = region.area / 1e6
        out["covered_fraction"] = sums["covered_m2"].to_numpy() / region.area
    out["tiles"] = out["tiles"].astype("int64")
    return CoverageTable(out)


def _sort_key(value: Any) -> tuple[bool, Any]:
    """Groups in `coverage`'s order: sorted, missing labels last."""
    return (bool(pd.isna(value)), 0 if pd.isna(value) else value)
