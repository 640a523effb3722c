"""Files to tiles by a tile pattern: each file's tile, band and sensing time, and the tiles.

A tile pattern (see `byocframe.read_bucket`) is a regular expression over the object keys
with a ``(BAND)`` placeholder where the band's name is, and named groups for the sensing
time. `assign_tiles` gives each file of a files frame its tile path, band and sensing
time; `group_tiles` makes the candidate tiles a collection would have, with footprints
reprojected by `byocframe.geo.geometry.reproject`. Inferring a pattern and refusing one
that matches too little is `byocframe.bucket.patterns`.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.frame.native import native_column
from byocframe.geo.crs import WGS84, parse_crs
from byocframe.geo.geometry import reproject

__all__ = ["assign_tiles", "compile_pattern", "group_tiles"]

_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)
_TIME_PARTS = ("year", "month", "day", "hour", "minute", "second")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a tile pattern, ``(BAND)`` becoming a ``band`` group."""
    if "(BAND)" not in pattern:
        raise ValueError(
            f"pattern {pattern!r} has no (BAND) placeholder; write it where the band's "
            "name is, e.g. r'tiles/(?P<year>\\d{4})/(?P<month>\\d\\d)/(?P<day>\\d\\d)/(BAND)\\.tif'"
        )
    before, after = pattern.split("(BAND)", 1)
    try:
        return re.compile(f"{before}(?P<band>[^/]+?){after}")
    except re.error as err:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {err}") from err


def assign_tiles(files: pd.DataFrame, pattern: str) -> pd.DataFrame:
    """``files`` with ``tile`` (the tile path), ``band`` and ``sensing_time`` columns.

    Files the pattern does not match get NA in all three.
    """
    regex = compile_pattern(pattern)
    out = files.copy()
    raw: list[str | None] = []
    bands: list[str | None] = []
    parts: list[dict[str, str | None]] = []
    for key in out["key"]:
        match = regex.fullmatch(str(key))
        if match is None:
            raw.append(None)
            bands.append(None)
            parts.append({})
            continue
        start, end = match.span("band")
        raw.append(key[:start] + "(BAND)" + key[end:])
        bands.append(match["band"])
        parts.append(match.groupdict())
    out["tile"] = pd.array(_tile_paths(raw), dtype="string")
    out["band"] = pd.array(bands, dtype="string")
    out["sensing_time"] = _sensing_times(parts)
    return out


def _tile_paths(raw: list[str | None]) -> list[str | None]:
    """One path per tile although its files' extensions differ in case or spelling.

    ``B01.tif`` and ``B02.TIF`` belong to one tile (whose files break the extension
    rule), written with the extension most files of the bucket use.
    """
    keys = [None if p is None else _TIFF.sub(".tif", p) for p in raw]
    counts = pd.Series([_ext_of(p) for p in raw if p and _ext_of(p)]).value_counts()
    rank = {ext: pos for pos, ext in enumerate(counts.index)}
    chosen: dict[str, str] = {}
    for key, path in zip(keys, raw, strict=True):
        if key is None or path is None:
            continue
        ext = _TIFF.search(path)
        best = chosen.get(key)
        if best is None or (ext and rank.get(ext[0], 99) < rank.get(_ext_of(best), 99)):
            chosen[key] = path
    return [None if key is None else chosen[key] for key in keys]


def _ext_of(path: str) -> str:
    found = _TIFF.search(path)
    return found[0] if found else ""


def _sensing_times(parts: list[dict[str, str | None]]) -> pd.Series:
    names = set().union(*parts) if parts else set()
    if "sensing_time" in names:
        return pd.Series(
            pd.to_datetime([p.get("sensing_time") for p in parts], utc=True),
            dtype="datetime64[ns, UTC]",
        )
    present = [name for name in _TIME_PARTS if name in names]
    if not present or "year" not in present:
        return pd.Series(pd.NaT, index=range(len(parts)), dtype="datetime64[ns, UTC]")
    table = pd.DataFrame({name: pd.to_numeric([p.get(name) for p in parts]) for name in present})
    for name in ("month", "day"):
        if name not in table:
            table[name] = 1
    return pd.Series(pd.to_datetime(table, utc=True), dtype="datetime64[ns, UTC]")


def group_tiles(files: pd.DataFrame, pattern: str, *, crs: str = WGS84) -> gpd.GeoDataFrame:
    r"""Group a files frame into candidate tiles by a path pattern.

    Parameters
    ----------
    files : pandas.DataFrame
        From `read_bucket` (without ``pattern``).
    pattern : str
        See `read_bucket`.
    crs : str, default "EPSG:4326"
        The CRS of the footprints.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per tile path: ``path``, ``sensing_time``, ``status`` (NA: not a tile
        yet), ``native_crs``, ``bands`` (band names, comma-separated), ``files``,
        ``native_tile`` (the files' common bounding box in their CRS) and ``geometry``,
        the footprint in ``crs`` (antimeridian and poles handled).

    Examples
    --------
    >>> from byocframe.bucket.files import files_from_headers
    >>> files = files_from_headers([
    ...     {"key": f"t/2024/06/01/{b}.tif", "crs": "EPSG:32601", "xmin": 600000.0,
    ...      "ymin": 7300000.0, "xmax": 900000.0, "ymax": 7400000.0} for b in ("B02", "B03")])
    >>> tiles = group_tiles(files, r"t/(?P<year>\d+)/(?P<month>\d+)/(?P<day>\d+)/(BAND)\.tif")
    >>> tiles[["path", "bands"]].values.tolist()
    [['t/2024/06/01/(BAND).tif', 'B02,B03']]
    >>> tiles.geometry.iloc[0].geom_type  # across the antimeridian: cut in two
    'MultiPolygon'
    """
    target = parse_crs(crs)
    assigned = assign_tiles(files, pattern).dropna(subset=["tile"])
    groups = assigned.groupby("tile", sort=True)
    first = groups.first()
    boxes = groups.agg(
        xmin=("xmin", "min"), ymin=("ymin", "min"), xmax=("xmax", "max"), ymax=("ymax", "max")
    )
    native = shapely.box(boxes["xmin"], boxes["ymin"], boxes["xmax"], boxes["ymax"])
    tile_crs = first["crs"].astype(object).to_numpy()
    usable = pd.notna(tile_crs) & ~shapely.is_missing(native) & shapely.is_valid(native)
    native = np.where(usable, native, None)
    footprint = np.full(len(native), None, dtype=object)
    if usable.any():
        footprint[usable] = reproject(native[usable], tile_crs[usable], target)
    index = pd.RangeIndex(len(first))
    status = pd.Categorical(
        [None] * len(first), categories=["WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED"]
    )
    frame = gpd.GeoDataFrame(
        {
            "path": pd.array(first.index.to_numpy(), dtype="string"),
            "sensing_time": first["sensing_time"].to_numpy(),
            "status": status,
            "native_crs": pd.array(tile_crs, dtype="string"),
            "bands": pd.array(
                groups["band"].agg(lambda s: ",".join(sorted(s))).to_numpy(), dtype="string"
            ),
            "files": groups.size().to_numpy(),
            "native_tile": native_column(native, index),
        },
        geometry=gpd.GeoSeries(footprint, index=index, crs=target),
        index=index,
    )
    frame.attrs["byocframe"] = {"kind": "bucket_tiles", "pattern": pattern}
    return frame
