"""A listing's cover and tile geometries: read, kept as WKB, and shown in one CRS.

`tiles_from_records` reads the GeoJSON of every tile, keeps it as received (WKB, see
`byocframe.frame.native`) and reprojects it for display. The work goes in chunks of
`CHUNK_SIZE` tiles, so the transient arrays of densifying and reprojecting (~5 KB a
tile) stay bounded whatever the size of the listing; a tile geometry that repeats (a
mosaic's grid cell on every date) is reprojected once for the whole listing and shown by
one shared shapely object, whichever chunk it comes in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from byocframe.frame.snapshot import Drawing
from byocframe.geo.geojson import parse_geojson
from byocframe.geo.geometry import reproject, reproject_parsed

__all__ = ["CHUNK_SIZE", "Footprints", "read_footprints"]

#: Tiles whose geometries are read and reprojected at once. It bounds the build's
#: transient memory (~5 KB a tile at the default densifying); raise it for a little
#: speed on a machine with memory to spare, lower it on a small one.
CHUNK_SIZE = 100_000


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
