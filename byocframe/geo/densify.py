"""Densifying edges before reprojection: by length, and adaptively by the error they show.

A straight edge in a tile's own CRS (UTM, polar stereographic) is a curve in longitude
and latitude. `split_long_edges` cuts every edge into equal pieces no longer than a
length; `refine_edges` adds a vertex only where the straight lon/lat chord between two
transformed vertices is farther than a tolerance from the true image of the edge, so a
north-south edge near a zone's central meridian keeps its two ends and an east-west edge
at 70 N gets the points it needs. Both work on shapely's ragged layout (one ``(n, 2)``
coordinate array plus ring offsets) for a whole listing at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from pyproj import CRS

__all__ = [
    "DENSIFY_TOLERANCE",
    "chord_error",
    "refine_edges",
    "segment_length",
    "split_long_edges",
]

#: Default tolerance, in metres, of adaptive densifying: an edge is split while the
#: straight lon/lat chord between its transformed ends (or the great circle between
#: them) passes farther than this from the true image of its midpoint. Measured in
#: ``benchmarks/bench_frames.py``: see ``docs/design/frames.md``.
DENSIFY_TOLERANCE = 5.0

_EARTH_RADIUS = 6_371_008.8  # metres, the mean radius: errors are estimates, not surveys
_METRES_PER_DEGREE = np.pi * _EARTH_RADIUS / 180.0

#: Transforms the ``(k, 2)`` source points in place into lon/lat; the second argument
#: holds the CRS group (an index into the caller's transformers) of each point.
Transform = Callable[[np.ndarray, np.ndarray], None]


@functools.lru_cache(maxsize=256)
def segment_length(crs: str, metres: float) -> float:
    """A length in metres in the CRS's own units (degrees for lon/lat, at the equator).

    Examples
    --------
    >>> segment_length("EPSG:32633", 10_000.0)
    10000.0
    >>> round(segment_length("EPSG:4326", 111_320.0), 3)
    1.0
    """
    info = CRS.from_user_input(crs)
    if info.is_geographic:
        return metres / 111_320.0
    factor = info.axis_info[0].unit_conversion_factor or 1.0
    return metres / factor


def _next_index(n: int, ring_off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's successor in its ring (itself for a ring's last point), and that mask."""
    last = np.zeros(n, dtype=bool)
    last[ring_off[1:] - 1] = True
    nxt = np.arange(1, n + 1)
    nxt[last] = np.flatnonzero(last)
    return nxt, last


def split_long_edges(
    xy: np.ndarray, ring_off: np.ndarray, step: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cut every edge into equal pieces no longer than its ring's ``step``.

    Parameters
    ----------
    xy : numpy.ndarray
        ``(n, 2)`` coordinates of all rings, each ring closed (last point = first).
    ring_off : numpy.ndarray
        Where each ring starts in ``xy``, and the end.
    step : numpy.ndarray
        The longest edge allowed in each ring, in coordinate units (``inf``: no limit).

    Returns
    -------
    tuple of numpy.ndarray
        The new coordinates and ring offsets.

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 1.0], [0.0, 0.0]])
    >>> dense, off = split_long_edges(xy, np.array([0, 4]), np.array([4.0]))
    >>> len(dense), off.tolist()  # 10 and 10.05 units in 3 pieces, 1 unit in 1
    (8, [0, 8])
    """
    n = len(xy)
    if n == 0:
        return xy.copy(), ring_off
    nxt, _ = _next_index(n, ring_off)
    delta = xy[nxt] - xy
    point_ring = np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))
    with np.errstate(invalid="ignore", divide="ignore"):
        pieces = np.ceil(np.hypot(delta[:, 0], delta[:, 1]) / step[point_ring])
    pieces = np.maximum(np.nan_to_num(pieces, nan=1.0), 1).astype(np.int64)
    source = np.repeat(np.arange(n), pieces)
    first = np.cumsum(pieces) - pieces
    frac = (np.arange(len(source)) - first[source]) / pieces[source]
    dense = xy[source] + delta[source] * frac[:, None]
    offsets = np.concatenate([[0], np.cumsum(pieces)])[ring_off]
    return dense, offsets


def chord_error(a: np.ndarray, b: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Metres between the true midpoint of edges and what the edges' ends show of it.

    ``a``, ``b``: the edges' transformed ends (``(k, 2)`` lon/lat); ``mid``: the
    transformed midpoint of each edge in its own CRS. The larger of two distances: from
    the midpoint of the straight lon/lat chord (what a planar map and shapely draw; a
    chord across the antimeridian is taken the short way, as the cut at 180 degrees
    unwraps it) and from the midpoint of the great circle (what a geodesic area
    measures between the two vertices; they part near the poles).

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.array([[10.0, 60.0]]), np.array([[12.0, 60.0]])
    >>> on_parallel = np.array([[11.0, 60.0]])  # the lon/lat chord, not the great circle
    >>> int(chord_error(a, b, on_parallel)[0])  # the great circle bulges 420 m north
    420
    """
    return np.maximum(_planar_error(a, b, mid), _great_error(a, b, mid))


def _planar_error(a: np.ndarray, b: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Metres from ``mid`` to the midpoint of the straight lon/lat chord from a to b."""
    lon_ab = (b[:, 0] - a[:, 0] + 180.0) % 360.0 - 180.0
    centre_lat = (a[:, 1] + b[:, 1]) / 2
    d_lon = (mid[:, 0] - (a[:, 0] + lon_ab / 2) + 180.0) % 360.0 - 180.0
    d_lat = mid[:, 1] - centre_lat
    return _METRES_PER_DEGREE * np.hypot(d_lon * np.cos(np.radians(mid[:, 1])), d_lat)


def _great_error(a: np.ndarray, b: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """Metres from ``mid`` to the midpoint of the great circle from a to b."""
    # the normalised sum of the two unit vectors (a sphere is close enough for a test
    # that only decides where to add a vertex)
    va, vb, vm = _unit(a), _unit(b), _unit(mid)
    total = va + vb
    norm = np.linalg.norm(total, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        great = _EARTH_RADIUS * np.linalg.norm(total / norm[:, None] - vm, axis=1)
    # antipodal ends have no one great circle: always worth splitting
    return np.where(np.isfinite(great), great, np.inf)


def _round_error(a: np.ndarray, b: np.ndarray, mid: np.ndarray, tolerance: float) -> np.ndarray:
    """`chord_error` where a round needs it exactly; the planar distance where it is larger.

    A round decides ``error > tolerance`` and forecasts the halves of a split piece
    (``error / 4``); a planar distance above ``4 * _SMOOTH_MARGIN * tolerance`` decides
    both alone (the larger of the two is larger still), so the trigonometry of the great
    circle (most of the cost) is spent on the other pieces only. NaN stays NaN.
    """
    with np.errstate(invalid="ignore"):
        error = _planar_error(a, b, mid)
        check = np.flatnonzero(error <= 4 * _SMOOTH_MARGIN * tolerance)
        if len(check):
            error[check] = np.maximum(error[check], _great_error(a[check], b[check], mid[check]))
    return error


def _unit(lonlat: np.ndarray) -> np.ndarray:
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def refine_edges(
    src: np.ndarray,
    lonlat: np.ndarray,
    ring_off: np.ndarray,
    group: np.ndarray,
    transform: Transform,
    *,
    tolerance: float,
    shortest: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Split edges, round after round, where their lon/lat chord misses the true curve.

    A first cut splits each edge into equal pieces, as many as its midpoint's error
    asks for; then each round transforms the source-CRS midpoints of every piece still
    open (one call for all of them, grouped by CRS), keeps those whose `chord_error`
    exceeds ``tolerance`` as new vertices, and opens both halves, unless the piece bends
    evenly and a quarter of its error is clearly within the tolerance (the halves are
    then final, as the first cut's pieces are). A vertex depends only on its own edge,
    so a geometry gets the same vertices whatever listing it is in.

    Parameters
    ----------
    src : numpy.ndarray
        ``(n, 2)`` coordinates of closed rings in their own CRS.
    lonlat : numpy.ndarray
        The same points transformed into lon/lat.
    ring_off : numpy.ndarray
        Ring offsets into both.
    group : numpy.ndarray
        The CRS group of each ring (passed to ``transform``); -1 leaves a ring as it is.
    transform : callable
        ``transform(points, groups)`` transforms ``(k, 2)`` source points in place.
    tolerance : float
        Metres a chord may pass from the true midpoint.
    shortest : numpy.ndarray
        Per ring, the source-CRS length under which an edge is not split again (this
        bounds the rounds where the transform is singular, e.g. at a pole).

    Returns
    -------
    tuple of numpy.ndarray
        The lon/lat coordinates with the added vertices, and their ring offsets.

    Examples
    --------
    >>> import numpy as np
    >>> from pyproj import Transformer
    >>> utm = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    >>> def to_lonlat(points, groups):
    ...     points[:, 0], points[:, 1] = utm.transform(points[:, 0], points[:, 1])
    >>> ring = np.array([[400e3, 7e6], [510e3, 7e6], [510e3, 7.11e6], [400e3, 7e6]])
    >>> ll = ring.copy()
    >>> to_lonlat(ll, None)
    >>> out, off = refine_edges(
    ...     ring, ll, np.array([0, 4]), np.array([0]), to_lonlat,
    ...     tolerance=5.0, shortest=np.array([5.0]))
    >>> off.tolist()  # 4 vertices in, 27 out: the edges at 63 N are curves
    [0, 27]
    """
    n = len(src)
    nxt, last = _next_index(n, ring_off)
    point_ring = np.repeat(np.arange(len(ring_off) - 1), np.diff(ring_off))
    open_edge = np.flatnonzero(~last & (group[point_ring] >= 0))
    edge_len = np.hypot(*(src[nxt[open_edge]] - src[open_edge]).T)
    limit = shortest[point_ring[open_edge]]
    # an open edge: its first point, its span [t0, t1] of the whole edge, its ends
    edge = np.arange(len(open_edge))
    t0, t1 = np.zeros(len(edge)), np.ones(len(edge))
    a, b = lonlat[open_edge], lonlat[nxt[open_edge]]
    added_edge, added_t, added_xy = [], [], []
    if len(edge):
        edge, t0, t1, a, b, first = _first_cut(
            src, nxt, open_edge, (a, b), group[point_ring], transform, tolerance, edge_len / limit
        )
        added_edge.append(first[0])
        added_t.append(first[1])
        added_xy.append(first[2])
    while len(edge):
        tm = (t0 + t1) / 2
        start = open_edge[edge]
        mid = src[start] + (src[nxt[start]] - src[start]) * tm[:, None]
        transform(mid, group[point_ring[start]])
        error = _round_error(a, b, mid, tolerance)
        with np.errstate(invalid="ignore"):
            split = error > tolerance
            split &= edge_len[edge] * (t1 - t0) > limit[edge]
            # the halves of a piece that bends evenly on its own scale: forecast as in
            # the first cut (a quarter of its error), tested only on a close call
            final = error <= 4 * _SMOOTH_MARGIN * tolerance
        final &= split & _smooth(a, b, mid, error)
        added_edge.append(edge[split])
        added_t.append(tm[split])
        added_xy.append(mid[split])
        keep = np.flatnonzero(split & ~final)
        edge = np.concatenate([edge[keep], edge[keep]])
        t0, t1 = np.concatenate([t0[keep], tm[keep]]), np.concatenate([tm[keep], t1[keep]])
        a = np.concatenate([a[keep], mid[keep]])
        b = np.concatenate([mid[keep], b[keep]])
    return _insert(
        lonlat,
        ring_off,
        open_edge[np.concatenate([np.zeros(0, dtype=np.int64), *added_edge])],
        np.concatenate([np.zeros(0), *added_t]),
        np.concatenate([np.zeros((0, 2)), *added_xy]),
    )


#: At most this many equal pieces in the first cut of an edge: the error shrinks with the
#: square of the length only where the curve is smooth on the edge's scale, and near a
#: pole it is not (more pieces there gave 50 % more vertices than halving alone).
_FIRST_CUT = 16


#: Where the image of an edge is smooth on the edge's scale (`_smooth`), the pieces of its
#: first cut are not tested again when the quadratic law forecasts each within this
#: fraction of the tolerance: it holds there to a few per cent, and testing every piece's
#: midpoint cost as much as the rest of the build (``benchmarks/bench_frames.py``).
_SMOOTH_MARGIN = 0.85

#: An edge is smooth when it is this many times shorter than its distance to the nearer
#: pole (polar stereographic and UTM are smooth away from the poles; the curve of an edge
#: next to a pole turns within the edge's own length).
_POLE_DISTANCES = 4.0


def _smooth(a: np.ndarray, b: np.ndarray, mid: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Edges whose lon/lat image bends evenly: short against their distance to a pole."""
    lon = np.abs((b[:, 0] - a[:, 0] + 180.0) % 360.0 - 180.0)
    highest = np.maximum(np.maximum(np.abs(a[:, 1]), np.abs(b[:, 1])), np.abs(mid[:, 1]))
    with np.errstate(invalid="ignore"):
        length = np.hypot(lon * np.cos(np.radians(highest)), b[:, 1] - a[:, 1])
        return np.isfinite(error) & (_POLE_DISTANCES * length < 90.0 - highest)


def _first_cut(
    src: np.ndarray,
    nxt: np.ndarray,
    open_edge: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray],
    group: np.ndarray,
    transform: Transform,
    tolerance: float,
    most: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Cut each edge at once into as many equal pieces as its midpoint's error asks for.

    A chord's error shrinks with the square of its length, so an edge whose midpoint is
    off by e needs about ceil(sqrt(e / tolerance)) pieces; halving goes on only where
    that was not enough (halving alone gives powers of two: 10 to 15 % more vertices on
    UTM tiles). Where the edge's image is smooth (`_smooth`) and the forecast is not
    a close call (`_SMOOTH_MARGIN`), its pieces are final. Returns the pieces still
    open (edge, t0, t1, lon/lat ends) and the vertices added.
    """
    start, stop = src[open_edge], src[nxt[open_edge]]
    mid = start + (stop - start) * 0.5
    transform(mid, group[open_edge])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        error = chord_error(ends[0], ends[1], mid)
        pieces = np.ceil(np.sqrt(np.nan_to_num(error / tolerance, nan=1.0, posinf=4.0)))
    pieces = np.minimum(pieces, _FIRST_CUT)
    pieces = np.clip(pieces, 1, np.maximum(np.floor(most), 1)).astype(np.int64)
    # the quadratic law's forecast for each piece; a close call is tested all the same
    with np.errstate(invalid="ignore"):
        sure = error / pieces**2 <= _SMOOTH_MARGIN * tolerance
    smooth = sure & _smooth(ends[0], ends[1], mid, error)
    cut = np.flatnonzero(pieces > 1)  # the others are done: within the tolerance, or short
    edge = np.repeat(cut, pieces[cut])
    j = np.arange(len(edge)) - np.repeat(np.cumsum(pieces[cut]) - pieces[cut], pieces[cut])
    t0, t1 = j / pieces[edge], (j + 1) / pieces[edge]
    inner = np.flatnonzero(j > 0)
    first = open_edge[edge[inner]]
    points = src[first] + (src[nxt[first]] - src[first]) * t0[inner][:, None]
    transform(points, group[first])
    # the ends of the pieces tested again only (most pieces of UTM edges are final): a
    # piece starts at its inner point (or the edge's start) and ends where the next
    # piece of its edge starts (or at the edge's end)
    still = np.flatnonzero(~smooth[edge])
    point_of = np.cumsum(j > 0) - 1  # a piece's inner point in `points` (where j > 0)
    a = ends[0][edge[still]]
    starts = np.flatnonzero(j[still] > 0)
    a[starts] = points[point_of[still[starts]]]
    b = ends[1][edge[still]]
    goes_on = np.flatnonzero(j[still] < pieces[edge[still]] - 1)
    b[goes_on] = points[point_of[still[goes_on] + 1]]
    added = (edge[inner], t0[inner], points)
    return edge[still], t0[still], t1[still], a, b, added


def _insert(
    xy: np.ndarray, ring_off: np.ndarray, after: np.ndarray, t: np.ndarray, new: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Put each ``new`` point after point ``after``, ordered by ``t`` along its edge."""
    n = len(xy)
    order = np.lexsort((t, after))
    after, new = after[order], new[order]
    counts = np.bincount(after, minlength=n)
    shift = np.concatenate([[0], np.cumsum(counts)])
    position = np.arange(n + 1) + shift  # where each old point (and the end) goes
    out = np.empty((n + len(new), 2))
    out[position[:-1]] = xy
    rank = np.arange(len(new)) - shift[after]
    out[position[after] + 1 + rank] = new
    return out, position[ring_off]
