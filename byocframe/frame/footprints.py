"""A listing's cover and tile geometries: read, kept as WKB, and shown in one CRS.

`tiles_from_records` reads the GeoJSON of every tile, keeps it as received (WKB, see
`byocframe.frame.native`) and reprojects it for display. The work goes in chunks of
`CHUNK_SIZE` tiles, so the transient arrays of densifying and reprojecting (~5 KB a
tile) stay bounded whatever the size of the listing; a tile geometry that repeats (a
mosaic's grid cell on every date) is reprojected once for the whole listing and shown by
one shared shapely object, whichever chunk it comes in.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.exceptions import ByocframeWarning
from byocframe.frame.native import native_codes, native_geometries
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.settings import Drawing, drawing
from byocframe.geo.crs import WGS84
from byocframe.geo.geojson import parse_geojson
from byocframe.geo.geometry import reproject, reproject_parsed

__all__ = ["CHUNK_SIZE", "Footprints", "read_footprints", "redraw_tiles", "tile_groups"]

#: Tiles whose geometries are read and reprojected at once. It bounds the build's
#: transient memory (~5 KB a tile at the default densifying); lower it on a small
#: machine. 10,000 to 20,000 was the fastest in ``benchmarks/bench_frame_scale.py``: 12 %
#: less CPU than 100,000 at 100,000 tiles (a chunk's arrays stay in the caches).
CHUNK_SIZE = 20_000


@dataclass
class Footprints:
    """Each tile's cover and tile geometry, as received and as shown.

    ``cover_wkb`` / ``tile_wkb`` hold the geometries as received (WKB bytes or None),
    ``native_crs`` their ``"EPSG:<code>"`` (the tile geometry's, else the cover's),
    ``cover`` / ``tile`` them reprojected into the target CRS (shapely or None), and
    ``problems`` maps (position, wire name) to what is wrong with a geometry.
    """

    cover_wkb: np.ndarray
    tile_wkb: np.ndarray
    native_crs: np.ndarray
    cover: np.ndarray
    tile: np.ndarray
    problems: dict[tuple[int, str], str] = field(default_factory=dict)


def read_footprints(
    recs: Sequence[Mapping[str, Any]],
    target: str,
    *,
    densify: float | None,
    tolerance: float | None = None,
    chunk_size: int | None = None,
) -> Footprints:
    """Read and reproject the ``coverGeometry`` and ``tileGeometry`` of every record.

    Parameters
    ----------
    recs : sequence of dict
        API-shaped tile records.
    target : str
        ``"EPSG:<code>"`` to show the geometries in.
    densify, tolerance : float or None
        How edges are densified before reprojecting (see `byocframe.geo.geometry.reproject`).
    chunk_size : int, optional
        Tiles read at once; `CHUNK_SIZE` by default.

    Examples
    --------
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> feet = read_footprints(synthetic_tiles(4, seed=1), "EPSG:4326", densify=10_000.0)
    >>> feet.cover[0].geom_type, feet.native_crs[0].startswith("EPSG:")
    ('MultiPolygon', True)
    """
    size = CHUNK_SIZE if chunk_size is None else int(chunk_size)
    if size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size!r}")
    n = len(recs)
    out = Footprints(
        cover_wkb=np.full(n, None, dtype=object),
        tile_wkb=np.full(n, None, dtype=object),
        native_crs=np.full(n, None, dtype=object),
        cover=np.full(n, None, dtype=object),
        tile=np.full(n, None, dtype=object),
    )
    shown: dict[tuple[Any, bytes], Any] = {}  # (CRS, WKB) of a tile geometry -> as shown
    drawn: Drawing = {"densify": densify, "tolerance": tolerance}
    for start in range(0, n, size):
        _read_chunk(recs, start, min(start + size, n), target, drawn, out, shown)
    for drawn_geoms in (out.cover, out.tile):  # nothing left where the target has no room
        drawn_geoms[shapely.is_empty(drawn_geoms)] = None
    lost = shapely.is_missing(out.cover) & ~pd.isna(out.cover_wkb)
    if lost.any():  # a cover the target CRS cannot draw: said, not left unseen
        first = recs[int(np.flatnonzero(lost)[0])]
        tid = first.get("id") if isinstance(first, Mapping) else None
        warnings.warn(
            f"{int(lost.sum()):,} of {n:,} tiles' covers cannot be drawn in {target} (e.g. "
            f"tile {tid!r}: they lie where it is not defined) and have no geometry: load "
            "them in EPSG:4326 (the default) or a CRS that covers them",
            ByocframeWarning,
            stacklevel=3,
        )
    return out


def _read_chunk(
    recs: Sequence[Mapping[str, Any]],
    start: int,
    stop: int,
    target: str,
    drawn: Drawing,
    out: Footprints,
    shown: dict[tuple[Any, bytes], Any],
) -> None:
    rows = slice(start, stop)
    cover = parse_geojson([recs[i].get("coverGeometry") for i in range(start, stop)])
    tile = parse_geojson([recs[i].get("tileGeometry") for i in range(start, stop)])
    for wire, parsed in (("coverGeometry", cover), ("tileGeometry", tile)):
        for pos, msg in parsed.problems.items():
            out.problems[(start + pos, wire)] = msg
    cover_wkb = shapely.to_wkb(cover.geoms)
    tile_wkb = shapely.to_wkb(tile.geoms)
    keys = [
        None if blob is None else (code, blob)
        for code, blob in zip(tile.crs.tolist(), tile_wkb.tolist(), strict=True)
    ]
    new: dict[tuple[Any, bytes], int] = {}
    for pos, key in enumerate(keys):
        if key is not None and key not in shown and key not in new:
            new[key] = pos
    first = np.fromiter(new.values(), dtype=np.int64, count=len(new))
    # one after the other, on this thread: shapely.is_valid switches warnings off and on
    # around its work (warnings.catch_warnings), which is not thread-safe before Python
    # 3.14: two threads doing it at once can leave every warning of the process ignored
    if len(first):
        tiles = reproject(tile.geoms[first], tile.crs[first], target, **drawn)
        shown.update(zip(new, tiles, strict=True))
    out.cover[rows] = reproject_parsed(cover, target, **drawn)
    out.tile[rows] = [None if key is None else shown[key] for key in keys]
    out.cover_wkb[rows] = cover_wkb
    out.tile_wkb[rows] = tile_wkb
    out.native_crs[rows] = np.where(np.array([c is None for c in tile.crs]), cover.crs, tile.crs)


def redraw_tiles(frame: pd.DataFrame, target: str) -> np.ndarray:
    """``tile_geometry`` as loading draws it: ``native_tile`` reprojected into ``target``.

    Drawn with the frame's own settings (`byocframe.frame.settings.drawing`). A footprint
    repeats on every date: each distinct (WKB, CRS) pair is decoded and reprojected
    once, found on the bytes without decoding the others.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(20, seed=1))
    >>> redrawn = redraw_tiles(gdf, "EPSG:4326")
    >>> bool(shapely.equals_exact(redrawn, gdf["tile_geometry"].array, tolerance=0).sum() > 10)
    True
    """
    n = len(frame)
    out = np.full(n, None, dtype=object)
    groups = tile_groups(frame)
    present = np.flatnonzero(groups >= 0)
    if len(present):
        drawn = drawing(frame.attrs.get(ATTRS_KEY, {}))
        _, first, inverse = np.unique(groups[present], return_index=True, return_inverse=True)
        rows = present[first]
        native_tile = native_geometries(frame.iloc[rows], "native_tile")
        crs = _native_crs(frame)[rows]
        distinct = reproject(native_tile, crs, target, **drawn)
        out[present] = np.asarray(distinct, dtype=object)[inverse.ravel()]
    return out


def tile_groups(frame: pd.DataFrame) -> np.ndarray:
    """A code per row, the same for the same ``native_tile`` bytes in the same ``native_crs``.

    -1 where the row has no native tile. Rows of one code draw the same ``tile_geometry``
    (a grid cell on every date); found on the WKB bytes, nothing decoded.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(20, seed=1))
    >>> codes = tile_groups(gdf)
    >>> bool(len(set(codes.tolist())) < len(gdf))  # cells repeat across dates
    True
    """
    n = len(frame)
    if "native_tile" not in frame.columns or "native_crs" not in frame.columns or n == 0:
        return np.full(n, -1, dtype=np.int64)
    wkb_codes = native_codes(frame, "native_tile")
    present = np.flatnonzero(wkb_codes >= 0)
    out = np.full(n, -1, dtype=np.int64)
    if len(present):
        crs_codes, crs_names = pd.factorize(_native_crs(frame)[present])
        pairs = wkb_codes[present].astype(np.int64) * len(crs_names) + crs_codes
        out[present] = pd.factorize(pairs)[0]
    return out


def _native_crs(frame: pd.DataFrame) -> np.ndarray:
    # to_numpy, not np.asarray: numpy's probe of a Series' attributes makes pandas hash
    # its whole index (0.4-0.8 s for a million ids, in a read that needs no look-up)
    return frame["native_crs"].astype(object).fillna(WGS84).to_numpy(dtype=object)
