"""GeoJSON covers in and out.

Lists of Polygon / MultiPolygon dicts with the service's ``crs`` member are read into
shapely arrays (and shapely's flat ragged layout, which `byocframe.geo.geometry`
reprojects); one cover is read on its own; covers are written back with the member.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from byocframe.geo.crs import WGS84, GeometryProblem, crs_urn, parse_crs

__all__ = [
    "MAX_VERTICES",
    "ParsedGeometries",
    "Ragged",
    "geometries_to_geojson",
    "parse_cover",
    "parse_geojson",
]


def _crs_of(geojson: dict[str, Any]) -> str:
    member = geojson.get("crs")
    if member is None:
        return WGS84
    try:
        props = member.get("properties") or {}
        if "name" in props:
            return parse_crs(props["name"])
        if "code" in props:  # the older {"type": "EPSG", "properties": {"code": N}} form
            return parse_crs(f"EPSG:{props['code']}")
    except AttributeError:
        pass
    raise GeometryProblem(f"unreadable crs member {member!r}")


@dataclass
class Ragged:
    """Polygonal geometries as one flat coordinate array (shapely's ragged layout).

    Every geometry is a MultiPolygon here: ``ring_off`` indexes ``xy``, ``poly_off``
    indexes rings and ``geom_off`` indexes polygons; a missing geometry has no polygons.
    """

    xy: np.ndarray
    ring_off: np.ndarray
    poly_off: np.ndarray
    geom_off: np.ndarray

    @classmethod
    def from_geometries(cls, geoms: np.ndarray) -> Ragged:
        """Flatten Polygons / MultiPolygons (None allowed) without a Python loop."""
        geoms = np.asarray(geoms, dtype=object)
        multi = np.full(len(geoms), _EMPTY, dtype=object)
        present = np.flatnonzero(~shapely.is_missing(geoms))
        if len(present):
            parts, index = shapely.get_parts(geoms[present], return_index=True)
            keep = np.isin(shapely.get_type_id(parts), [shapely.GeometryType.POLYGON])
            built = np.full(len(present), _EMPTY, dtype=object)
            if keep.any():
                # shapely wants indices 0..k-1: a first geometry with no polygon must not
                # leave a hole ("Index 0 is missing from the input indices")
                owners, dense = np.unique(index[keep], return_inverse=True)
                built[owners] = shapely.multipolygons(parts[keep], indices=dense)
            multi[present] = built
        _, xy, (ring_off, poly_off, geom_off) = shapely.to_ragged_array(multi)
        return cls(np.array(xy, dtype=float), ring_off, poly_off, geom_off)

    def geometries(self) -> np.ndarray:
        """Build MultiPolygons (None where a geometry has no polygons) in one call."""
        multi = shapely.from_ragged_array(
            shapely.GeometryType.MULTIPOLYGON,
            self.xy,
            (self.ring_off, self.poly_off, self.geom_off),
        )
        multi[np.diff(self.geom_off) == 0] = None
        return multi

    def ring_geometry(self) -> np.ndarray:
        """The position of the geometry each ring belongs to."""
        poly_geom = np.repeat(np.arange(len(self.geom_off) - 1), np.diff(self.geom_off))
        return poly_geom[np.repeat(np.arange(len(self.poly_off) - 1), np.diff(self.poly_off))]


_EMPTY = shapely.MultiPolygon()


@dataclass
class ParsedGeometries:
    """Geometries read from GeoJSON dicts, in their own CRS.

    ``geoms`` holds None where there was no geometry or it could not be read (Polygons
    stay Polygons); ``crs`` the ``"EPSG:<code>"`` of each; ``problems`` maps the position
    of each unreadable geometry to what is wrong with it; ``ragged`` holds the same
    coordinates flat, ready for `reproject_parsed`.
    """

    geoms: np.ndarray
    crs: np.ndarray
    problems: dict[int, str] = field(default_factory=dict)
    ragged: Ragged | None = None


#: Vertices one GeoJSON geometry may have to be loaded (a BYOC cover has at most 100;
#: repairing an invalid 16,000-vertex ring took 27 s). Past it, the geometry is a
#: problem of its tile, left out with a warning; raise it to load such geometries.
MAX_VERTICES = 10_000


def parse_geojson(items: Sequence[dict[str, Any] | None]) -> ParsedGeometries:
    """Read GeoJSON Polygons / MultiPolygons with a ``crs`` member into shapely arrays.

    Coordinates go into one flat array and become geometries in a single
    `shapely.from_ragged_array` call; rings are checked vectorised (closed, >= 4 points,
    finite). Polygons stay Polygons and MultiPolygons stay MultiPolygons.

    Examples
    --------
    >>> ring = [[0, 0], [1, 0], [1, 1], [0, 0]]
    >>> parsed = parse_geojson([{"type": "Polygon", "coordinates": [ring]}, None])
    >>> parsed.geoms[0].geom_type, parsed.geoms[1], parsed.crs[0]
    ('Polygon', None, 'EPSG:4326')
    """
    n = len(items)
    problems: dict[int, str] = {}
    for _attempt in range(2):  # the second pass only runs when bad geometries were found
        known = len(problems)
        rings: list[Any] = []
        ring_off, poly_off, geom_off = [0], [0], [0]
        crs = np.full(n, None, dtype=object)
        is_multi = np.zeros(n, dtype=bool)
        for i, item in enumerate(items):
            if item is None or i in problems:
                geom_off.append(geom_off[-1])
                continue
            try:
                kind = item.get("type")
                crs[i] = _crs_of(item)
                polys = item["coordinates"]
            except (AttributeError, KeyError, TypeError) as err:
                problems[i] = f"not a GeoJSON geometry ({type(err).__name__}: {err})"
                geom_off.append(geom_off[-1])
                continue
            except GeometryProblem as err:
                problems[i] = str(err)
                geom_off.append(geom_off[-1])
                continue
            if kind == "Polygon":
                polys = (polys,)
            elif kind == "MultiPolygon":
                is_multi[i] = True
            else:
                problems[i] = f"{kind} geometry; only Polygon and MultiPolygon are allowed"
                geom_off.append(geom_off[-1])
                continue
            try:
                points = 0
                for poly in polys:
                    if not isinstance(poly, list | tuple) or not poly:
                        # shapely would build (and crash on) a polygon with no rings
                        raise TypeError(f"a polygon must be a list of rings, got {poly!r:.40}")
                    for ring in poly:
                        size = len(ring)  # before keeping it: a ring must have a length
                        points += size
                        if points > MAX_VERTICES:
                            raise OverflowError(points)
                        rings.append(ring)
                        ring_off.append(ring_off[-1] + size)
                    poly_off.append(len(ring_off) - 1)
            except TypeError as err:
                problems[i] = f"malformed coordinates ({err})"
            except OverflowError:
                problems[i] = (
                    f"more than {MAX_VERTICES:,} vertices (byocframe.geo.geojson.MAX_VERTICES; "
                    "raise it to load such a geometry: repairing it costs time that grows "
                    "faster than its size)"
                )
            geom_off.append(len(poly_off) - 1)
        xy, new = _flat_coordinates(rings, ring_off, poly_off, geom_off)
        problems.update(new)
        if len(problems) == known:
            break  # else read again without the bad ones, some of which are half-read
    ragged = Ragged(xy, np.asarray(ring_off), np.asarray(poly_off), np.asarray(geom_off))
    multi = ragged.geometries()
    geoms = multi.copy()
    single = np.flatnonzero(~is_multi & ~shapely.is_missing(multi))
    geoms[single] = shapely.get_geometry(multi[single], 0)
    crs[shapely.is_missing(multi)] = None
    return ParsedGeometries(geoms, crs, problems, ragged)


def parse_cover(item: dict[str, Any] | None) -> tuple[Any, str | None]:
    """One GeoJSON cover as (shapely geometry, ``"EPSG:<code>"``); (None, None) if unusable.

    The same answer as `parse_geojson` for one item, several times faster for the usual
    Polygon or MultiPolygon of plain 2-D rings; anything else goes through it.

    Examples
    --------
    >>> ring = [[0, 0], [1, 0], [1, 1], [0, 0]]
    >>> geom, crs = parse_cover({"type": "Polygon", "coordinates": [ring]})
    >>> geom.geom_type, crs
    ('Polygon', 'EPSG:4326')
    """
    if item is not None:
        try:
            kind = item["type"]
            coordinates = item["coordinates"]
            polygons = (
                [_polygon(coordinates)]
                if kind == "Polygon"
                else [_polygon(p) for p in coordinates]
                if kind == "MultiPolygon" and isinstance(coordinates, list) and coordinates
                else None
            )
            if polygons is not None and None not in polygons:
                crs = _crs_of(item)
                shape = polygons[0] if kind == "Polygon" else shapely.MultiPolygon(polygons)
                return shape, crs
        except (KeyError, TypeError, AttributeError, GeometryProblem):
            pass  # the general reader says what is wrong
    parsed = parse_geojson([item])
    return parsed.geoms[0], parsed.crs[0]


def _polygon(rings: Any) -> Any:
    """A shapely Polygon from plain closed 2-D rings of finite numbers, else None."""
    if not isinstance(rings, list) or not rings:
        return None
    checked = []
    for ring in rings:
        if not isinstance(ring, list) or not 4 <= len(ring) <= MAX_VERTICES or ring[0] != ring[-1]:
            return None  # the general reader says what is wrong
        for position in ring:
            if (
                not isinstance(position, list)
                or len(position) != 2
                or type(position[0]) not in (float, int)
                or type(position[1]) not in (float, int)
            ):
                return None
        xy = np.array(ring, dtype=float)
        if not np.isfinite(xy).all():
            return None
        checked.append(xy)
    return shapely.Polygon(checked[0], checked[1:])


def _flat_coordinates(
    rings: list[Any], ring_off: list[int], poly_off: list[int], geom_off: list[int]
) -> tuple[np.ndarray, dict[int, str]]:
    """Flatten the rings into an (n, 2) array and find unreadable ones.

    Returns the array and {geometry position: problem}.
    """
    problems: dict[int, str] = {}
    ring_len = np.diff(ring_off).astype(np.int64)
    poly_geom = np.repeat(np.arange(len(geom_off) - 1), np.diff(geom_off))
    ring_geom = poly_geom[np.repeat(np.arange(len(poly_off) - 1), np.diff(poly_off))]
    total = int(ring_len.sum())
    positions = itertools.chain.from_iterable
    try:
        sizes = np.fromiter(map(len, positions(rings)), dtype=np.int64, count=total)
        if (sizes != 2).any():
            raise ValueError("not 2-D")
        xy = np.fromiter(positions(positions(rings)), dtype=float, count=2 * total)
        xy = xy.reshape(-1, 2)
    except (ValueError, TypeError):
        xy = None
    if xy is None:
        # 3-D or malformed positions: find them (only on this slow error path)
        for i, ring in enumerate(rings):
            for pos in ring:
                if not (isinstance(pos, list | tuple) and len(pos) == 2):
                    problems.setdefault(int(ring_geom[i]), f"bad position {pos!r}")
                    break
                try:
                    float(pos[0]), float(pos[1])
                except (TypeError, ValueError):
                    problems.setdefault(int(ring_geom[i]), f"bad position {pos!r}")
                    break
        return np.zeros((0, 2)), problems or {int(ring_geom[0]): "malformed coordinates"}
    ring_start = np.asarray(ring_off[:-1], dtype=np.int64)
    for r in np.flatnonzero(ring_len < 4):
        problems.setdefault(int(ring_geom[r]), f"a ring has {ring_len[r]} positions, needs >= 4")
    for p in np.flatnonzero(~np.isfinite(xy).all(axis=1)):
        r = np.searchsorted(ring_off, p, side="right") - 1
        problems.setdefault(int(ring_geom[r]), f"non-finite coordinate {xy[p].tolist()}")
    ok = np.flatnonzero(ring_len >= 4)
    first = xy[ring_start[ok]]
    last = xy[ring_start[ok] + ring_len[ok] - 1]
    for r in ok[~(first == last).all(axis=1)]:
        problems.setdefault(int(ring_geom[r]), "unclosed ring (first and last positions differ)")
    return xy, problems


def geometries_to_geojson(
    geoms: Sequence[Any] | np.ndarray, crs: Sequence[str | None]
) -> list[Any]:
    """Write shapely geometries as GeoJSON dicts with the service's ``crs`` member.

    Examples
    --------
    >>> import shapely
    >>> out = geometries_to_geojson([shapely.box(0, 0, 1, 1), None], ["EPSG:32633", None])
    >>> out[0]["crs"]["properties"]["name"], out[0]["type"], out[1]
    ('urn:ogc:def:crs:EPSG::32633', 'Polygon', None)
    """
    geoms = np.asarray(geoms, dtype=object)
    if geoms.ndim != 1:  # a sequence numpy cannot keep flat
        geoms = np.fromiter(geoms, dtype=object, count=len(geoms))
    shown = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kind = shapely.get_type_id(geoms)
    polygonal = shown & np.isin(kind, _POLYGONAL) & ~shapely.has_z(geoms)
    coordinates: list[Any] = [None] * len(geoms)
    rows = np.flatnonzero(polygonal)
    for pos, body in zip(rows.tolist(), _polygon_lists(geoms[rows], kind[rows]), strict=True):
        coordinates[pos] = body
    out: list[Any] = []
    for geom, code, body, visible in zip(geoms, crs, coordinates, shown.tolist(), strict=True):
        if not visible:
            out.append(None)
            continue
        if body is None:  # another kind of geometry: shapely's mapping, tuples as lists
            mapped = shapely.geometry.mapping(geom)
            body = (mapped["type"], _lists(mapped["coordinates"]))
        out.append(
            {
                "type": body[0],
                "crs": {"type": "name", "properties": {"name": crs_urn(code or WGS84)}},
                "coordinates": body[1],
            }
        )
    return out


_POLYGONAL = [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON]


def _polygon_lists(geoms: np.ndarray, kind: np.ndarray) -> list[tuple[str, list[Any]]]:
    """2D Polygons and MultiPolygons as (GeoJSON type, nested coordinate lists).

    The same lists as shapely's mapping gives (shell first, then holes), built from one
    flat coordinate array instead of a Python object per ring and vertex.
    """
    polygons, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_owner = shapely.get_rings(polygons, return_index=True)
    points = shapely.get_coordinates(rings).tolist()
    ends = np.cumsum(shapely.get_num_coordinates(rings)).tolist()
    shells: list[list[Any]] = [[] for _ in range(len(polygons))]
    start = 0
    for polygon, end in zip(ring_owner.tolist(), ends, strict=True):
        shells[polygon].append(points[start:end])
        start = end
    bodies: list[list[Any]] = [[] for _ in range(len(geoms))]
    for geom, polygon in zip(owner.tolist(), shells, strict=True):
        bodies[geom].append(polygon)
    return [
        ("Polygon", body[0]) if k == shapely.GeometryType.POLYGON else ("MultiPolygon", body)
        for body, k in zip(bodies, kind.tolist(), strict=True)
    ]


def _lists(value: Any) -> Any:
    """Tuples from shapely's mapping -> lists, as JSON has them."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value
