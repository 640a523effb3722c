"""Grouped vectorised reprojection, densifying, antimeridian and poles.

Everything here works on whole arrays of geometries (CRS names from `byocframe.geo.crs`,
GeoJSON read by `byocframe.geo.geojson`). The only per-geometry Python work is repairing
the few geometries that cross the antimeridian or contain a pole.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer

from byocframe.geo import densify as densifying
from byocframe.geo.crs import WGS84, parse_crs
from byocframe.geo.densify import refine_edges, segment_length, split_long_edges
from byocframe.geo.geojson import ParsedGeometries, Ragged

__all__ = [
    "DEFAULT_DENSIFY",
    "antimeridian_bbox",
    "reproject",
    "reproject_parsed",
    "transformer",
]

#: Default longest edge, in metres, before reprojection: none, the tolerance decides
#: (`byocframe.geo.densify.DENSIFY_TOLERANCE`). Until December 2026 it was 10 km: 1.6
#: times the vertices of adaptive densifying on a synthetic world listing, 36 m off at
#: worst where adaptive stays within 5 m (docs/benchmarks.md).
DEFAULT_DENSIFY = float("inf")
#: how far (degrees) inside +-180 the ends of a lon/lat edge along a parallel may be for
#: the edge to be read as the whole parallel, not as a step across the antimeridian
#: (float noise: ``numpy.nextafter(180.0, 0.0)`` is a bound of 180 as drawn)
WHOLE_TURN_SLACK = 1e-9


@functools.lru_cache(maxsize=256)
def transformer(src: str, dst: str) -> Transformer:
    """The (cached) x/y-ordered pyproj Transformer from ``src`` to ``dst``.

    pyproj keeps a per-thread PROJ object inside, so one Transformer serves all threads.

    Examples
    --------
    >>> transformer("EPSG:4326", "EPSG:3857") is transformer("EPSG:4326", "EPSG:3857")
    True
    """
    return Transformer.from_crs(str(src), str(dst), always_xy=True)


def _apply(transformer: Transformer, geoms: np.ndarray) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, fn)


_CHUNK = 200_000  # coordinates per pyproj call when transforming on several threads
#: Fewer coordinates than this in one call are transformed on the calling thread: the
#: pool's hand-offs cost more CPU than the threads save (20,000 tiles: 0.16 s more CPU
#: for the build on threads, and no shorter on a busy machine; docs/benchmarks.md).
_THREADED = 2 * _CHUNK


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
        x, y = xy[rows, 0], xy[rows, 1]  # copies already: transformed where they are
        transformer.transform(x, y, inplace=True)
        xy[rows, 0], xy[rows, 1] = x, y

    threads = min(4, os.cpu_count() or 1)
    if threads < 2 or sum(len(rows) for _, rows in work) < _THREADED:
        for item in work:
            run(item)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(run, work))


@functools.lru_cache(maxsize=256)
def _poles_in(crs: str) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """Where the north and south poles land in ``crs`` (None when they do not)."""
    out: list[tuple[float, float] | None] = []
    for lat in (90.0, -90.0):
        x, y = transformer(WGS84, crs).transform(0.0, lat)
        out.append((x, y) if np.isfinite(x) and np.isfinite(y) else None)
    return out[0], out[1]


def reproject(
    geoms: np.ndarray,
    crs: np.ndarray,
    target: str = WGS84,
    *,
    densify: float | None = DEFAULT_DENSIFY,
    clip: bool = True,
    tolerance: float | None = None,
) -> np.ndarray:
    """Reproject geometries that each carry their own CRS, grouped by CRS.

    All coordinates go through one flat array: edges are densified in the source CRS
    so straight UTM edges come out curved as they should, then each CRS group is
    transformed in one pyproj call. Densifying is adaptive: an edge is halved, round
    after round, only where the straight lon/lat chord between its transformed ends
    passes farther than ``tolerance`` metres from the true image of its midpoint
    (`byocframe.geo.densify.refine_edges`). Results that cross the antimeridian are cut
    into parts inside [-180, 180], and tiles that contain a pole become polar caps.
    Every result is a valid MultiPolygon (or None). The same geometry gives the same
    vertices, bit for bit, whatever else is reprojected with it.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries (or None)
    crs : numpy.ndarray of str
        ``"EPSG:<code>"`` per geometry (see `parse_crs`).
    target : str
        The CRS to reproject into.
    densify : float or None, default inf
        Longest edge, in metres, before reprojecting (edges are first cut into equal
        pieces no longer than this; inf: no limit, the tolerance decides). None: no
        densifying at all, only the vertices given are transformed.
    clip : bool
        Clip to the target's area of use in latitude (a map: Web Mercator has no
        poles). False keeps every vertex, e.g. to take a cover back into its own CRS.
    tolerance : float or None
        Metres an edge's lon/lat chord may pass from the true curve; None reads
        `byocframe.geo.densify.DENSIFY_TOLERANCE` (5 m); inf turns adaptive
        densifying off (``densify=10_000, tolerance=inf`` is the behaviour before
        December 2026). Ignored when ``densify`` is None.

    Raises
    ------
    TypeError
        If ``tolerance`` is not a number.
    ValueError
        If ``tolerance`` is not a positive number.

    Examples
    --------
    >>> import shapely, numpy as np
    >>> square = shapely.box(300000, 6900000, 600000, 7200000)  # 300 km, UTM 28N
    >>> out = reproject(np.array([square]), np.array(["EPSG:32628"]))
    >>> out[0].geom_type, int(shapely.get_num_coordinates(out[0]))  # curved within 5 m
    ('MultiPolygon', 88)
    >>> uniform = reproject(
    ...     np.array([square]), np.array(["EPSG:32628"]), densify=10_000, tolerance=np.inf)
    >>> int(shapely.get_num_coordinates(uniform[0]))  # 10 km steps, as before
    121
    """
    geoms = np.asarray(geoms, dtype=object)
    ragged = Ragged.from_geometries(geoms)
    steps = _Steps.of(densify, tolerance)
    return _reproject(ragged, geoms, np.asarray(crs, dtype=object), target, steps, clip)


def reproject_parsed(
    parsed: ParsedGeometries,
    target: str = WGS84,
    *,
    densify: float | None = DEFAULT_DENSIFY,
    tolerance: float | None = None,
) -> np.ndarray:
    """`reproject` for the output of `parse_geojson`, reusing its flat coordinates."""
    if parsed.ragged is None:
        return reproject(parsed.geoms, parsed.crs, target, densify=densify, tolerance=tolerance)
    steps = _Steps.of(densify, tolerance)
    return _reproject(parsed.ragged, parsed.geoms, parsed.crs, target, steps)


@dataclass(frozen=True)
class _Steps:
    """How to densify: the longest edge and the chord tolerance, in metres."""

    longest: float | None
    tolerance: float

    @classmethod
    def of(cls, densify: float | None, tolerance: float | None) -> _Steps:
        if tolerance is None:
            tolerance = densifying.DENSIFY_TOLERANCE
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.floating)):
            raise TypeError(f"tolerance must be a number of metres, not {type(tolerance).__name__}")
        if not tolerance > 0:
            raise ValueError(
                f"tolerance must be a positive number of metres (inf: no adaptive "
                f"densifying), not {tolerance}"
            )
        return cls(densify or None, float(tolerance))


def _reproject(
    ragged: Ragged,
    geoms: np.ndarray,
    crs: np.ndarray,
    target: str,
    steps: _Steps,
    clip: bool = True,
) -> np.ndarray:
    target = target if str(target).upper().startswith("EPSG:") else parse_crs(target)
    present = np.diff(ragged.geom_off) > 0
    if not present.any():
        return np.full(len(geoms), None, dtype=object)
    unique, inverse = _distinct(ragged, crs, present)
    if len(unique) < 0.9 * len(geoms):
        # the same grid cell on many dates: reproject each distinct footprint once
        sub = _reproject(
            Ragged.from_geometries(geoms[unique]),
            geoms[unique],
            crs[unique],
            target,
            steps,
            clip,
        )
        return sub[inverse]
    codes = np.where(present, crs, WGS84).astype(object)
    xy, ring_off = _densified_lonlat(ragged, codes, target, steps)
    wraps = np.zeros(len(geoms), dtype=bool)
    if len(xy):
        # crossing the antimeridian shows as a jump of more than 180 degrees in longitude
        starts = ring_off[ragged.poly_off[ragged.geom_off[:-1][present]]]
        west = np.minimum.reduceat(xy[:, 0], starts)
        east = np.maximum.reduceat(xy[:, 0], starts)
        wraps[present] = (east - west > 180) | (west < -180) | (east > 180)
    lonlat = Ragged(xy, ring_off, ragged.poly_off, ragged.geom_off).geometries()
    lonlat = _fix_antimeridian(lonlat, wraps, _pole_flags(geoms, codes, present))
    if target != WGS84:
        lonlat = _to_projected(lonlat, target, CRS.from_user_input(target), clip)
    out = _as_multi(_make_valid(lonlat))
    same = np.flatnonzero(present & (codes == target) & (target != WGS84))
    if len(same):  # already in the target CRS: keep the coordinates as they were
        out[same] = _as_multi(np.asarray(geoms[same], dtype=object))
    return out


def _densified_lonlat(
    ragged: Ragged, codes: np.ndarray, target: str, steps: _Steps
) -> tuple[np.ndarray, np.ndarray]:
    """Every ring densified as ``steps`` asks and transformed to lon/lat; new ring offsets."""
    unique_codes, inverse = np.unique(codes.astype(str), return_inverse=True)
    uniq = [str(c) for c in unique_codes]
    xy, ring_off = ragged.xy, ragged.ring_off
    ring_code = inverse[ragged.ring_geometry()]
    # nothing to densify when a geometry is already in the target CRS; a lon/lat edge is
    # its own chord, so only a length limit cuts it
    curved = np.array([c not in (target, WGS84) for c in uniq])
    if WGS84 in uniq:
        xy, ring_off = _whole_turns(xy, ring_off, ring_code == uniq.index(WGS84))
    if steps.longest is not None and np.isfinite(steps.longest):
        lengths = [np.inf if c == target else segment_length(c, steps.longest) for c in uniq]
        xy, ring_off = split_long_edges(xy, ring_off, np.array(lengths)[ring_code])
    src = xy
    xy = xy.copy()
    point_code = ring_code[np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))]
    to_wgs84 = [transformer(code, WGS84) if code != WGS84 else None for code in uniq]

    def transform(points: np.ndarray, code: np.ndarray) -> None:
        # the rows of each CRS in one sort (not one pass over all points per CRS: a
        # world listing has ~120 UTM zones, and densifying calls this round after round)
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(to_wgs84) + 1)).tolist()
        groups = [
            (to, order[bounds[k] : bounds[k + 1]])
            for k, to in enumerate(to_wgs84)
            if to is not None and bounds[k + 1] > bounds[k]
        ]
        _transform_groups(groups, points)

    transform(xy, point_code)
    if steps.longest is None or not np.isfinite(steps.tolerance):
        return xy, ring_off
    shortest = np.array([segment_length(c, steps.tolerance) for c in uniq])
    return refine_edges(
        src,
        xy,
        ring_off,
        np.where(curved[ring_code], ring_code, -1),
        transform,
        tolerance=steps.tolerance,
        shortest=shortest[ring_code],
    )


def _whole_turns(
    xy: np.ndarray, ring_off: np.ndarray, lonlat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat edges from one side of the antimeridian to the other along a parallel, cut.

    A jump of more than 180 degrees between two vertices is read as crossing the
    antimeridian, the short way. An edge from -180 to 180 (or back) at one latitude
    has no short way: both ends are the same point, and the only edge it can be is the
    whole parallel (ends within `WHOLE_TURN_SLACK` of +-180 count as there), as in a
    global ``box(-180, -85, 180, 85)``. Such an edge gets three vertices between its
    ends (at -90, 0 and 90), so no step is longer than 90 degrees
    and it is read as drawn. ``lonlat`` flags the rings whose CRS is lon/lat.

    Examples
    --------
    >>> ring = np.array([[180, -85], [180, 85], [-180, 85], [-180, -85], [180, -85.0]])
    >>> xy, off = _whole_turns(ring, np.array([0, 5]), np.array([True]))
    >>> xy[:, 0].tolist(), off.tolist()
    ([180.0, 180.0, 90.0, 0.0, -90.0, -180.0, -180.0, -90.0, 0.0, 90.0, 180.0], [0, 11])
    """
    if len(xy) < 2 or not lonlat.any():
        return xy, ring_off
    dx = np.diff(xy[:, 0])
    # ends at +-180 up to float noise (one float step inside 180 is what arithmetic
    # on 180 often gives; read the short way, such a box was a sliver)
    edge = (
        (np.abs(dx) >= 360.0 - 2 * WHOLE_TURN_SLACK)
        & (np.abs(xy[:-1, 0]) >= 180.0 - WHOLE_TURN_SLACK)
        & (np.diff(xy[:, 1]) == 0)
    )
    # an edge joins two points of one ring, of a lon/lat ring
    ring_of = np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))
    edge &= ring_of[:-1] == ring_of[1:]
    edge &= lonlat[ring_of[:-1]]
    at = np.flatnonzero(edge)
    if len(at) == 0:
        return xy, ring_off
    fractions = np.array([0.25, 0.5, 0.75])
    added = xy[at, None, :] + np.stack([dx[at, None] * fractions, np.zeros((len(at), 3))], axis=2)
    out = np.insert(xy, np.repeat(at + 1, 3), added.reshape(-1, 2), axis=0)
    # each ring's start moves by the points added in the rings before it (an edge's new
    # points go strictly inside its ring: before its ring's end)
    return out, ring_off + 3 * np.searchsorted(at + 1, ring_off, side="left")


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


def _pole_flags(src: np.ndarray, codes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """+1 where a geometry (in its own CRS) contains the north pole, -1 the south pole."""
    flags = np.zeros(len(src), dtype=np.int8)
    bounds = shapely.bounds(src)  # NaN for missing geometries: never around a pole
    for code in np.unique(codes[present].astype(str)):
        if code == WGS84:
            continue  # a lon/lat polygon cannot enclose a pole without touching it
        group = np.flatnonzero(present & (codes == code))
        north, south = _poles_in(str(code))
        for sign, pole in ((1, north), (-1, south)):
            if pole is None:
                continue
            box = bounds[group]
            around = group[
                (box[:, 0] <= pole[0])
                & (pole[0] <= box[:, 2])
                & (box[:, 1] <= pole[1])
                & (pole[1] <= box[:, 3])
            ]
            flags[around[shapely.intersects_xy(src[around], *pole)]] = sign
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
        # "structure": the default repair and a union of what it leaves grow with the
        # square of the vertices (5 s for a 10,000-vertex self-crossing ring)
        unwrapped = shapely.make_valid(shapely.Polygon(shell, holes), method="structure")
        for k, window in _WINDOWS:
            part = shapely.intersection(unwrapped, window)
            if not part.is_empty:
                pieces.extend(
                    _polygons(shapely.transform(part, lambda xy, k=k: xy - [360.0 * k, 0]))
                )
    return _joined(pieces) if pieces else shapely.GeometryCollection()


def _polygons(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """The polygonal parts of a geometry (intersections can add lines and points)."""
    return [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]


def _to_projected(lonlat: np.ndarray, target: str, info: CRS, clip: bool = True) -> np.ndarray:
    """Clip to the target's area of use (poles do not exist in Web Mercator) and project.

    Only a world CRS's band of latitudes is clipped (its area spans every longitude, as
    Web Mercator's): a regional CRS (ETRS89-LAEA Europe, a UTM zone) draws what lies
    outside its area too, as geopandas' ``to_crs`` does, less accurately; clipping to
    its latitudes left tiles elsewhere without any geometry.
    """
    area = info.area_of_use
    world = area is not None and area.west <= -179.9 and area.east >= 179.9
    if clip and world and area is not None and (area.south > -90 or area.north < 90):
        # clip only what leaves the area, so everything else keeps its vertices
        bounds = shapely.bounds(lonlat)
        outside = np.flatnonzero((bounds[:, 1] < area.south) | (bounds[:, 3] > area.north))
        if len(outside):
            lonlat = lonlat.copy()
            window = shapely.box(-180, max(area.south, -90), 180, min(area.north, 90))
            clipped = shapely.intersection(lonlat[outside], window)
            clipped = [_polygonal(g) for g in clipped]
            lonlat[outside] = clipped
    return _apply(transformer(WGS84, target), lonlat)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygonal part of a clipped geometry, or None when nothing is left."""
    parts = _polygons(geom)
    return shapely.union_all(parts) if parts else None


def _make_valid(geoms: np.ndarray) -> np.ndarray:
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    for i in bad:
        # part by part: GEOS repairs a MultiPolygon by a union of its repaired parts, in
        # time that grows with the square of their number (2.2 s for one 10,000-vertex
        # self-crossing comb given as a MultiPolygon, 0.1 s as a Polygon)
        parts = shapely.make_valid(shapely.get_parts(geoms[i]), method="structure")
        fixed = [p for part in parts for p in _polygons(part)]
        geoms[i] = _joined(fixed) if fixed else None
    return geoms


def _joined(polygons: list[shapely.Geometry]) -> shapely.Geometry:
    """One (Multi)Polygon of the polygonal parts of a repaired geometry.

    The "structure" repair gives parts that do not overlap: they already form a valid
    MultiPolygon, checked in near-linear time. `shapely.union_all` of the same parts
    costs time that grows with the square of their number (2.2 s for the 5,000 teeth
    of a 10,000-vertex self-crossing comb): it runs only when the check fails.
    """
    parts = shapely.get_parts(np.asarray(polygons, dtype=object))
    if len(parts) == 1:
        return parts[0]
    joined = shapely.MultiPolygon(list(parts))
    return joined if joined.is_valid else shapely.union_all(parts)


def antimeridian_bbox(boxes: Sequence[Sequence[float]]) -> list[float]:
    """The STAC ``bbox`` of a lon/lat geometry from its parts' boxes; west > east across 180.

    A geometry cut at the antimeridian has parts ending at +180 and parts starting at
    -180; unless one part goes round the globe (a polar cap), its box spans the
    antimeridian.

    Examples
    --------
    >>> antimeridian_bbox([(179, 0, 180, 1), (-180, 0, -179, 1)])
    [179.0, 0.0, -179.0, 1.0]
    """
    west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
    east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
    eastern = [b for b in boxes if b[0] > 0]
    western = [b for b in boxes if b[2] < 0]
    if (
        eastern
        and western
        and len(eastern) + len(western) == len(boxes)
        and max(b[2] for b in eastern) >= 180
        and min(b[0] for b in western) <= -180
    ):
        west, east = min(b[0] for b in eastern), max(b[2] for b in western)
    return [float(west), float(south), float(east), float(north)]
