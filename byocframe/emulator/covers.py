"""Validation of cover geometries from requests: shape, CRS kind, area of use, validity.

A cover must be a GeoJSON Polygon or MultiPolygon (with the service's ``crs`` member, or
none for WGS84) in a 2-D geographic or projected CRS, of at most 100 points, within the
CRS's area of use (widened by `AREA_MARGIN` degrees), and a valid polygon of non-zero
area. It comes back in CRS84, as the service stores it.
"""

from __future__ import annotations

import array
import functools
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import shapely
from pyproj import CRS

from byocframe.emulator.coords import Polygons, transform_many, transform_polygons
from byocframe.emulator.problems import ApiProblem, bad, is_number, shown
from byocframe.geo.crs import GeometryProblem, parse_crs

__all__ = ["AREA_MARGIN", "MAX_COVER_POINTS", "Cover", "read_cover", "read_covers"]

MAX_COVER_POINTS = 100
#: Degrees a cover may reach beyond its CRS's area of use (tiles overlap the next zone).
AREA_MARGIN = 5.0
#: Bytes of keys the memo of accepted covers keeps (oldest covers forgotten first).
MEMO_BYTES = 4_000_000
#: Largest cover the memo keeps, in bytes of key (a 100-point cover takes about 1,700).
MEMO_LONGEST = 16_000


class Cover(NamedTuple):
    """A validated cover: MultiPolygon coordinates in CRS84, the CRS given, the type."""

    polygons84: Polygons
    crs: str
    kind: str


@functools.lru_cache(maxsize=256)
def _area_of_use(crs: str) -> tuple[float, float, float, float]:
    """The CRS's area of use in degrees (widened by `AREA_MARGIN`), or refuse the CRS."""
    parsed = CRS.from_user_input(crs)
    if not (parsed.is_geographic or parsed.is_projected) or len(parsed.axis_info) != 2:
        kind = parsed.type_name  # e.g. "Vertical CRS", "Geocentric CRS", "Compound CRS"
        raise bad(f"coverGeometry.crs {crs} is a {kind}; use a 2-D geographic or projected CRS")
    area = parsed.area_of_use
    west, south, east, north = area.bounds if area else (-180.0, -90.0, 180.0, 90.0)
    if west > east:  # the area crosses the antimeridian
        west, east = west - 360.0, east
    return (
        west - AREA_MARGIN,
        max(-90.0, south - AREA_MARGIN),
        east + AREA_MARGIN,
        min(90.0, north + AREA_MARGIN),
    )


@functools.lru_cache(maxsize=256)
def _is_geographic(crs: str) -> bool:
    return bool(CRS.from_user_input(crs).is_geographic)


#: What a cover's reading depends on (see `_memo_key`).
MemoKey = tuple[str, tuple[Any, ...], bytes]


class _Memo:
    """Accepted covers by what their reading depends on, oldest forgotten first.

    Reading a cover is a pure function of its `_memo_key`: a client that sends the same
    cover again (a PUT that changes only the sensing time) gets the same answer without
    a second reading. Thread-safe; holds at most ``capacity`` bytes of keys.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._used = 0
        self._items: OrderedDict[MemoKey, Cover] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: MemoKey) -> Cover | None:
        """The cover read from ``key`` before, as a copy (callers may change it)."""
        with self._lock:
            cover = self._items.get(key)
            if cover is None:
                return None
            self._items.move_to_end(key)
        return cover._replace(polygons84=_copy(cover.polygons84))

    def put(self, key: MemoKey, cover: Cover) -> None:
        """Remember a cover read from ``key`` (a copy: the caller keeps its own)."""
        kept = cover._replace(polygons84=_copy(cover.polygons84))
        with self._lock:
            if key in self._items:
                return
            self._items[key] = kept
            self._used += _size(key)
            while self._used > self.capacity:
                old, _ = self._items.popitem(last=False)
                self._used -= _size(old)

    def clear(self) -> None:
        """Forget every cover."""
        with self._lock:
            self._items.clear()
            self._used = 0


def _size(key: MemoKey) -> int:
    return len(key[0]) + len(key[2]) + 8 * len(key[1][1])


_MEMO = _Memo(MEMO_BYTES)


def _copy(polygons: Polygons) -> Polygons:
    return [[list(map(list, ring)) for ring in poly] for poly in polygons]


def _memo_key(geojson: Any) -> MemoKey | None:
    """What a cover's reading depends on, exactly, or None when it cannot be told cheaply.

    That is the JSON text of its members besides ``coordinates`` (only JSON's own types:
    a tuple or a subclass prints like a list or a plain value yet reads differently), and
    the nesting and the 64-bit values of its coordinates when they are lists of
    ``[x, y]`` ints or floats (the reading turns both into the same float).
    """
    if type(geojson) is not dict:
        return None
    rest = {k: v for k, v in geojson.items() if k != "coordinates"}
    kind, coords = rest.get("type"), geojson.get("coordinates")
    if kind not in ("Polygon", "MultiPolygon") or type(coords) is not list:
        return None
    polygons = coords if kind == "MultiPolygon" else [coords]
    if not _only(list, polygons):
        return None
    rings = [ring for poly in polygons for ring in poly]
    if not _only(list, rings):
        return None
    positions = [pos for ring in rings for pos in ring]
    if not (_only(list, positions) and set(map(len, positions)) <= {2}):
        return None
    numbers = [value for pos in positions for value in pos]
    if not (set(map(type, numbers)) <= {float, int} and _plain_json(rest)):
        return None
    try:
        values = array.array("d", numbers).tobytes()
    except OverflowError:
        return None
    text = json.dumps(rest)
    key = (text, (tuple(map(len, polygons)), tuple(map(len, rings))), values)
    return key if _size(key) <= MEMO_LONGEST else None


def _only(kind: type, values: list[Any]) -> bool:
    """Whether every item of ``values`` is exactly of type ``kind``."""
    return set(map(type, values)) <= {kind}


def _plain_json(root: dict[str, Any]) -> bool:
    """Whether ``root`` holds only dicts with str keys, lists, str, int, float, bool, None."""
    stack: list[Any] = [root]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            if not _only(str, list(value)):
                return False
            items: Any = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is list or kind is dict:
                stack.append(item)
            elif not (kind is float or kind is int or kind is str or kind is bool or item is None):
                return False
    return True


def read_cover(geojson: Any, field: str = "coverGeometry") -> Cover:
    """Validate a cover geometry from a request (shape, CRS, area of use, validity).

    Covers accepted before are remembered (`_Memo`): the same cover again gets the same
    answer without being read again.

    Examples
    --------
    >>> bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    >>> read_cover(bowtie, "cover")
    Traceback (most recent call last):
    ...
    byocframe.emulator.problems.ApiProblem: cover is not a valid polygon: Self-intersection[0.5 0.5]
    """
    key = _memo_key(geojson)
    known = None if key is None else _MEMO.get(key)
    if known is not None:
        return known
    cover = _read(geojson, field)
    if key is not None:
        _MEMO.put(key, cover)
    return cover


def read_covers(geojsons: Sequence[Any], field: str = "coverGeometry") -> list[Cover | ApiProblem]:
    """`read_cover` of many covers at once: each cover read, or the problem refusing it.

    The checks are `read_cover`'s, with the geometry work done for all the covers in
    one pass: one transform per CRS, the area of use compared with numpy, validity and
    areas by shapely over the whole array. A cover that fails any of them is read again
    by `read_cover`'s own code, so its problem is the one `read_cover` raises. The memo
    of accepted covers is neither read nor filled (bulk seeding rarely repeats one).

    Examples
    --------
    >>> square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    >>> bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    >>> good, refused = read_covers([square, bowtie])
    >>> good.kind, good.polygons84[0][0][2], refused.message
    ('Polygon', [1.0, 1.0], 'coverGeometry is not a valid polygon: Self-intersection[0.5 0.5]')
    """
    out: list[Cover | ApiProblem | None] = [None] * len(geojsons)
    shapes: dict[int, tuple[str, str, Polygons]] = {}
    for k, geojson in enumerate(geojsons):
        try:
            shapes[k] = _shape(geojson, field)
        except ApiProblem as err:
            out[k] = err
    by_crs: dict[str, list[int]] = {}
    for k, (_, crs, _) in shapes.items():
        by_crs.setdefault(crs, []).append(k)
    refused: set[int] = set()
    for crs, members in by_crs.items():
        refused |= _moved_inside(crs, [shapes[k] for k in members], members, out)
    candidates = [k for k in shapes if k not in refused]
    for k in _invalid([shapes[k][2] for k in candidates], candidates):
        refused.add(k)
    for k in refused:
        try:
            out[k] = _read(geojsons[k], field)  # its problem, as read_cover words it
        except ApiProblem as err:
            out[k] = err
    return [cover for cover in out if cover is not None]


def _moved_inside(
    crs: str, shapes: list[tuple[str, str, Polygons]], members: list[int], out: list[Any]
) -> set[int]:
    """Store the CRS84 covers of ``shapes`` (all in ``crs``) at ``out[members]``.

    Returns the members a position of which falls outside the CRS's area of use.
    """
    try:
        west, south, east, north = _area_of_use(crs)
    except ApiProblem:
        return set(members)
    counts = [sum(len(ring) for poly in polygons for ring in poly) for _, _, polygons in shapes]
    covers = transform_many([polygons for _, _, polygons in shapes], crs, "EPSG:4326")
    xy = np.asarray(
        [pos for cover in covers for poly in cover for ring in poly for pos in ring], dtype=float
    ).reshape(-1, 2)
    x, y = xy[:, 0], xy[:, 1]
    turns = (0.0,) if _is_geographic(crs) else (-360.0, 0.0, 360.0)
    inside = np.zeros(len(x), dtype=bool)
    for turn in turns:
        inside |= (west <= x + turn) & (x + turn <= east)
    inside &= (south <= y) & (y <= north)
    sizes = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes  # every cover has at least 4 positions
    all_inside = np.logical_and.reduceat(inside, starts).tolist()
    refused = set()
    for k, (kind, _, _), cover, ok in zip(members, shapes, covers, all_inside, strict=True):
        if ok:
            out[k] = Cover(cover, crs, kind)
        else:
            refused.add(k)
    return refused


def _invalid(polygons: list[Polygons], members: list[int]) -> list[int]:
    """The members whose polygons are not valid, or have a part of zero area."""
    if not members:
        return []
    coords = [pos for polys in polygons for poly in polys for ring in poly for pos in ring]
    rings = [len(ring) for polys in polygons for poly in polys for ring in poly]
    parts = [len(poly) for polys in polygons for poly in polys]
    geoms = [len(polys) for polys in polygons]
    offsets = tuple(np.concatenate([[0], np.cumsum(n)]) for n in (rings, parts, geoms))
    shapes = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON, np.asarray(coords, dtype=float), offsets
    )
    valid = shapely.is_valid(shapes)
    pieces, owner = shapely.get_parts(shapes, return_index=True)
    flat = np.zeros(len(members), dtype=bool)
    flat[owner[shapely.area(pieces) <= 0]] = True
    return [k for k, ok, zero in zip(members, valid, flat, strict=True) if not ok or zero]


def _shape(geojson: Any, field: str) -> tuple[str, str, Polygons]:
    """A cover's kind, CRS and polygons (float positions), or refuse its structure."""
    if not isinstance(geojson, Mapping):
        raise bad(f"{field} must be a GeoJSON Polygon or MultiPolygon object")
    kind = geojson.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise bad(f"{field} must be a Polygon or MultiPolygon, got {shown(kind)}")
    member = geojson.get("crs")
    try:
        name = None if member is None else member["properties"]["name"]
        crs = parse_crs(None if name is None else str(name))
    except (KeyError, TypeError) as err:
        raise bad(f"{field} has an unreadable crs member: {shown(member)}") from err
    except GeometryProblem as err:
        raise bad(f"{field}.crs: {err}") from err
    _area_of_use(crs)  # refuses a CRS of another kind before the coordinates are read
    coords = geojson.get("coordinates")
    if not isinstance(coords, list):
        raise bad(f"{field} coordinates must be a list, got {type(coords).__name__}")
    polygons = _polygons(coords if kind == "MultiPolygon" else [coords], field)
    points = sum(len(ring) for poly in polygons for ring in poly)
    if points > MAX_COVER_POINTS:
        raise bad(
            f"{field} has {points} points; at most {MAX_COVER_POINTS} are allowed "
            "(simplify it first)"
        )
    return kind, crs, polygons


def _read(geojson: Any, field: str) -> Cover:
    """`read_cover` without the memo."""
    kind, crs, polygons = _shape(geojson, field)
    west, south, east, north = _area_of_use(crs)
    # the area first: it bounds the magnitudes the validity check computes with
    moved = transform_polygons(polygons, crs, "EPSG:4326")
    # projected longitudes come back wrapped: a zone-1 tile reaching over the antimeridian
    # is at 179; geographic ones are the input itself (181 is allowed, 200 is not)
    turns = (0.0,) if _is_geographic(crs) else (-360.0, 0.0, 360.0)
    for poly in moved:
        for ring in poly:
            for x, y in ring:
                inside = any(west <= x + turn <= east for turn in turns)
                if not (inside and south <= y <= north):
                    raise bad(
                        f"{field} reaches outside the area of use of {crs} "
                        f"(a position maps to lon/lat {x:.6g}, {y:.6g})"
                    )
    shape = shapely.MultiPolygon([shapely.Polygon(poly[0], poly[1:]) for poly in polygons])
    reason = shapely.is_valid_reason(shape)
    if reason != "Valid Geometry":
        raise bad(f"{field} is not a valid polygon: {reason}")
    if any(part.area <= 0 for part in shape.geoms):
        raise bad(f"{field} has a polygon of zero area")
    return Cover(moved, crs, kind)


def _polygons(polygons: list[Any], field: str) -> Polygons:
    """Check the nesting of MultiPolygon coordinates; positions become floats."""
    if not polygons:
        raise bad(f"{field} coordinates must not be empty")
    out: Polygons = []
    for poly in polygons:
        if not isinstance(poly, list) or not poly:
            raise bad(f"{field} polygons must be non-empty lists of rings")
        rings = []
        for ring in poly:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                raise bad(f"{field} rings must be closed and have at least 4 positions")
            rings.append(_positions(ring, field))
        out.append(rings)
    return out


def _positions(ring: list[Any], field: str) -> list[list[float]]:
    """A ring's ``[x, y]`` positions as floats, or refuse the first bad one."""
    out = []
    for pos in ring:
        if not (
            isinstance(pos, list) and len(pos) == 2 and is_number(pos[0]) and is_number(pos[1])
        ):
            raise bad(f"{field} has a bad position {shown(pos)}: [x, y] numbers")
        out.append([float(pos[0]), float(pos[1])])
    return out
