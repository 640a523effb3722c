"""Level of detail for large tile maps: merged cells at low zoom, tiles once zoomed in.

A page that draws every tile of a million-tile frame weighs ~220 MB and no browser
opens it usefully. Above `LevelOfDetail.threshold` tiles, `explore` writes instead:

* an **overview**: the equal-angle cells (``cell`` degrees) that the tiles touch, one
  layer per class, with the tile count and class mix of each cell in its popup; drawn
  without outlines, so touching cells read as merged footprints;
* the **tiles**, grouped by where they lie in squares of ``bucket`` degrees, each group
  gzip-compressed on its own (the browser inflates it with ``DecompressionStream``)
  and only when the view holds at most ``view_tiles`` tiles. Outlines of equal shape
  (the same grid cell on many dates) travel once per group; vertices are quantised to
  the page's precision and delta-encoded.

The design and the figures: ``docs/design/explore.md``.
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.exceptions import ValidationError

__all__ = ["DEFAULT_LOD", "MAX_OVERVIEW_CELLS", "LevelOfDetail", "lod_layer"]

#: Most (tile part, overview cell) pairs the overview counts, checked before they are
#: made (about 70 bytes of arrays each: 0.7 GB at the default). A tile touches 1-4 cells
#: of a degree, so a million tiles make a few million; covers spanning the globe (a
#: service's answer, or a frame edited so) make 64,800 each. Raise it
#: (``byocframe.maps.lod.MAX_OVERVIEW_CELLS = ...``), or draw with a larger
#: ``LevelOfDetail(cell=...)``.
MAX_OVERVIEW_CELLS = 10_000_000


@dataclass(frozen=True)
class LevelOfDetail:
    """When and how `explore` draws a large frame in levels of detail.

    Parameters
    ----------
    threshold : int, default 50 000
        Frames with more drawable tiles than this get the level-of-detail page; smaller
        ones draw every tile, as before. ``explore(lod=None)`` never switches.
    cell : float, default 1.0
        Side of the overview cells, in degrees of longitude and latitude.
    view_tiles : int, default 20 000
        The page draws tiles one by one only while the view holds at most this many
        (counted per group of tiles); with more, it shows the overview cells.
    bucket : float, default 4.0
        Side, in degrees, of the squares tiles are grouped (and loaded) by.

    Examples
    --------
    >>> LevelOfDetail(threshold=1_000).view_tiles
    20000
    >>> LevelOfDetail(cell=0)
    Traceback (most recent call last):
    ...
    ValueError: LevelOfDetail.cell must be a number of degrees in (0, 90], got 0; pass e.g. cell=1.0
    """

    threshold: int = 50_000
    cell: float = 1.0
    view_tiles: int = 20_000
    bucket: float = 4.0

    def __post_init__(self) -> None:
        default = {f.name: f.default for f in fields(self)}
        for name in ("threshold", "view_tiles"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(
                    f"LevelOfDetail.{name} must be an int >= 0, got {value!r}; "
                    f"pass e.g. {name}={default[name]}"
                )
        for name in ("cell", "bucket"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 90:
                raise ValueError(
                    f"LevelOfDetail.{name} must be a number of degrees in (0, 90], got "
                    f"{value!r}; pass e.g. {name}={default[name]}"
                )


#: The settings `explore` uses unless given ``lod=``.
DEFAULT_LOD = LevelOfDetail()


def lod_layer(
    geoms: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    fields: list[pd.Series],
    decimals: int,
    settings: LevelOfDetail,
) -> dict[str, Any]:
    """The level-of-detail part of a page layer: overview cells and compressed groups.

    Parameters
    ----------
    geoms : numpy.ndarray of Polygon or MultiPolygon
        The drawn footprints in longitude/latitude, simplified and oriented.
    codes : numpy.ndarray of int
        Each footprint's class (index into the layer's labels).
    n_classes : int
        Number of classes.
    fields : list of pandas.Series
        The popup and tooltip columns, aligned with ``geoms``.
    decimals : int
        Decimal places kept of each coordinate.
    settings : LevelOfDetail
        Cell and group sizes and the view's tile budget.

    Returns
    -------
    dict
        ``overview`` (cells and their per-class counts), ``groups`` (bounds, tile count
        and gzip+base64 data of each), ``view_tiles``.

    Examples
    --------
    >>> import shapely, numpy as np
    >>> squares = np.array([shapely.box(0.1, 0.1, 0.9, 0.9), shapely.box(2.2, 0.1, 2.8, 0.6)])
    >>> out = lod_layer(squares, np.array([0, 1]), 2, [], 3, LevelOfDetail(threshold=0))
    >>> len(out["groups"]), sum(g["n"] for g in out["groups"])
    (1, 2)
    """
    codes = np.asarray(codes, dtype=np.int64)
    return {
        "overview": _overview(geoms, codes, n_classes, settings.cell),
        "groups": _groups(geoms, codes, fields, decimals, settings.bucket),
        "view_tiles": settings.view_tiles,
    }


def _int32(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<i4").tobytes()).decode()


def _cell_ranges(bounds: np.ndarray, size: float) -> tuple[np.ndarray, ...]:
    """First and last cell column and row each box overlaps (not just touches)."""
    cols = int(np.ceil(360 / size))
    rows = int(np.ceil(180 / size))
    x0 = np.clip(np.floor((bounds[:, 0] + 180) / size), 0, cols - 1).astype(np.int64)
    x1 = np.clip(np.ceil((bounds[:, 2] + 180) / size) - 1, 0, cols - 1).astype(np.int64)
    y0 = np.clip(np.floor((bounds[:, 1] + 90) / size), 0, rows - 1).astype(np.int64)
    y1 = np.clip(np.ceil((bounds[:, 3] + 90) / size) - 1, 0, rows - 1).astype(np.int64)
    return x0, np.maximum(x1, x0), y0, np.maximum(y1, y0)


def _overview(geoms: np.ndarray, codes: np.ndarray, n_classes: int, size: float) -> dict[str, Any]:
    """The cells each class's tiles touch, and how many tiles of each class touch each."""
    cols = int(np.ceil(360 / size))
    if len(geoms) == 0:
        return {
            "cell": size,
            "cols": cols,
            "cells": _int32(np.zeros(0)),
            "counts": _int32(np.zeros(0)),
        }
    # parts, not whole footprints: a tile cut at the antimeridian has two small boxes,
    # where its own box would span the globe
    parts, tile = shapely.get_parts(geoms, return_index=True)
    x0, x1, y0, y1 = _cell_ranges(shapely.bounds(parts), size)
    width = x1 - x0 + 1
    per_part = width * (y1 - y0 + 1)
    total, limit = int(per_part.sum()), MAX_OVERVIEW_CELLS
    if total > limit:
        raise ValidationError(
            f"the overview of {len(geoms):,} footprints at {size:g}-degree cells would count "
            f"{total:,} (footprint, cell) pairs, more than {limit:,} "
            "(byocframe.maps.lod.MAX_OVERVIEW_CELLS; the widest footprint touches "
            f"{int(per_part.max()):,} cells): raise it, or pass lod=LevelOfDetail(cell=...) "
            "with larger cells"
        )
    owner = np.repeat(np.arange(len(parts)), per_part)
    k = np.arange(per_part.sum()) - np.repeat(np.cumsum(per_part) - per_part, per_part)
    cell = (y0[owner] + k // width[owner]) * cols + x0[owner] + k % width[owner]
    tile_of = tile[owner]
    # a tile counts once per cell, however many of its parts touch it (the cells of one
    # part are distinct: only tiles of several parts can repeat one)
    several = np.bincount(tile, minlength=len(geoms))[tile_of] > 1
    if several.any():
        pairs = np.unique(cell[several] * len(geoms) + tile_of[several])
        cell = np.concatenate([cell[~several], pairs // len(geoms)])
        tile_of = np.concatenate([tile_of[~several], pairs % len(geoms)])
    cells, where = np.unique(cell, return_inverse=True)
    counts = np.bincount(
        where * n_classes + codes[tile_of], minlength=len(cells) * n_classes
    ).reshape(len(cells), n_classes)
    return {"cell": size, "cols": cols, "cells": _int32(cells), "counts": _int32(counts.ravel())}


def _spans(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``starts[i]:ends[i]``."""
    lengths = ends - starts
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())


def _groups(
    geoms: np.ndarray, codes: np.ndarray, fields: list[pd.Series], decimals: int, size: float
) -> list[dict[str, Any]]:
    """The tiles in groups of ``size``-degree squares, each compressed on its own."""
    if len(geoms) == 0:
        return []
    scale = 10**decimals
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if len(offsets) == 2:  # only Polygons: one part per tile
        ring_off, part_off = offsets
        tile_off = np.arange(len(part_off))
    else:
        ring_off, part_off, tile_off = offsets
    # rings without their closing vertex: Leaflet closes polygons itself
    ends = ring_off[1:] - 1
    keep = np.ones(len(coords), dtype=bool)
    keep[ends] = False
    xy = np.round(coords[keep] * scale).astype(np.int64)
    ring_len = np.diff(ring_off) - 1
    ring_off = np.concatenate([[0], np.cumsum(ring_len)])
    rings_per_part = np.diff(part_off)
    parts_per_tile = np.diff(tile_off)
    c0 = ring_off[part_off[tile_off[:-1]]]
    c1 = ring_off[part_off[tile_off[1:]]]
    shape = _shape_ids(xy, ring_len, rings_per_part, c0, c1, part_off, tile_off)

    # a group per square of the point on each footprint: a tile lies in one group
    points = shapely.point_on_surface(geoms)
    gx = np.floor((shapely.get_x(points) + 180) / size).astype(np.int64)
    gy = np.floor((shapely.get_y(points) + 90) / size).astype(np.int64)
    group = gy * (int(np.ceil(360 / size)) + 1) + gx
    order = np.argsort(group, kind="stable")  # frame order inside a group: drawing order
    starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
    stops = np.r_[starts[1:], len(order)]
    boxes = _group_boxes(geoms, group, size)
    encoded = [_field_columns(series) for series in fields]
    out = []
    for start, stop in zip(starts, stops, strict=True):
        tiles = order[start:stop]
        # the first tile of each distinct outline carries it
        shapes, at, local = np.unique(shape[tiles], return_index=True, return_inverse=True)
        first = tiles[at]
        parts = _spans(tile_off[first], tile_off[first + 1])
        rings = _spans(part_off[parts], part_off[parts + 1])
        points_xy = xy[_spans(ring_off[rings], ring_off[rings + 1])]
        deltas = np.diff(points_xy, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        data: dict[str, Any] = {
            "x": deltas.ravel().tolist(),
            "r": ring_len[rings].tolist(),
            "p": rings_per_part[parts].tolist(),
            "g": parts_per_tile[first].tolist(),
            "c": codes[tiles].tolist(),
            "f": [encode(tiles) for encode in encoded],
        }
        if len(shapes) != len(tiles):
            data["i"] = local.tolist()
        text = json.dumps(data, separators=(",", ":")).encode()
        g = int(group[tiles[0]])
        out.append(
            {
                "b": boxes[g],
                "n": len(tiles),
                "z": base64.b64encode(gzip.compress(text, compresslevel=6, mtime=0)).decode(),
            }
        )
    return out


def _shape_ids(
    xy: np.ndarray,
    ring_len: np.ndarray,
    rings_per_part: np.ndarray,
    c0: np.ndarray,
    c1: np.ndarray,
    part_off: np.ndarray,
    tile_off: np.ndarray,
) -> np.ndarray:
    """One id per distinct outline: its exact vertices, rings per part and ring lengths.

    A tile's coordinates run from ``c0`` to ``c1``; its parts and rings are its slices of
    ``tile_off`` and ``part_off`` (the part count is the length of the part slice).
    """
    raw = np.ascontiguousarray(xy).tobytes()
    rings = np.ascontiguousarray(ring_len).tobytes()
    parts = np.ascontiguousarray(rings_per_part).tobytes()
    r0 = part_off[tile_off[:-1]]
    r1 = part_off[tile_off[1:]]
    keys = [
        raw[16 * a : 16 * b] + b"|" + rings[8 * c : 8 * d] + b"|" + parts[8 * e : 8 * f]
        for a, b, c, d, e, f in zip(
            c0.tolist(), c1.tolist(), r0.tolist(), r1.tolist(),
            tile_off[:-1].tolist(), tile_off[1:].tolist(), strict=True,
        )
    ]  # fmt: skip
    return pd.factorize(np.asarray(keys, dtype=object))[0]


def _group_boxes(geoms: np.ndarray, group: np.ndarray, size: float) -> dict[int, list[list[float]]]:
    """West, south, east, north of each group's parts, one box per square they fall in."""
    parts, tile = shapely.get_parts(geoms, return_index=True)
    bounds = shapely.bounds(parts)
    centre_x = (bounds[:, 0] + bounds[:, 2]) / 2
    centre_y = (bounds[:, 1] + bounds[:, 3]) / 2
    square = np.floor((centre_y + 90) / size) * (np.ceil(360 / size) + 1) + np.floor(
        (centre_x + 180) / size
    )
    table = pd.DataFrame(bounds, columns=["w", "s", "e", "n"])
    table["group"] = group[tile]
    table["square"] = square
    merged = table.groupby(["group", "square"]).agg(
        {"w": "min", "s": "min", "e": "max", "n": "max"}
    )
    out: dict[int, list[list[float]]] = {}
    for (g, _), row in zip(merged.index, merged.to_numpy().round(4).tolist(), strict=True):
        out.setdefault(int(g), []).append(row)
    return out


def _field_columns(series: pd.Series) -> Any:
    """A popup column, encoded per group: times as seconds, texts as a table and codes."""
    name = str(series.name)
    if pd.api.types.is_datetime64_any_dtype(series):
        utc = series.dt.tz_convert("UTC") if series.dt.tz is not None else series
        missing = utc.isna().to_numpy()
        epoch = pd.Timestamp(0, tz="UTC" if utc.dt.tz is not None else None)
        # whole seconds, as the plain page's "%Y-%m-%d %H:%M:%S UTC" shows them
        since = ((utc - epoch) / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=0)
        seconds = np.floor(since).astype(np.int64)

        def times(tiles: np.ndarray) -> dict[str, Any]:
            values = seconds[tiles]
            return {
                "n": name,
                "d": np.diff(values, prepend=0).tolist(),
                "z": np.flatnonzero(missing[tiles]).tolist(),
            }

        return times
    from byocframe.maps.page import texts

    codes, values = texts(series)

    def table(tiles: np.ndarray) -> dict[str, Any]:
        # np.unique sorts: a missing value (-1) comes first and keeps -1
        uniques, local = np.unique(codes[tiles], return_inverse=True)
        missing = int(uniques[0] < 0) if len(uniques) else 0
        return {
            "n": name,
            "k": (local - missing).tolist(),
            "v": [values[u] for u in uniques[missing:]],
        }

    return table
