"""CRS parsing, grouped vectorised reprojection, densifying, antimeridian and poles.

Everything here works on whole arrays of geometries. The only per-geometry Python work
is parsing the JSON (unavoidable: the input is a list of dicts) and repairing the few
geometries that cross the antimeridian or contain a pole.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

__all__ = [
    "DEFAULT_DENSIFY",
    "ParsedGeometries",
    "crs_urn",
    "geometries_to_geojson",
    "parse_cover",
    "parse_crs",
    "parse_geojson",
    "reproject",
    "reproject_parsed",
]

#: Default longest edge, in metres, before reprojection (a 10 km step keeps the outline
#: of a 300 km UTM tile within ~20 m of the truth; 4 corners alone are off by ~2 km).
DEFAULT_DENSIFY = 10_000.0
WGS84 = "EPSG:4326"
_METRES_PER_DEGREE = 111_320.0

_URN_EPSG = re.compile(r"^urn:ogc:def:crs:EPSG:[\d.]*:(\d+)$", re.IGNORECASE)
_HTTP_EPSG = re.compile(r"^https?://www\.opengis\.net/def/crs/EPSG/[\d.]+/(\d+)$", re.I)
_PLAIN_EPSG = re.compile(r"^EPSG:{1,2}(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(r"^(urn:ogc:def:crs:OGC:[\d.]*:CRS84|OGC:CRS84|CRS84)$", re.IGNORECASE)


class GeometryProblem(ValueError):
    """A geometry that cannot be read; the message names the problem, not the tile."""


@functools.lru_cache(maxsize=512)
def parse_crs(name: str | None) -> str:
    """Normalise a CRS spelling used by the service or its clients to ``"EPSG:<code>"``.

    Parameters
    ----------
    name : str or None
        ``urn:ogc:def:crs:EPSG::32633``, ``urn:ogc:def:crs:OGC::CRS84``, ``EPSG:32633``,
        ``http://www.opengis.net/def/crs/EPSG/0/32633``; None means WGS84 (lon/lat order).

    Returns
    -------
    str
        ``"EPSG:<code>"``; CRS84 becomes ``"EPSG:4326"`` (byocframe always uses lon/lat order).

    Raises
    ------
    GeometryProblem
        For an unknown spelling or an EPSG code that pyproj does not know.

    Examples
    --------
    >>> parse_crs("urn:ogc:def:crs:EPSG::32628")
    'EPSG:32628'
    >>> parse_crs("urn:ogc:def:crs:OGC::CRS84")
    'EPSG:4326'
    """
    if name is None:
        return WGS84
    text = str(name).strip()
    if _CRS84.match(text):
        return WGS84
    match = _URN_EPSG.match(text) or _PLAIN_EPSG.match(text) or _HTTP_EPSG.match(text)
    if not match:
        raise GeometryProblem(f"unrecognised CRS {text!r}; expected urn:ogc:def:crs:EPSG::<code>")
    code = int(match.group(1))
    try:
        CRS.from_epsg(code)
    except CRSError as err:
        raise GeometryProblem(f"unknown EPSG code {code} in CRS {text!r}") from err
    return f"EPSG:{code}"


def crs_urn(crs: str) -> str:
    """Return the ``urn:ogc:def:crs:EPSG::<code>`` spelling the service writes.

    Examples
    --------
    >>> crs_urn("EPSG:32628")
    'urn:ogc:def:crs:EPSG::32628'
    """
    return "urn:ogc:def:crs:EPSG::" + crs.split(":")[-1]


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
                grouped = shapely.multipolygons(parts[keep], indices=index[keep])
                built[np.unique(index[keep])] = grouped[~shapely.is_missing(grouped)]
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
                for poly in polys:
                    if not isinstance(poly, list | tuple) or not poly:
                        # shapely would build (and crash on) a polygon with no rings
                        raise TypeError(f"a polygon must be a list of rings, got {poly!r:.40}")
                    for ring in poly:
                        size = len(ring)  # before keeping it: a ring must have a length
                        rings.append(ring)
                        ring_off.append(ring_off[-1] + size)
                    poly_off.append(len(ring_off) - 1)
            except TypeError as err:
                problems[i] = f"malformed coordinates ({err})"
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
        if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
            return None
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


@functools.lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    # pyproj keeps a per-thread PROJ object inside, so one Transformer serves all threads
    return Transformer.from_crs(str(src), str(dst), always_xy=True)


def _apply(transformer: Transformer, geoms: np.ndarray) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


_CHUNK = 200_000  # coordinates per pyproj call when transforming on several threads


def _transform_groups(groups: list[tuple[Transformer, np.ndarray]], xy: np.ndarray) -> None:
    """Transform the rows of ``xy`` named by each group in place, on several threads.

    pyproj releases the GIL while PROJ works and keeps a PROJ object per thread, so
    chunks of the groups run in parallel on the machine's cores.
    """
    work = [
        (transformer, rows)
        for transformer, sel in groups
        for rows in np.array_split(sel, max(1, -(-len(sel) // _CHUNK)))
    ]

    def run(item: tuple[Transformer, np.ndarray]) -> None:
        transformer, rows = item
        xy[rows, 0], xy[rows, 1] = transformer.transform(xy[rows, 0], xy[rows, 1])

    threads = min(4, os.cpu_count() or 1)
    if threads < 2 or sum(len(rows) for _, rows in work) < 50_000:
        for item in work:
            run(item)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, work))


@functools.lru_cache(maxsize=256)
def _segment_length(crs: str, metres: float) -> float:
    """Convert a length in metres into the CRS's own units (degrees for lon/lat)."""
    info = CRS.from_user_input(crs)
    if info.is_geographic:
        return metres / _METRES_PER_DEGREE
    factor = info.axis_info[0].unit_conversion_factor or 1.0
    return metres / factor


@functools.lru_cache(maxsize=256)
def _poles_in(crs: str) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """Where the north and south poles land in ``crs`` (None when they do not)."""
    out: list[tuple[float, float] | None] = []
    for lat in (90.0, -90.0):
        x, y = _transformer(WGS84, crs).transform(0.0, lat)
        out.append((x, y) if np.isfinite(x) and np.isfinite(y) else None)
    return out[0], out[1]


def reproject(
    geoms: np.ndarray,
    crs: np.ndarray,
    target: str = WGS84,
    *,
    densify: float | None = DEFAULT_DENSIFY,
) -> np.ndarray:
    """Reproject geometries that each carry their own CRS, grouped by CRS.

    All coordinates go through one flat array: edges are densified in the source CRS
    (``densify`` metres, None to skip) so straight UTM edges come out curved as they
    should, then each CRS group is transformed in one pyproj call. Results that cross
    the antimeridian are cut into parts inside [-180, 180], and tiles that contain a
    pole become polar caps. Every result is a valid MultiPolygon (or None).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries (or None)
    crs : numpy.ndarray of str
        ``"EPSG:<code>"`` per geometry (see `parse_crs`).
    target : str
        The CRS to reproject into.
    densify : float or None
        Longest edge, in metres, before reprojecting.

    Examples
    --------
    >>> import shapely, numpy as np
    >>> square = shapely.box(300000, 6900000, 600000, 7200000)  # 300 km, UTM 28N
    >>> out = reproject(np.array([square]), np.array(["EPSG:32628"]))
    >>> out[0].geom_type, int(shapely.get_num_coordinates(out[0]))  # 10 km steps: curved
    ('MultiPolygon', 121)
    """
    geoms = np.asarray(geoms, dtype=object)
    ragged = Ragged.from_geometries(geoms)
    return _reproject(ragged, geoms, np.asarray(crs, dtype=object), target, densify)


def reproject_parsed(
    parsed: ParsedGeometries, target: str = WGS84, *, densify: float | None = DEFAULT_DENSIFY
) -> np.ndarray:
    """`reproject` for the output of `parse_geojson`, reusing its flat coordinates."""
    if parsed.ragged is None:
        return reproject(parsed.geoms, parsed.crs, target, densify=densify)
    return _reproject(parsed.ragged, parsed.geoms, parsed.crs, target, densify)


def _reproject(
    ragged: Ragged, geoms: np.ndarray, crs: np.ndarray, target: str, densify: float | None
) -> np.ndarray:
    target = target if str(target).upper().startswith("EPSG:") else parse_crs(target)
    present = np.diff(ragged.geom_off) > 0
    if not present.any():
        return np.full(len(geoms), None, dtype=object)
    unique, inverse = _distinct(ragged, crs, present)
    if len(unique) < 0.9 * len(geoms):
        # the same grid cell on many dates: reproject each distinct footprint once
        sub = _reproject(
            Ragged.from_geometries(geoms[unique]), geoms[unique], crs[unique], target, densify
        )
        return sub[inverse]
    codes = np.where(present, crs, WGS84).astype(object)
    unique_codes, inverse = np.unique(codes.astype(str), return_inverse=True)
    uniq = [str(c) for c in unique_codes]
    xy, ring_off = ragged.xy, ragged.ring_off
    ring_geom = ragged.ring_geometry()
    if densify:
        # nothing to densify when a geometry is already in the target CRS
        lengths = [np.inf if c == target else _segment_length(c, densify) for c in uniq]
        steps = np.array(lengths)[inverse]
        xy, ring_off = _densify(xy, ring_off, steps[ring_geom])
    else:
        xy = xy.copy()
    point_code = inverse[ring_geom][np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))]
    groups = [
        (_transformer(code, WGS84), np.flatnonzero(point_code == k))
        for k, code in enumerate(uniq)
        if code != WGS84
    ]
    _transform_groups(groups, xy)
    lonlat = Ragged(xy, ring_off, ragged.poly_off, ragged.geom_off).geometries()
    wraps = np.zeros(len(geoms), dtype=bool)
    if len(xy):
        # crossing the antimeridian shows as a jump of more than 180 degrees in longitude
        starts = ring_off[ragged.poly_off[ragged.geom_off[:-1][present]]]
        west = np.minimum.reduceat(xy[:, 0], starts)
        east = np.maximum.reduceat(xy[:, 0], starts)
        wraps[present] = (east - west > 180) | (west < -180) | (east > 180)
    lonlat = _fix_antimeridian(lonlat, wraps, _pole_flags(geoms, codes, present))
    if target != WGS84:
        lonlat = _to_projected(lonlat, target, CRS.from_user_input(target))
    out = _as_multi(_make_valid(lonlat))
    same = np.flatnonzero(present & (codes == target) & (target != WGS84))
    if len(same):  # already in the target CRS: keep the coordinates as they were
        out[same] = _as_multi(np.asarray(geoms[same], dtype=object))
    return out


def _distinct(ragged: Ragged, crs: np.ndarray, present: np.ndarray) -> tuple[Any, Any]:
    """Positions of the distinct (CRS, coordinates) footprints, and where each row maps.

    A vectorised fingerprint finds candidate duplicates; only those are compared exactly.
    """
    n = len(crs)
    identity = (np.arange(n), np.arange(n))
    if n < 2:
        return identity
    starts = ragged.ring_off[ragged.poly_off[ragged.geom_off]]
    counts = np.diff(starts)
    xy = ragged.xy
    _, crs_code = np.unique(np.where(present, crs, "").astype(str), return_inverse=True)
    sums = np.zeros((n, 2))
    first = np.zeros((n, 2))
    if present.any():
        sums[present] = np.add.reduceat(xy, starts[:-1][present], axis=0)
        first[present] = xy[starts[:-1][present]]
    fingerprint = np.column_stack([crs_code, counts, first, sums])
    _, fp_first, fp_inverse = np.unique(fingerprint, axis=0, return_index=True, return_inverse=True)
    if len(fp_first) > 0.9 * n:
        return identity
    # confirm each candidate exactly: same CRS, same coordinates, same ring layout
    seen: dict[tuple[Any, bytes, bytes], int] = {}
    inverse = np.empty(n, dtype=np.int64)
    unique: list[int] = []
    for i in range(n):
        key: Any = None
        if present[i]:
            rings = ragged.ring_off[
                ragged.poly_off[ragged.geom_off[i]] : ragged.poly_off[ragged.geom_off[i + 1]] + 1
            ]
            layout = (rings - rings[0]).tobytes()
            key = (crs[i], xy[starts[i] : starts[i + 1]].tobytes(), layout)
        pos = seen.get(key)
        if pos is None:
            pos = seen[key] = len(unique)
            unique.append(i)
        inverse[i] = pos
    del fp_inverse
    return np.asarray(unique, dtype=np.int64), inverse


def _as_multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons -> one-part MultiPolygons (vectorised); everything else unchanged."""
    single = np.flatnonzero(shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON)
    if len(single):
        geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(len(single)))
    return geoms


def _densify(
    xy: np.ndarray, ring_off: np.ndarray, step: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Insert points so no edge is longer than its ring's ``step``; return new xy and offsets."""
    n = len(xy)
    if n == 0:
        return xy.copy(), ring_off
    last = np.zeros(n, dtype=bool)
    last[ring_off[1:] - 1] = True
    nxt = np.arange(1, n + 1)
    nxt[last] = np.flatnonzero(last)
    delta = xy[nxt] - xy
    point_ring = np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))
    pieces = np.ceil(np.hypot(delta[:, 0], delta[:, 1]) / step[point_ring]).astype(np.int64)
    pieces = np.maximum(pieces, 1)
    source = np.repeat(np.arange(n), pieces)
    first = np.cumsum(pieces) - pieces
    frac = (np.arange(len(source)) - first[source]) / pieces[source]
    dense = xy[source] + delta[source] * frac[:, None]
    offsets = np.concatenate([[0], np.cumsum(pieces)])[ring_off]
    return dense, offsets


def _pole_flags(src: np.ndarray, codes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """+1 where a geometry (in its own CRS) contains the north pole, -1 the south pole."""
    flags = np.zeros(len(src), dtype=np.int8)
    for code in np.unique(codes[present].astype(str)):
        if code == WGS84:
            continue  # a lon/lat polygon cannot enclose a pole without touching it
        group = np.flatnonzero(present & (codes == code))
        north, south = _poles_in(str(code))
        for sign, pole in ((1, north), (-1, south)):
            if pole is not None:
                flags[group[shapely.intersects_xy(src[group], *pole)]] = sign
    return flags


def _fix_antimeridian(lonlat: np.ndarray, wraps: np.ndarray, poles: np.ndarray) -> np.ndarray:
    """Cut lon/lat geometries that cross the antimeridian or hold a pole."""
    todo = np.flatnonzero(wraps | (poles != 0))
    if len(todo) == 0:
        return lonlat
    lonlat = lonlat.copy()
    for i in todo:
        lonlat[i] = _cut_at_antimeridian(lonlat[i], int(poles[i]))
    return lonlat


def _unwrap(ring: np.ndarray) -> np.ndarray:
    """Remove 360-degree jumps between consecutive longitudes."""
    ring = ring.copy()
    jumps = np.diff(ring[:, 0])
    shift = -360.0 * np.cumsum(np.round(jumps / 360.0))
    ring[1:, 0] += shift
    return ring


_WINDOWS = [(k, shapely.box(-180 + 360 * k, -90, 180 + 360 * k, 90)) for k in (-1, 0, 1)]


def _cut_at_antimeridian(geom: shapely.Geometry, pole: int) -> shapely.Geometry:
    pieces: list[shapely.Geometry] = []
    for poly in shapely.get_parts(geom):
        shell = _unwrap(np.asarray(poly.exterior.coords))
        turn = shell[-1, 0] - shell[0, 0]
        if abs(turn) > 180:
            # the ring goes once around a pole: close it along that pole
            lat = 90.0 if (pole > 0 or (pole == 0 and shell[:, 1].mean() > 0)) else -90.0
            shell = np.vstack(
                [shell, [[shell[-1, 0], lat], [shell[0, 0], lat]], shell[:1]],
            )
        mid = (shell[:, 0].min() + shell[:, 0].max()) / 2
        holes = []
        for ring in poly.interiors:
            hole = _unwrap(np.asarray(ring.coords))
            hole[:, 0] += 360.0 * np.round((mid - hole[:, 0].mean()) / 360.0)
            holes.append(hole)
        unwrapped = shapely.make_valid(shapely.Polygon(shell, holes))
        for k, window in _WINDOWS:
            part = shapely.intersection(unwrapped, window)
            if not part.is_empty:
                pieces.extend(
                    _polygons(shapely.transform(part, lambda xy, k=k: xy - [360.0 * k, 0]))
                )
    merged = shapely.union_all(pieces)
    return merged


def _polygons(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """The polygonal parts of a geometry (intersections can add lines and points)."""
    return [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]


def _to_projected(lonlat: np.ndarray, target: str, info: CRS) -> np.ndarray:
    """Clip to the target's area of use (poles do not exist in Web Mercator) and project."""
    area = info.area_of_use
    if area is not None and (area.south > -90 or area.north < 90):
        # clip only what leaves the area, so everything else keeps its vertices
        bounds = shapely.bounds(lonlat)
        outside = np.flatnonzero((bounds[:, 1] < area.south) | (bounds[:, 3] > area.north))
        if len(outside):
            lonlat = lonlat.copy()
            clip = shapely.box(-180, max(area.south, -90), 180, min(area.north, 90))
            clipped = shapely.intersection(lonlat[outside], clip)
            clipped = [_polygonal(g) for g in clipped]
            lonlat[outside] = clipped
    return _apply(_transformer(WGS84, target), lonlat)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygonal part of a clipped geometry, or None when nothing is left."""
    parts = _polygons(geom)
    return shapely.union_all(parts) if parts else None


def _make_valid(geoms: np.ndarray) -> np.ndarray:
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    for i in bad:
        fixed = _polygons(shapely.make_valid(geoms[i], method="structure"))
        geoms[i] = shapely.union_all(fixed) if fixed else None
    return geoms


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
    out: list[Any] = []
    for geom, code in zip(geoms, crs, strict=True):
        if geom is None or shapely.is_missing(geom) or shapely.is_empty(geom):
            out.append(None)
            continue
        body = shapely.geometry.mapping(geom)
        out.append(
            {
                "type": body["type"],
                "crs": {"type": "name", "properties": {"name": crs_urn(code or WGS84)}},
                "coordinates": _lists(body["coordinates"]),
            }
        )
    return out


def _lists(value: Any) -> Any:
    """Tuples from shapely's mapping -> lists, as JSON has them."""
    if isinstance(value, tuple | list):
        return [_lists(v) for v in value]
    return value
