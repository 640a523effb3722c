"""Footprint statistics: coverage, gaps and overlaps, counted in an equal-area plane.

`coverage` counts each group's footprint, covered and overlap areas (`depth_areas` over
the batches of `byocframe.tools.batching`), `gaps` draws what of an area of interest no
footprint covers, `overlaps` lists pairs of overlapping footprints. Where areas are
measured is `byocframe.tools.areas`, the groups of ``by=`` are `byocframe.tools.groups`,
and how the tables show their numbers is `byocframe.tools.tables`; their names are
handed on here too (``from byocframe.tools.stats import geodesic_area`` keeps working).
"""

from __future__ import annotations

import functools
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.moved import forward_settings
from byocframe.tools.areas import (
    EQUAL_AREA,
    aoi_geometry,
    equal_area_geometries,
    geodesic_area,
    near_aoi,
    project,
)
from byocframe.tools.batching import CELL_SIZE, clip, footprint_batches, robust
from byocframe.tools.depth import depth_areas
from byocframe.tools.groups import PERIODS, group_labels
from byocframe.tools.tables import CoverageTable, format_number
from byocframe.typing import AoiLike

__all__ = [
    "CELL_SIZE",
    "EQUAL_AREA",
    "PERIODS",
    "CoverageTable",
    "aoi_geometry",
    "coverage",
    "equal_area_geometries",
    "format_number",
    "gaps",
    "geodesic_area",
    "group_labels",
    "overlaps",
]


def coverage(
    frame: gpd.GeoDataFrame, aoi: AoiLike | None = None, *, by: str | None = None
) -> CoverageTable:
    """Footprint coverage statistics, one row per group.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame (any CRS).
    aoi : optional
        Area of interest (see `aoi_geometry`); areas are then counted inside it only.
    by : str, optional
        None (one row), a column (``"status"``, ``"sensing_time"`` = per UTC date), or a
        pandas frequency applied to ``sensing_time`` (``"MS"``: per month).

    Returns
    -------
    CoverageTable
        A DataFrame showing its areas as ``5,731,907.2`` (not ``5.731907e+06``):
        ``tiles`` (rows in the group; with an AOI, those reaching into it),
        ``footprint_km2`` (sum of footprint areas), ``covered_km2`` (area of their
        union), ``overlap_km2`` (area covered by two or more footprints); with an AOI,
        also ``aoi_km2`` and ``covered_fraction``. Areas are on the WGS84 ellipsoid,
        computed in an equal-area projection without any union (see
        `byocframe.tools.depth.depth_areas`); groups run on parallel threads.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> tiles = gpd.GeoDataFrame(
    ...     {"path": ["a", "b"], "status": ["INGESTED"] * 2},
    ...     geometry=[shapely.box(0, 0, 1, 1), shapely.box(0.5, 0, 1.5, 1)], crs=4326)
    >>> coverage(tiles).round(0).iloc[0].to_dict()
    {'tiles': 2.0, 'footprint_km2': 24617.0, 'covered_km2': 18463.0, 'overlap_km2': 6154.0}
    """
    if aoi is None:
        region = None
        geoms = equal_area_geometries(frame)
    else:
        lonlat = aoi_geometry(aoi)
        region = project(np.array([lonlat]))[0]
        geoms = near_aoi(frame, lonlat)
    labels = group_labels(frame, by)
    groups = labels.groupby(labels, sort=True, dropna=False).indices
    keys = list(groups)
    region_wkb = None if region is None else shapely.to_wkb(region)

    def group_batches(key: Any) -> tuple[list[np.ndarray], int, float]:
        # each thread reads its own copy of the AOI: GEOS geometries cache lazily
        own_region = None if region_wkb is None else shapely.from_wkb(region_wkb)
        return footprint_batches(geoms[groups[key]], own_region)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # numpy, GEOS free the GIL
        prepared = list(pool.map(group_batches, keys))
        owner = [i for i, (batches, _, _) in enumerate(prepared) for _ in batches]
        # covered once or more, twice or more: deeper levels are not walked
        count = functools.partial(depth_areas, deepest=2)
        levels = pool.map(count, [b for batches, _, _ in prepared for b in batches])
        depth = np.zeros((len(keys), 2))  # covered once or more, twice or more
        for i, level in zip(owner, levels, strict=True):
            depth[i] += np.pad(level, (0, 2))[:2]
    rows = []
    for i, key in enumerate(keys):
        _, touching, footprint = prepared[i]
        row = {
            "tiles": touching if region is not None else len(groups[key]),
            "footprint_km2": footprint / 1e6,
            "covered_km2": depth[i, 0] / 1e6,
            "overlap_km2": depth[i, 1] / 1e6,
        }
        if region is not None:
            row["aoi_km2"] = region.area / 1e6
            row["covered_fraction"] = depth[i, 0] / region.area
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(keys, name=labels.name))
    if out.empty:
        out = pd.DataFrame(columns=["tiles", "footprint_km2", "covered_km2", "overlap_km2"])
    out["tiles"] = out["tiles"].astype("int64")
    return CoverageTable(out)


def gaps(frame: gpd.GeoDataFrame, aoi: AoiLike, *, by: str | None = None) -> gpd.GeoDataFrame:
    """The parts of an area of interest that no footprint covers, per group.

    Parameters
    ----------
    frame : GeoDataFrame
    aoi : see `aoi_geometry`
    by : str, optional
        As in `coverage`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per group (EPSG:4326), with ``area_km2``; empty geometry where the AOI is
        fully covered.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> tiles = gpd.GeoDataFrame({"path": ["a"], "status": ["INGESTED"]},
    ...                          geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    >>> hole = gaps(tiles, (0, 0, 2, 1))
    >>> [round(v, 6) for v in hole.geometry.iloc[0].bounds], round(hole["area_km2"].iloc[0])
    ([1.0, 0.0, 2.0, 1.0], 12308)
    """
    lonlat = aoi_geometry(aoi)
    region = project(np.array([lonlat]))[0]
    geoms = near_aoi(frame, lonlat)
    labels = group_labels(frame, by)
    keys, shapes, areas = [], [], []
    for key, index in labels.groupby(labels, sort=True, dropna=False).indices.items():
        present = geoms[index]
        present = present[~shapely.is_missing(present)]
        covered = robust(shapely.union_all, clip(present, region))
        hole = robust(shapely.difference, region, covered)
        keys.append(key)
        shapes.append(hole)
        areas.append(hole.area / 1e6)
    lonlat = project(np.array(shapes, dtype=object), inverse=True)
    return gpd.GeoDataFrame(
        {"area_km2": areas},
        geometry=list(lonlat),
        crs="EPSG:4326",
        index=pd.Index(keys, name=labels.name),
    )


def overlaps(
    frame: gpd.GeoDataFrame, *, within: str | None = "date", min_km2: float = 0.01
) -> gpd.GeoDataFrame:
    """Pairs of footprints that overlap, e.g. the same footprint ingested twice.

    Parameters
    ----------
    frame : GeoDataFrame
    within : {"date", None} or column name
        Compare only tiles of the same UTC sensing date (default), of the same value of
        a column, or all pairs (None).
    min_km2 : float
        Ignore overlaps smaller than this (shared edges, float noise).

    Returns
    -------
    geopandas.GeoDataFrame
        ``tile``, ``other``, ``overlap_km2``, ``fraction`` (of the smaller footprint;
        1.0 means one lies inside the other) and the overlap geometry (EPSG:4326).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> tiles = gpd.GeoDataFrame({"path": ["a", "b"], "status": ["INGESTED"] * 2},
    ...                          geometry=[shapely.box(0, 0, 1, 1)] * 2, crs=4326,
    ...                          index=["t1", "t2"])
    >>> overlaps(tiles, within=None)[["tile", "other", "fraction"]].to_dict("records")
    [{'tile': 't1', 'other': 't2', 'fraction': 1.0}]
    """
    geoms = equal_area_geometries(frame)
    present = np.flatnonzero(~shapely.is_missing(geoms))
    left, right = shapely.STRtree(geoms[present]).query(geoms[present], predicate="intersects")
    left, right = present[left], present[right]
    keep = left < right
    if within is not None:
        labels = group_labels(frame, "sensing_time" if within == "date" else within)
        values = labels.to_numpy()
        keep &= pd.Series(values[left]).eq(pd.Series(values[right])).to_numpy()
    left, right = left[keep], right[keep]
    shared = robust(shapely.intersection, geoms[left], geoms[right])
    area = shapely.area(shared)
    smaller = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    big = area >= min_km2 * 1e6
    index = frame.index.to_numpy()
    out = gpd.GeoDataFrame(
        {
            "tile": index[left[big]],
            "other": index[right[big]],
            "overlap_km2": area[big] / 1e6,
            "fraction": np.round(area[big] / smaller[big], 6),
        },
        geometry=list(project(shared[big], inverse=True)),
        crs="EPSG:4326",
    )
    return out.sort_values("overlap_km2", ascending=False, ignore_index=True)


# settings moved with the code: set here, they take effect there (byocframe.moved)
forward_settings(
    sys.modules[__name__],
    sys.modules["byocframe.tools.areas"],
    sys.modules["byocframe.tools.batching"],
    sys.modules["byocframe.tools.groups"],
    sys.modules["byocframe.tools.tables"],
)
