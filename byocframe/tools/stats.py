"""Footprint statistics, always on the ellipsoid (geodesic) or in an equal-area CRS."""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod, Transformer

from byocframe.exceptions import ByocframeError
from byocframe.geo.crs import WGS84, parse_crs
from byocframe.geo.geometry import reproject
from byocframe.tools.depth import depth_areas, grid_cells
from byocframe.typing import AoiLike, GeometriesLike

__all__ = [
    "PERIODS",
    "CoverageTable",
    "aoi_geometry",
    "coverage",
    "format_number",
    "gaps",
    "geodesic_area",
    "overlaps",
]

#: Words ``by=`` takes for a period of ``sensing_time``, and the pandas frequency of each
#: (the periods start on their first day; a week ends on Sunday, as pandas' ``"W"``).
PERIODS = {
    "day": "D",
    "week": "W",
    "month": "MS",
    "quarter": "QS",
    "year": "YS",
}


def format_number(value: float) -> str:
    """Areas with thousands separators, fractions with 3 decimals; never ``5.731907e+06``.

    Examples
    --------
    >>> format_number(5731907.25), format_number(0.5)
    ('5,731,907.2', '0.500')
    """
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


class CoverageTable(pd.DataFrame):
    """The table `coverage` returns: a DataFrame whose areas display as ``5,731,907.2``.

    pandas shows any column holding a value over a million in scientific notation
    (``5.731907e+06``), in a notebook and when printed; this table shows its numbers
    with `format_number` instead. The values are the full floats; anything derived from
    the table (a selection, arithmetic) is a plain DataFrame.

    Examples
    --------
    >>> table = CoverageTable({"covered_km2": [5731907.25, 12.5]})
    >>> print(table)
       covered_km2
    0  5,731,907.2
    1         12.5
    """

    def __repr__(self) -> str:
        with pd.option_context("display.float_format", format_number):
            return super().__repr__()

    def _repr_html_(self) -> str | None:
        with pd.option_context("display.float_format", format_number):
            return super()._repr_html_()


_GEOD = Geod(ellps="WGS84")


def geodesic_area(geoms: GeometriesLike, *, unit: str = "km2") -> pd.Series:
    """Geodesic area of each footprint on the WGS84 ellipsoid (Karney's algorithm).

    Right for footprints cut at the antimeridian and for polar caps: the area is summed
    over the parts of each geometry after orienting every ring, never in square degrees.

    Parameters
    ----------
    geoms : GeoSeries, GeoDataFrame or array of shapely geometries
        Footprints. A GeoSeries / GeoDataFrame in another CRS is reprojected to
        EPSG:4326 first; plain arrays are taken as lon/lat.
    unit : {"km2", "m2"}
        Unit of the result.

    Returns
    -------
    pandas.Series
        Float areas (NaN where there is no geometry), on the input's index.

    Examples
    --------
    >>> import shapely
    >>> # one degree by one degree at the equator: about 12 309 km2
    >>> round(geodesic_area([shapely.box(0, 0, 1, 1)]).iloc[0])
    12309
    """
    if unit not in ("km2", "m2"):
        raise ValueError(f"unit must be 'km2' or 'm2', got {unit!r}")
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    if isinstance(geoms, gpd.GeoSeries):
        index = geoms.index
        if geoms.crs is not None and not geoms.crs.equals("EPSG:4326"):
            geoms = geoms.to_crs("EPSG:4326")
        values = np.asarray(geoms.array, dtype=object)
    else:
        values = np.asarray(list(geoms), dtype=object)
        index = pd.RangeIndex(len(values))
    oriented = shapely.orient_polygons(values)
    areas = np.full(len(values), np.nan)
    for i, geom in enumerate(oriented):
        if geom is not None and not geom.is_empty:
            areas[i] = _GEOD.geometry_area_perimeter(geom)[0]
    scale = 1e-6 if unit == "km2" else 1.0
    return pd.Series(areas * scale, index=index, name=f"area_{unit}")


# --------------------------------------------------------------------------- statistics
#: Lambert cylindrical equal-area on the WGS84 ellipsoid: planar areas here are true
#: ellipsoidal areas, and parallels / meridians (grid cells, bounding boxes) are
#: straight lines, so clipping footprints to cells is exact.
EQUAL_AREA = "+proj=cea +lon_0=0 +lat_ts=0 +ellps=WGS84 +units=m +no_defs"
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
_DENSIFY_DEGREES = 0.1  # lon/lat edges of AOIs are densified before projecting
_GRID = 0.01  # metres: the snapping grid of an overlay retried after a topology error


@functools.lru_cache(maxsize=2)
def _to_equal_area(inverse: bool = False) -> Transformer:
    src, dst = ("EPSG:4326", EQUAL_AREA) if not inverse else (EQUAL_AREA, "EPSG:4326")
    return Transformer.from_crs(src, dst, always_xy=True)


def _project(geoms: np.ndarray, inverse: bool = False) -> np.ndarray:
    transformer = _to_equal_area(inverse)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), fn)


def equal_area_geometries(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    """Footprints in the equal-area CRS (None where a tile has no geometry)."""
    geoms = _lonlat(frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame)
    values = np.array(geoms.array, dtype=object)  # a copy: empty ones become None
    values[shapely.is_empty(values)] = None
    return _project(values)


def _lonlat(geoms: gpd.GeoSeries) -> gpd.GeoSeries:
    """Footprints in lon/lat, cut at the antimeridian and capped at the poles.

    A frame loaded in another CRS (``read_tiles(crs="EPSG:3035")``) is drawn back with
    byocframe's own reprojection: geopandas' ``to_crs`` leaves a footprint across the
    antimeridian as one polygon around the world, which no area can be counted on.
    """
    if geoms.crs is None or geoms.crs.equals("EPSG:4326"):
        return geoms
    try:
        code = parse_crs(geoms.crs)
    except ByocframeError:  # no EPSG code: geopandas' way
        return geoms.to_crs("EPSG:4326")
    values = np.asarray(geoms.array, dtype=object)
    drawn = reproject(values, np.full(len(values), code, dtype=object), WGS84)
    return gpd.GeoSeries(drawn, index=geoms.index, crs="EPSG:4326")


def _near_aoi(frame: gpd.GeoDataFrame, aoi: shapely.Geometry) -> np.ndarray:
    """Equal-area footprints of the tiles whose lon/lat bounds meet the AOI's parts' bounds.

    The others are None: they cannot touch the AOI (the equal-area projection keeps
    meridians and parallels straight, so a footprint stays inside its projected
    bounding box), and projecting them would cost more than all the rest of the call.
    """
    geoms = _lonlat(frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame)
    xmin, ymin, xmax, ymax = shapely.bounds(np.asarray(geoms.array, dtype=object)).T
    near = np.zeros(len(geoms), dtype=bool)
    for west, south, east, north in shapely.bounds(shapely.get_parts(aoi)):
        near |= (xmin <= east) & (xmax >= west) & (ymin <= north) & (ymax >= south)
    out = np.full(len(geoms), None, dtype=object)
    out[near] = equal_area_geometries(geoms[near])
    return out


def aoi_geometry(aoi: AoiLike) -> shapely.Geometry:
    """Read an area of interest into one valid lon/lat geometry inside [-180, 180].

    Parameters
    ----------
    aoi : shapely geometry, GeoSeries, GeoDataFrame or (west, south, east, north)
        A shapely geometry is taken as WGS84 lon/lat; a GeoSeries / GeoDataFrame is
        reprojected from its CRS; a bounding box with ``west > east`` crosses the
        antimeridian. Longitudes beyond +-180 are wrapped.

    Examples
    --------
    >>> aoi_geometry((170, -20, -170, -10)).bounds  # across the antimeridian
    (-180.0, -20.0, 180.0, -10.0)
    """
    if isinstance(aoi, gpd.GeoDataFrame | gpd.GeoSeries):
        series = aoi.geometry if isinstance(aoi, gpd.GeoDataFrame) else aoi
        if series.crs is None:
            raise ValueError("the AOI GeoSeries / GeoDataFrame has no CRS; set one first")
        geom = shapely.union_all(series.to_crs("EPSG:4326").array)
    elif isinstance(aoi, shapely.Geometry):
        geom = aoi
    elif isinstance(aoi, tuple | list) and len(aoi) == 4:
        west, south, east, north = (float(v) for v in aoi)
        if not (-90 <= south < north <= 90):
            raise ValueError(f"AOI south/north must satisfy -90 <= south < north <= 90: {aoi}")
        if east <= west:
            east += 360.0  # across the antimeridian
        geom = shapely.box(west, south, east, north)
    else:
        raise TypeError(
            "aoi must be a shapely geometry (WGS84), a GeoSeries/GeoDataFrame with a CRS, "
            f"or a (west, south, east, north) tuple; got {type(aoi).__name__}"
        )
    geom = shapely.segmentize(geom, _DENSIFY_DEGREES)
    polygons = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise ValueError(f"the AOI must be polygonal, got {geom.geom_type}")
    out = reproject(np.array([shapely.union_all(polygons)]), np.array([WGS84]), densify=None)[0]
    if out is None or out.is_empty:
        raise ValueError("the AOI is empty")
    return out


def group_labels(frame: pd.DataFrame, by: str | None) -> pd.Series:
    """The group of each row for ``by``: None (one group), a column, or a frequency.

    ``"sensing_time"`` (or ``"date"``) groups by UTC date; a period (``"day"``,
    ``"week"``, ``"month"``, ``"quarter"``, ``"year"``, plural or ``-ly`` too, see
    `PERIODS`) or a pandas frequency such as ``"MS"`` or ``"W"`` bins ``sensing_time``.

    Examples
    --------
    >>> frame = pd.DataFrame({"sensing_time": pd.to_datetime(
    ...     ["2024-06-03T10:00Z", "2024-06-28T10:00Z", "2024-07-01T10:00Z"])})
    >>> [f"{t:%Y-%m-%d}" for t in group_labels(frame, "month")]
    ['2024-06-01', '2024-06-01', '2024-07-01']
    """
    if by is None:
        return pd.Series("all", index=frame.index, name="group")
    if by == "sensing_time" or by == "date":
        times = frame["sensing_time"]
        return times.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().rename("date")
    if by in frame.columns:
        return frame[by].rename(by)
    try:
        offset = pd.tseries.frequencies.to_offset(_period(by))
    except ValueError:
        raise ValueError(
            f"by={by!r} is neither a column nor a pandas frequency (e.g. 'D', 'W', 'MS') "
            f"nor a period ({', '.join(PERIODS)})"
        ) from None
    times = frame["sensing_time"].dt.tz_convert("UTC").dt.tz_localize(None)
    bins = pd.DataFrame({"t": times.to_numpy()}).groupby(pd.Grouper(key="t", freq=offset))
    labels = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]")
    for key, positions in bins.indices.items():
        labels[positions] = np.datetime64(key, "us")
    return pd.Series(labels, index=frame.index, name="period")


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


def _robust(operation: Any, *args: Any) -> Any:
    """Run a GEOS overlay; on a topology error, again on a fine snapping grid."""
    try:
        return operation(*args)
    except shapely.errors.GEOSException:
        return operation(*args, grid_size=_GRID)


def _clip(geoms: np.ndarray, aoi: shapely.Geometry) -> np.ndarray:
    """The footprints' parts inside the AOI (footprints outside it are dropped).

    Only footprints that cross the AOI's outline go through an overlay: an AOI can have
    thousands of vertices (a densified world or country), and overlays pay for them.
    """
    shapely.prepare(aoi)
    touching = shapely.intersects(aoi, geoms)
    crossing = touching & ~shapely.contains_properly(aoi, geoms)
    parts = geoms.copy()
    parts[crossing] = _robust(shapely.intersection, geoms[crossing], aoi)
    parts = parts[touching]
    return parts[~shapely.is_empty(parts) & (shapely.area(parts) > 0)]


def _batches(
    geoms: np.ndarray, aoi: shapely.Geometry | None
) -> tuple[list[np.ndarray], int, float]:
    """One group's footprints (inside the AOI) in batches whose depth areas add up.

    A large group is cut along the cells, which bounds the memory, keeps the arrays in
    the processor's cache and lets one group use every core. Also returns how many
    footprints there are and the sum of their areas.
    """
    present = geoms[~shapely.is_missing(geoms)]
    if aoi is not None:
        present = _clip(present, aoi)
    footprint = float(shapely.area(present).sum())
    if len(present) <= _MAX_AT_ONCE:
        return [present], len(present), footprint
    return _in_batches(*_cells(present)), len(present), footprint


def _period(by: str) -> str:
    """``"month"``, ``"months"``, ``"monthly"`` as ``"MS"``; anything else unchanged."""
    word = by.strip().lower()
    for suffix in ("ly", "s", ""):
        stem = word.removesuffix(suffix) if suffix else word
        if stem in PERIODS:
            return PERIODS[stem]
    return "D" if word == "daily" else by


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
        region = _project(np.array([lonlat]))[0]
        geoms = _near_aoi(frame, lonlat)
    labels = group_labels(frame, by)
    groups = labels.groupby(labels, sort=True, dropna=False).indices
    keys = list(groups)
    region_wkb = None if region is None else shapely.to_wkb(region)

    def group_batches(key: Any) -> tuple[list[np.ndarray], int, float]:
        # each thread reads its own copy of the AOI: GEOS geometries cache lazily
        own_region = None if region_wkb is None else shapely.from_wkb(region_wkb)
        return _batches(geoms[groups[key]], own_region)

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
    region = _project(np.array([lonlat]))[0]
    geoms = _near_aoi(frame, lonlat)
    labels = group_labels(frame, by)
    keys, shapes, areas = [], [], []
    for key, index in labels.groupby(labels, sort=True, dropna=False).indices.items():
        present = geoms[index]
        present = present[~shapely.is_missing(present)]
        covered = _robust(shapely.union_all, _clip(present, region))
        hole = _robust(shapely.difference, region, covered)
        keys.append(key)
        shapes.append(hole)
        areas.append(hole.area / 1e6)
    lonlat = _project(np.array(shapes, dtype=object), inverse=True)
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
    shared = _robust(shapely.intersection, geoms[left], geoms[right])
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
        geometry=list(_project(shared[big], inverse=True)),
        crs="EPSG:4326",
    )
    return out.sort_values("overlap_km2", ascending=False, ignore_index=True)
