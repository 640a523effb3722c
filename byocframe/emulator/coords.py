"""Coordinates of wire polygons (lists of rings of ``[x, y]``) and their CRS transforms.

The service stores every cover in CRS84 and shows it in the tile's CRS; validation,
storage, ingestion and rendering all move MultiPolygon coordinate lists between the two.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from pyproj import Transformer

__all__ = ["Polygons", "bbox", "box_rings", "transform_many", "transform_polygons"]

#: MultiPolygon coordinates: polygons of rings of ``[x, y]`` positions.
Polygons = list[list[list[list[float]]]]


@functools.lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def transform_polygons(polygons: list[Any], src: str, dst: str) -> Polygons:
    """Transform MultiPolygon coordinates vertex by vertex, as the service does.

    Examples
    --------
    >>> ring = [[500000, 0], [500001, 0], [500000, 1], [500000, 0]]
    >>> x, y = transform_polygons([[ring]], "EPSG:32633", "EPSG:4326")[0][0][0]
    >>> round(x, 9), round(y, 9)
    (15.0, 0.0)
    """
    if src == dst:
        return polygons
    flat = [pos for poly in polygons for ring in poly for pos in ring]
    if not flat:
        return [[[] for _ in poly] for poly in polygons]
    xy = np.asarray(flat, dtype=float)
    x, y = _transformer(src, dst).transform(xy[:, 0], xy[:, 1])
    moved = list(zip(x.tolist(), y.tolist(), strict=True))
    out, k = [], 0
    for poly in polygons:
        rings = []
        for ring in poly:
            rings.append([[px, py] for px, py in moved[k : k + len(ring)]])
            k += len(ring)
        out.append(rings)
    return out


def transform_many(covers: list[Any], src: str, dst: str) -> list[Polygons]:
    """`transform_polygons` of many MultiPolygon coordinate lists, in one transform.

    Each position comes out as `transform_polygons` gives it (the transform is per
    vertex); the work is one call for all of them.

    Examples
    --------
    >>> ring = [[500000, 0], [500001, 0], [500000, 1], [500000, 0]]
    >>> many = transform_many([[[ring]], [[ring[::-1]]]], "EPSG:32633", "EPSG:4326")
    >>> many[0] == transform_polygons([[ring]], "EPSG:32633", "EPSG:4326")
    True
    """
    if src == dst:
        return list(covers)
    moved = iter(
        transform_polygons([[[p for c in covers for q in c for r in q for p in r]]], src, dst)[0][0]
    )
    return [[[[next(moved) for _ in ring] for ring in poly] for poly in cover] for cover in covers]


def box_rings(box: list[float]) -> list[list[list[float]]]:
    """The rings of a ``[xmin, ymin, xmax, ymax]`` box as the service draws tile geometries.

    Examples
    --------
    >>> box_rings([0, 0, 1, 2])
    [[[0, 2], [1, 2], [1, 0], [0, 0], [0, 2]]]
    """
    xmin, ymin, xmax, ymax = box
    return [[[xmin, ymax], [xmax, ymax], [xmax, ymin], [xmin, ymin], [xmin, ymax]]]


def bbox(polygons: list[Any]) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of the outer rings.

    Examples
    --------
    >>> bbox([[[[0, 0], [2, 0], [2, 1], [0, 0]]]])
    (0, 0, 2, 1)
    """
    xs = [p[0] for poly in polygons for p in poly[0]]
    ys = [p[1] for poly in polygons for p in poly[0]]
    return min(xs), min(ys), max(xs), max(ys)
