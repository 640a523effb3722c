"""Areas covered by at least 1, 2, 3, ... of a set of planar polygons, without unions.

The area of a region is the integral of ``(x dy - y dx) / 2`` along its boundary
(Green's theorem). The boundary of "covered by at least k polygons" is made of the
pieces of polygon edges along which exactly ``k - 1`` *other* polygons lie: inside a
polygon (on the left of its counter-clockwise edges) the depth is one more than
outside it. So the whole depth profile follows from one pass over the edges:

1. snap the vertices to an integer grid (``resolution``, 0.1 m by default), so that every
   orientation test is exact integer arithmetic;
2. find every pair of edges, of different polygons, that cross: a bucket grid joins the
   edges, so the work grows with the edges and their crossings, never with the square
   of the polygon count. Edges equal once snapped (copies of a footprint with float
   noise below the grid) form one class: classes are compared, not edges;
3. count, for the first vertex of each ring, the other polygons that hold it (a ray
   test), then walk the edges: every crossing enters or leaves other polygons;
4. add each piece of edge to the depth levels it bounds.

A class is walked once, not once per member: a proper crossing changes the depth along
every member alike (one event per class), and only a tie at a shared vertex depends
on where the member's polygon comes in the perturbation order (below); those are
summed per member from prefix sums over that order. Each piece of a class then adds
its term at the levels ``d + u + 1 .. d + u + w`` of each member (``d`` where the
member's depth starts, ``u`` the change along the class so far, ``w`` its copies), and
with ``deepest`` only the levels asked for are visited: the work grows with the
members plus the crossings of classes, not with their product, however many copies of
one footprint are stacked.

Polygons equal once snapped are merged first and counted with a weight, so the same
footprint on many dates costs no more than once; near-identical ones share their edge
classes, and rings that start at the same point share one ray test. Other degenerate
input (shared edges, a vertex on another polygon's edge, near-copies that snap
together) is made general by symbolic perturbation: polygon ``i`` is taken as
translated by ``(i * eps, i * eps**2)`` for an infinitely small ``eps``. Every test then
has a strict answer, the answers agree with one another, and the areas are the limit
as ``eps`` goes to zero, i.e. exact. No topology error can occur, and no tolerance is
involved beyond the snapping grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

__all__ = ["depth_areas", "grid_cells"]

#: Candidate edge pairs examined at once (bounds the memory, ~200 bytes per pair).
_CHUNK = 2_000_000
#: Largest coordinate, in grid units, whose orientation determinants fit in int64.
_MAX_UNITS = 1e9


class _Edges:
    """The polygons' ring edges on the integer grid, in ring order."""

    def __init__(self, geoms: np.ndarray, weight: np.ndarray, resolution: float) -> None:
        parts, owner = shapely.get_parts(geoms, return_index=True)
        while True:  # collections can nest multi-polygons; lines and points have no area
            nested = shapely.get_type_id(parts) >= 4
            if not nested.any():
                break
            inner, at = shapely.get_parts(parts[nested], return_index=True)
            parts = np.r_[parts[~nested], inner]
            owner = np.r_[owner[~nested], owner[nested][at]]
        polygons = shapely.get_type_id(parts) == 3
        order = np.argsort(owner[polygons], kind="stable")
        parts, owner = parts[polygons][order], owner[polygons][order]
        oriented = shapely.orient_polygons(parts)  # interiors on the left of every ring
        coords, vertex_ring, ring_part = _ring_coordinates(oriented)
        limit = np.abs(coords).max(initial=0.0) / resolution
        if limit > _MAX_UNITS:
            raise ValueError(
                f"coordinates reach {limit:.3g} times the resolution {resolution}; the limit "
                f"is {_MAX_UNITS:.0e}: use a coarser resolution or a projected CRS"
            )
        grid = np.round(coords / resolution).astype(np.int64)
        same_ring = vertex_ring[:-1] == vertex_ring[1:]
        start, end = grid[:-1][same_ring], grid[1:][same_ring]
        ring = vertex_ring[:-1][same_ring]
        moving = np.any(start != end, axis=1)  # snapping can merge neighbouring vertices
        start, end, ring = start[moving], end[moving], ring[moving]
        polygon = owner[ring_part[ring]]
        # footprints equal once snapped (copies whose noise stays below the grid) count
        # once, with the weights of all of them
        label, self.weight = _merged_copies(polygon, ring, start, end, weight)
        if len(self.weight) < len(weight):
            kept = label[polygon] >= 0
            start, end, ring, polygon = start[kept], end[kept], ring[kept], label[polygon[kept]]
        self.ax, self.ay = np.ascontiguousarray(start.T)
        self.bx, self.by = np.ascontiguousarray(end.T)
        self.ring, self.polygon = ring, polygon
        self.xmin, self.xmax = np.minimum(self.ax, self.bx), np.maximum(self.ax, self.bx)
        self.ymin, self.ymax = np.minimum(self.ay, self.by), np.maximum(self.ay, self.by)
        self.resolution = resolution
        # the first edge of every ring (edges are sorted by ring, rings by polygon)
        self.ring_first = np.flatnonzero(np.r_[True, self.ring[1:] != self.ring[:-1]])
        self.polygon_start = np.searchsorted(self.polygon, np.arange(len(self.weight) + 1))

    def __len__(self) -> int:
        return len(self.ax)


def _merged_copies(
    polygon: np.ndarray, ring: np.ndarray, start: np.ndarray, end: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Polygons whose snapped rings are equal, edge for edge: (label, weight of each label).

    ``label`` numbers the polygons kept (the first of each set of equal ones, in their
    order) and is -1 for the others; each kept one carries the weights of its copies.
    Polygons are grouped by a hash of their edges, then compared edge for edge, so a
    hash collision only leaves two polygons apart.
    """
    n = len(weight)
    bounds = np.searchsorted(polygon, np.arange(n + 1))
    size = np.diff(bounds)
    # only polygons whose first edges start at one point, with as many edges, can be equal
    has = np.flatnonzero(size > 0)
    head = bounds[:-1][has]
    key = _packed(start[head, 0], start[head, 1]) ^ (size[has] << 20)  # a clash only costs time
    if len(np.unique(key)) == len(has):
        return np.arange(n), weight
    local = np.arange(len(polygon)) - np.repeat(bounds[:-1], size)
    first_ring = ring[bounds[:-1][size > 0]]
    columns = [ring - np.repeat(first_ring, size[size > 0]), *start.T, *end.T]
    mix = np.random.default_rng(0).integers(1, 2**62, (len(columns), int(size.max(initial=0))))
    terms = np.zeros(len(polygon), np.uint64)
    for column, factor in zip(columns, mix, strict=True):
        terms += column.astype(np.uint64) * factor[local].astype(np.uint64)  # wraps around
    has = np.flatnonzero(size > 0)
    digest = np.zeros(n, np.uint64)
    digest[has] = np.add.reduceat(terms, bounds[:-1][has])
    order = np.lexsort((np.arange(n), digest, size))
    same = np.r_[
        False, (digest[order][1:] == digest[order][:-1]) & (size[order][1:] == size[order][:-1])
    ]
    first = order[np.maximum.accumulate(np.where(same, 0, np.arange(n)))]
    # the candidates compared edge for edge with the first of their run
    copy = np.flatnonzero(same)
    p, q = order[copy], first[copy]
    count = size[p]
    at_p = np.repeat(bounds[p], count) + _ragged_arange(count)
    at_q = np.repeat(bounds[q], count) + _ragged_arange(count)
    differ = np.zeros(len(at_p), dtype=bool)
    for column in columns:
        differ |= column[at_p] != column[at_q]
    equal = np.bincount(np.repeat(np.arange(len(p)), count), differ, len(p)) == 0
    to = np.arange(n)
    to[p[equal]] = q[equal]
    own = to == np.arange(n)
    label = np.where(own, np.cumsum(own) - 1, -1)
    return label, np.bincount(label[to], weight, int(own.sum())).astype(np.int64)


class _Segments:
    """The distinct directed edges (equal once snapped) and the polygons that own each.

    Near-identical footprints (one tile on many dates, with float noise below the grid)
    share most of their snapped edges: edges are compared class by class, and a crossing
    of two classes is one event per class (`_Walks`). The work then grows with the
    edges, not with the square of the copies.
    """

    def __init__(self, edges: _Edges, weight: np.ndarray) -> None:
        e = edges
        start_key, end_key = _packed(e.ax, e.ay), _packed(e.bx, e.by)
        # an edge that shares its start point with no other is a class of its own; the
        # others (few, unless footprints repeat) are sorted by points, then polygon
        by_start = np.argsort(start_key, kind="stable")
        same = start_key[by_start][1:] == start_key[by_start][:-1]
        shared = np.zeros(len(e), dtype=bool)
        shared[by_start[np.r_[same, False] | np.r_[False, same]]] = True
        sub = np.flatnonzero(shared)
        sub = sub[np.lexsort((e.polygon[sub], end_key[sub], start_key[sub]))]
        order = np.r_[np.flatnonzero(~shared), sub]
        sub_start, sub_end = start_key[sub], end_key[sub]
        sub_new = (sub_start[1:] != sub_start[:-1]) | (sub_end[1:] != sub_end[:-1])
        new = np.r_[np.ones(len(e) - len(sub), dtype=bool), True, sub_new][: len(e)]
        start = np.flatnonzero(new)
        size = np.diff(np.r_[start, len(order)])
        first = order[start]
        self.member_edge = order
        self.member_polygon = e.polygon[order]
        #: weights of the members so far, in (class, polygon) order, from 0
        self.cumulative = np.r_[0, np.cumsum(weight[self.member_polygon])]
        self.member_key = ((np.cumsum(new) - 1) << 32) | self.member_polygon
        self.start, self.size = start, size
        self.ax, self.ay, self.bx, self.by = e.ax[first], e.ay[first], e.bx[first], e.by[first]
        self.xmin, self.xmax = e.xmin[first], e.xmax[first]
        self.ymin, self.ymax = e.ymin[first], e.ymax[first]
        # two classes owned by one and the same polygon never cross: they are not paired.
        # Labels ascend (edges come in polygon order, then the shared ones get their own)
        # as `_candidate_pairs` needs them.
        n_polygons = int(e.polygon.max(initial=-1)) + 1
        alone = len(e) - len(sub)
        self.polygon = np.r_[e.polygon[first[:alone]], n_polygons + np.arange(len(start) - alone)]

    def __len__(self) -> int:
        return len(self.start)

    def weight_around(self, cls: np.ndarray, polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights of the members of each class with a lower / higher polygon index."""
        c = self.cumulative
        first = self.start[cls]
        end = first + self.size[cls]
        # most classes have one member: compare its polygon, no search
        own = self.member_polygon[first]
        weight = c[first + 1] - c[first]
        lower, higher = np.where(own < polygon, weight, 0), np.where(own > polygon, weight, 0)
        many = np.flatnonzero(end - first > 1)
        key = (cls[many] << 32) | polygon[many]
        below = np.searchsorted(self.member_key, key, side="left")
        above = np.searchsorted(self.member_key, key, side="right")
        lower[many] = c[below] - c[first[many]]
        higher[many] = c[end[many]] - c[above]
        return lower, higher


def _packed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Grid points as single int64 keys (coordinates stay below 2**31 grid units)."""
    return ((x + (1 << 31)) << 32) | (y + (1 << 31))


def _ring_coordinates(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates of the polygons' rings: (xy, ring of each vertex, part of each ring).

    Ring geometries are only built for the few polygons with holes.
    """
    coords = shapely.get_coordinates(parts)
    n_rings = shapely.get_num_interior_rings(parts) + 1
    sizes = shapely.get_num_coordinates(parts)  # one ring per part, unless holed
    ring_part = np.repeat(np.arange(len(parts)), n_rings)
    ring_sizes = sizes[ring_part]
    holed = np.flatnonzero(n_rings > 1)
    if len(holed):
        rings, at = shapely.get_rings(parts[holed], return_index=True)
        first_ring = (np.cumsum(n_rings) - n_rings)[holed]
        ring_sizes[first_ring[at] + _ragged_arange(n_rings[holed])] = shapely.get_num_coordinates(
            rings
        )
    return coords, np.repeat(np.arange(len(ring_part)), ring_sizes), ring_part


def _determinant(
    s: _Segments, edge: np.ndarray, cx: np.ndarray, cy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Side of points c against the classes' directed edges a -> b: (raw value, tie sign).

    The raw determinant is positive on the left, negative on the right. Where it is zero,
    the perturbation decides: with ``shift`` the polygon index of c minus that of the
    edge, the determinant gains ``-dy * shift * eps + dx * shift * eps**2``, so the side
    is ``shift`` times the tie sign returned here (``shift`` is never zero).
    """
    dx, dy = s.bx[edge] - s.ax[edge], s.by[edge] - s.ay[edge]
    raw = dx * (cy - s.ay[edge]) - dy * (cx - s.ax[edge])
    return raw, np.sign(np.where(dy != 0, -dy, dx))


def _candidate_pairs(edges: _Edges | _Segments) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of edges of different polygons whose bounding boxes meet, in chunks.

    ``edges.polygon`` must ascend (it labels the edges, or the classes of `_Segments`).
    """
    xmin, xmax, ymin, ymax = edges.xmin, edges.xmax, edges.ymin, edges.ymax
    size = max(int(np.median(np.maximum(xmax - xmin, ymax - ymin))), 1)  # 1 to 4 buckets
    while True:  # a few very long edges (a polar cap's edge) must not fill the grid
        touched = (xmax // size - xmin // size + 1) * (ymax // size - ymin // size + 1)
        if touched.sum() <= 8 * len(edges):
            break
        size *= 2
    edge, bx, by = grid_cells(xmin, ymin, xmax, ymax, size)
    key = (bx - bx.min()) * (by.max() - by.min() + 1) + (by - by.min())
    order = np.argsort(key, kind="stable")  # within a bucket, entries stay in label order
    edge, bx, by, key = edge[order], bx[order], by[order], key[order]
    polygon = edges.polygon[edge]
    new_bucket = np.r_[True, key[1:] != key[:-1]]
    bucket_end = _run_ends(new_bucket)
    # an entry pairs with the entries of later polygons in its bucket (never its own)
    run_end = _run_ends(new_bucket | np.r_[True, polygon[1:] != polygon[:-1]])
    partners = bucket_end - run_end
    out = []
    for lo, hi in _chunks(partners):
        i = np.repeat(np.arange(lo, hi), partners[lo:hi])
        j = np.repeat(run_end[lo:hi], partners[lo:hi]) + _ragged_arange(partners[lo:hi])
        a, b = edge[i], edge[j]
        keep = (xmin[a] <= xmax[b]) & (xmin[b] <= xmax[a])
        keep &= (ymin[a] <= ymax[b]) & (ymin[b] <= ymax[a])
        # a pair sharing several buckets is kept in one: the bucket of its overlap's corner
        keep &= np.maximum(xmin[a], xmin[b]) // size == bx[i]
        keep &= np.maximum(ymin[a], ymin[b]) // size == by[i]
        out.append((a[keep], b[keep]))
    return out


def grid_cells(
    xmin: np.ndarray, ymin: np.ndarray, xmax: np.ndarray, ymax: np.ndarray, size: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The square cells (side ``size``) each bounding box touches: (box, column, row).

    Examples
    --------
    >>> box, col, row = grid_cells(np.array([0.5]), np.array([0.5]), np.array([1.5]),
    ...                            np.array([0.9]), 1.0)
    >>> box.tolist(), col.tolist(), row.tolist()
    ([0, 0], [0, 1], [0, 0])
    """
    col0 = np.floor_divide(xmin, size).astype(np.int64)
    row0 = np.floor_divide(ymin, size).astype(np.int64)
    cols = np.floor_divide(xmax, size).astype(np.int64) - col0 + 1
    rows = np.floor_divide(ymax, size).astype(np.int64) - row0 + 1
    count = cols * rows
    box = np.repeat(np.arange(len(count)), count)
    offset = _ragged_arange(count)
    return box, col0[box] + offset % cols[box], row0[box] + offset // cols[box]


def _run_ends(new_run: np.ndarray) -> np.ndarray:
    """For each item, the index just past its run (a run starts where ``new_run``)."""
    starts = np.flatnonzero(new_run)
    ends = np.r_[starts[1:], len(new_run)]
    return np.repeat(ends, ends - starts)


def _ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(n) for n in lengths])`` without the loop."""
    total = int(lengths.sum())
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)


_Events = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: Ties at the end of an edge: (class, end 0 or 1, other class, if after, if before)
_Ties = tuple[np.ndarray, ...]


def _crossings(segments: _Segments, a: np.ndarray, b: np.ndarray) -> tuple[_Events, _Events, _Ties]:
    """Where the edges of classes a and b cross, as class events and member events.

    Each is (class or member edge, parameter along it, depth change, x, y). Entering the
    other class's polygons adds their weights, leaving subtracts them. Whether two
    edges cross can depend on the order of their polygons (the perturbation), so each
    pair of classes is tested both ways (``order`` is the sign of b's polygon minus a's).

    A proper crossing (no determinant zero) changes the depth along every member of a
    class by the same amount, the weight of the other class: it is one **class event**,
    whatever the number of members. Only a tie (an end of one edge on the other's line:
    a shared vertex, a T-junction) depends on the order of the member's polygon among
    the other class's: it is a **member event** on each member, weighted by the members
    of the other class that come before and after it. Members of one polygon never meet.
    """
    s = segments
    # exact determinants, and the sign each takes when it is zero and the other polygon
    # comes after; before, that sign flips (the perturbation is a translation)
    o1, t1 = _determinant(s, a, s.ax[b], s.ay[b])
    o2, t2 = _determinant(s, a, s.bx[b], s.by[b])
    o3, t3 = _determinant(s, b, s.ax[a], s.ay[a])
    o4, t4 = _determinant(s, b, s.bx[a], s.by[a])
    tests = {}
    # the orders differ only where a determinant is zero (few pairs): the second order is
    # worked out for those alone
    tie = (o1 == 0) | (o2 == 0) | (o3 == 0) | (o4 == 0)
    ties = np.flatnonzero(tie)
    for order, rows in ((1, slice(None)), (-1, ties)):
        s1 = np.where(o1[rows] != 0, np.sign(o1[rows]), order * t1[rows])
        s2 = np.where(o2[rows] != 0, np.sign(o2[rows]), order * t2[rows])
        s3 = np.where(o3[rows] != 0, np.sign(o3[rows]), -order * t3[rows])
        s4 = np.where(o4[rows] != 0, np.sign(o4[rows]), -order * t4[rows])
        cross = (s1 != s2) & (s3 != s4)
        # moving from the right of the other polygon's edge to its left enters that polygon
        tests[order] = [cross, np.where(s3 < 0, 1, -1) * cross, np.where(s1 < 0, 1, -1) * cross]
    for i, values in enumerate(tests[-1]):
        tests[-1][i] = tests[1][i].copy()
        tests[-1][i][ties] = values
    crossing = tests[1][0] | tests[-1][0]
    a, b, tie = a[crossing], b[crossing], tie[crossing]
    # the exact determinants do not depend on the order; only their ties do
    o1, o2 = o1[crossing].astype(float), o2[crossing].astype(float)
    o3, o4 = o3[crossing].astype(float), o4[crossing].astype(float)
    # parameters along each edge; a zero denominator cannot pass the test above
    ta = np.clip(np.divide(o3, o3 - o4, out=np.zeros_like(o3), where=o3 != o4), 0.0, 1.0)
    tb = np.clip(np.divide(o1, o1 - o2, out=np.zeros_like(o1), where=o1 != o2), 0.0, 1.0)
    x = s.ax[a] + ta * (s.bx[a] - s.ax[a])
    y = s.ay[a] + ta * (s.by[a] - s.ay[a])
    # per side: its classes, the other side's, the parameters, and the change along a
    # member when the other class's polygons come after / before the member's own
    sides = (
        (a, b, ta, tests[1][1][crossing], tests[-1][1][crossing]),
        (b, a, tb, tests[-1][2][crossing], tests[1][2][crossing]),
    )
    by_class: list[_Events] = []
    by_member: list[_Events] = []
    ends: list[_Ties] = []
    for mine, other, t, if_after, if_before in sides:
        # one event per class: proper crossings, and ties of a class with one member
        # (its first member stands for all: they are on no other class of a proper crossing)
        one = np.flatnonzero(~tie | (s.size[mine] == 1))
        before, after = s.weight_around(other[one], s.member_polygon[s.start[mine[one]]])
        change = if_after[one] * after + if_before[one] * before
        by_class.append((mine[one], t[one], change, x[one], y[one]))
        # ties of classes with several members: inside an edge (a T-junction: rare), one
        # event per member; at an end, summed per member by `_end_changes`
        many = tie & (s.size[mine] > 1)
        at_end = many & ((t == 0) | (t == 1))
        ends.append((mine[at_end], t[at_end], other[at_end], if_after[at_end], if_before[at_end]))
        many = np.flatnonzero(many & ~at_end)
        n = s.size[mine[many]]
        pair = np.repeat(many, n)
        member = np.repeat(s.start[mine[many]], n) + _ragged_arange(n)
        before, after = s.weight_around(other[pair], s.member_polygon[member])
        change = if_after[pair] * after + if_before[pair] * before
        by_member.append((s.member_edge[member], t[pair], change, x[pair], y[pair]))
    ties_at_ends = tuple(np.concatenate(p) for p in zip(*ends, strict=True))
    return _joined(by_class), _joined(by_member), ties_at_ends


def _end_changes(s: _Segments, n_edges: int, ties: list[_Ties]) -> np.ndarray:
    """The depth changes at the start and at the end of every edge from its ties there.

    A member of class x at a shared vertex enters (or leaves) each polygon q of every
    class y that meets x there in the perturbed order: ``if_after`` times the weight of
    q when q comes after the member's own polygon, ``if_before`` when it comes before.
    Summed over every y at that end of x, the change is a step function of the member's
    polygon: the breakpoints (every q with its two weights) are sorted once per end of
    x, and each member reads its sum from prefix sums. The work grows with the members
    of x plus those of the classes meeting it, not with their product.
    """
    mine, t, other, if_after, if_before = (np.concatenate(p) for p in zip(*ties, strict=True))
    out = np.zeros((2, n_edges), np.int64)
    # rows by (class, end); chunks of whole groups of at most _CHUNK breakpoints
    group = (mine << 1) | t.astype(np.int64)  # end 0: the start of the edge, 1: its end
    order = np.argsort(group, kind="stable")
    group, other = group[order], other[order]
    if_after, if_before = if_after[order], if_before[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]][: len(group)])
    bounds = np.r_[starts, len(group)]
    for lo, hi in _chunks(np.add.reduceat(s.size[other], starts) if len(starts) else starts):
        rows = slice(bounds[lo], bounds[hi])
        _add_tie_sums(s, out, group[rows], other[rows], if_after[rows], if_before[rows])
    return out


def _add_tie_sums(
    s: _Segments,
    out: np.ndarray,
    group: np.ndarray,
    other: np.ndarray,
    if_after: np.ndarray,
    if_before: np.ndarray,
) -> None:
    """Add the changes of the members of some (class, end) groups, whole, to ``out``."""
    n = s.size[other]
    row = np.repeat(np.arange(len(group)), n)
    member = np.repeat(s.start[other], n) + _ragged_arange(n)
    q = s.member_polygon[member].astype(np.int64)
    weight = s.cumulative[member + 1] - s.cumulative[member]
    # one sorted run of breakpoints per (class, end)
    order = np.lexsort((q, group[row]))
    row, q, weight = row[order], q[order], weight[order]
    later = np.r_[0, np.cumsum(if_after[row] * weight)]  # weight of q for members before q
    earlier = np.r_[0, np.cumsum(if_before[row] * weight)]  # ... for members after q
    key = (group[row] << 32) | q
    groups = np.unique(group)
    # every member of each class with ties at that end reads its change
    size = s.size[groups >> 1]
    at = np.repeat(s.start[groups >> 1], size) + _ragged_arange(size)
    g = np.repeat(groups, size)
    p = s.member_polygon[at].astype(np.int64)
    first = np.searchsorted(key, g << 32)
    last = np.searchsorted(key, (g + 1) << 32)
    below = np.searchsorted(key, (g << 32) | p, side="left")
    above = np.searchsorted(key, (g << 32) | p, side="right")
    change = later[last] - later[above] + earlier[below] - earlier[first]
    np.add.at(out, (g & 1, s.member_edge[at]), change)


def _joined(parts: list[_Events]) -> _Events:
    """Event arrays, each part after the other, without the events that change nothing."""
    edge, t, change, px, py = (np.concatenate(p) for p in zip(*parts, strict=True))
    keep = change != 0
    return edge[keep], t[keep], change[keep], px[keep], py[keep]


def _start_depths(edges: _Edges, weight: np.ndarray) -> np.ndarray:
    """How many other polygons hold the first vertex of each ring (perturbed ray test).

    A ray from the vertex towards +x; each edge of another polygon that it crosses
    upwards counts +1, downwards -1 (the winding number). Rings starting at one and the
    same point (copies of a footprint) are tested once, against each nearby polygon
    both ways: for polygons before and after the ring's own in the perturbation.
    """
    e = edges
    first = e.ring_first
    rp = e.polygon[first].astype(np.int64)
    _, at, point_of = np.unique(_packed(e.ax[first], e.ay[first]), True, True)
    vx, vy = e.ax[first][at], e.ay[first][at]
    boxes = shapely.box(*(np.asarray(v) * e.resolution for v in _bounds(e, len(weight))))
    point, poly = shapely.STRtree(boxes).query(shapely.points(vx * e.resolution, vy * e.resolution))
    point, poly = point.astype(np.int64), poly.astype(np.int64)
    # a point that starts one ring only is never tested against that ring's polygon
    alone = np.bincount(point_of, minlength=len(at)) == 1
    keep = ~(alone[point] & (poly == rp[at][point]))
    point, poly = point[keep], poly[keep]
    n_edges = (e.polygon_start[1:] - e.polygon_start[:-1])[poly]
    # the shift is the ring's polygon minus the other one: +1 when the other comes first
    winding = {1: np.zeros(len(point)), -1: np.zeros(len(point))}
    for lo, hi in _chunks(n_edges):
        pair = lo + np.repeat(np.arange(hi - lo), n_edges[lo:hi])
        edge = np.repeat(e.polygon_start[:-1][poly[lo:hi]], n_edges[lo:hi])
        edge += _ragged_arange(n_edges[lo:hi])
        p = point[pair]
        # only edges level with the vertex and reaching its right can cross the ray
        near = (e.ymin[edge] <= vy[p]) & (e.ymax[edge] >= vy[p]) & (e.xmax[edge] >= vx[p])
        pair, edge, p = pair[near], edge[near], p[near]
        px, py = vx[p], vy[p]
        ax, ay, bx, by = e.ax[edge], e.ay[edge], e.bx[edge], e.by[edge]
        dx, dy = bx - ax, by - ay
        raw = np.sign(dx * (py - ay) - dy * (px - ax))
        tie = np.sign(np.where(dy != 0, -dy, dx))
        steps = {}
        # the two orders differ only where the vertex is level with an end of the edge or
        # on its line (few pairs): the other order is worked out for those alone
        ties = np.flatnonzero((ay == py) | (by == py) | (raw == 0))
        for shift, rows in ((1, slice(None)), (-1, ties)):
            above_a = np.where(ay[rows] != py[rows], ay[rows] > py[rows], shift < 0)
            above_b = np.where(by[rows] != py[rows], by[rows] > py[rows], shift < 0)
            # ties decided as in `_determinant`
            side = np.where(raw[rows] != 0, raw[rows], shift * tie[rows])
            step = (~above_a & above_b & (side > 0)).astype(np.int64)
            steps[shift] = step - (above_a & ~above_b & (side < 0))
        counted = np.bincount(pair, weights=steps[1], minlength=len(point))
        winding[1] += counted
        change = steps[-1] - steps[1][ties]
        winding[-1] += counted + np.bincount(pair[ties], weights=change, minlength=len(point))
    key = (point << 32) | poly
    by_key = np.argsort(key)
    key = key[by_key]
    held = {
        shift: np.r_[0, np.cumsum((winding[shift][by_key] != 0) * weight[poly[by_key]])]
        for shift in (1, -1)
    }
    ring_key = point_of << 32
    first_pair = np.searchsorted(key, ring_key)
    end_pair = np.searchsorted(key, ring_key + (1 << 32))
    own_first = np.searchsorted(key, ring_key | rp, side="left")
    own_end = np.searchsorted(key, ring_key | rp, side="right")
    # polygons before the ring's own, then after it; its own is not counted
    before = held[1][own_first] - held[1][first_pair]
    return (before + held[-1][end_pair] - held[-1][own_end]).astype(np.int64)


def _chunks(sizes: np.ndarray) -> list[tuple[int, int]]:
    """Ranges of consecutive items whose sizes add up to at most _CHUNK (or one item)."""
    total = np.cumsum(sizes)
    out = []
    lo = 0
    while lo < len(sizes):
        done = total[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(total, done + _CHUNK, side="right")), lo + 1)
        out.append((lo, hi))
        lo = hi
    return out


def _bounds(edges: _Edges, n: int) -> tuple[np.ndarray, ...]:
    """Grid bounding boxes of the polygons (from their snapped edges; 0 when none)."""
    start = edges.polygon_start
    has_edges = start[1:] > start[:-1]
    out = []
    for values, reduce in (
        (edges.ax, np.minimum),
        (edges.ay, np.minimum),
        (edges.ax, np.maximum),
        (edges.ay, np.maximum),
    ):
        bound = np.zeros(n, np.int64)
        bound[has_edges] = reduce.reduceat(values, start[:-1][has_edges])
        out.append(bound)
    return tuple(out)


class _Walks:
    """The depth along every edge, walked once per class rather than once per member.

    A **walk** is a class of edges, or a single member of a class where a tie falls
    inside the edge (a T-junction: rare). Along a walk the class events (proper
    crossings) change the depth of every member alike, so the walk is cut into pieces
    once: each piece has its Green term and its depth change ``u`` since the walk's
    start. A member's own events (ties at a shared vertex) fall on its ends: those at
    the start shift where its depth starts (``d``), those at the end only what it hands
    on to the next edge of its ring. A piece then bounds, for each member, the levels
    ``d + u + 1`` to ``d + u + w`` (``w`` copies of its polygon): the work is pieces plus
    members, not pieces times members.
    """

    def __init__(
        self,
        edges: _Edges,
        s: _Segments,
        on_class: _Events,
        on_member: _Events,
        at_start: np.ndarray,
        at_end: np.ndarray,
    ) -> None:
        cls, ct, cchange, cx, cy = on_class
        medge, mt, mchange, mx, my = on_member
        n_classes = len(s)
        class_of = np.empty(len(edges), np.int64)
        class_of[s.member_edge] = np.repeat(np.arange(n_classes), s.size)
        # a class with a tie inside one of its members is walked member by member
        split = np.zeros(n_classes, dtype=bool)
        split[class_of[medge[(mt > 0) & (mt < 1)]]] = True
        alone = np.flatnonzero(split[class_of])
        walk = class_of.copy()
        walk[alone] = n_classes + np.arange(len(alone))
        self.walk, self.edges = walk, edges
        first = np.r_[s.member_edge[s.start], alone]  # an edge that draws each walk
        # class events of a split class happen on each of its members
        copied = split[cls]
        n = s.size[cls[copied]]
        member = np.repeat(s.start[cls[copied]], n) + _ragged_arange(n)
        # member events (ties inside an edge) all fall on split classes: their walks'
        event_walk = np.r_[cls[~copied], walk[s.member_edge[member]], walk[medge]]
        pick = np.r_[np.flatnonzero(~copied), np.repeat(np.flatnonzero(copied), n)]
        t, change = np.r_[ct[pick], mt], np.r_[cchange[pick], mchange]
        x, y = np.r_[cx[pick], mx], np.r_[cy[pick], my]
        self.at_start = at_start
        self._pieces(first, event_walk, t, change, x, y)
        self.total = self.walk_total[walk] + self.at_start + at_end

    def _pieces(
        self,
        first: np.ndarray,
        walk: np.ndarray,
        t: np.ndarray,
        change: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
    ) -> None:
        """The pieces of every walk between its start, its events and its end."""
        e = self.edges
        origin_x, origin_y = float(e.ax.min()), float(e.ay.min())
        ax, ay = e.ax[first] - origin_x, e.ay[first] - origin_y
        bx, by = e.bx[first] - origin_x, e.by[first] - origin_y
        # a walk without events is one piece, one with a single event two (most walks,
        # unless footprints repeat): only walks with several events are sorted
        count = np.bincount(walk, minlength=len(first))
        idle = np.flatnonzero(count == 0)
        single = np.flatnonzero(count[walk] == 1)
        one, step_one = walk[single], change[single]
        sx, sy = x[single] - origin_x, y[single] - origin_y
        several = np.flatnonzero(count[walk] > 1)
        walk, t, change = walk[several], t[several], change[several]
        x, y = x[several] - origin_x, y[several] - origin_y
        busy = np.flatnonzero(count > 1)
        n = len(busy)
        all_walk = np.r_[busy, walk]
        step = np.r_[np.zeros(n, np.int64), change]
        # one int64 key orders a walk's points: its start, then the events by t (the
        # bits of a float in [0, 1] ascend with it) and, at one t, those entering first:
        # the pieces between crossings at one point have no length, and no depth goes
        # below its true value
        key = np.r_[np.full(n, -1), (t.view(np.int64) << 1) | (change <= 0)]
        order = np.argsort(key)
        order = order[np.argsort(all_walk[order], kind="stable")]
        px, py = np.r_[ax[busy], x][order], np.r_[ay[busy], y][order]
        all_walk, step = all_walk[order], step[order]
        running = np.cumsum(step)
        starts = np.flatnonzero(np.r_[True, all_walk[1:] != all_walk[:-1]][: len(all_walk)])
        u = running - np.repeat(running[starts], np.diff(np.r_[starts, len(step)]))
        # a piece runs from each point to the next one of its walk, the last to its end
        last = np.r_[starts[1:], len(step)][: len(starts)] - 1
        qx, qy = np.r_[px[1:], 0.0], np.r_[py[1:], 0.0]
        qx[last], qy[last] = bx[busy], by[busy]
        terms = (
            px * qy - qx * py,
            ax[idle] * by[idle] - bx[idle] * ay[idle],
            ax[one] * sy - sx * ay[one],
            sx * by[one] - bx[one] * sy,
        )
        self.term = np.concatenate(terms) * (0.5 * e.resolution**2)
        self.piece_walk = np.r_[all_walk, idle, one, one]
        self.u = np.r_[u, np.zeros(len(idle) + len(one), np.int64), step_one]
        self.walk_total = np.zeros(len(first), np.int64)
        self.walk_total[busy] = u[last]
        self.walk_total[one] = step_one

    def levels(self, start_depth: np.ndarray, own: np.ndarray, deepest: int | None) -> np.ndarray:
        """Area covered k or more times, k = 1 .. ``deepest`` (or the deepest reached)."""
        d = start_depth + self.at_start  # the depth along each edge, from its start
        n_walks = len(self.walk_total)
        size = np.bincount(self.walk, minlength=n_walks)
        # walks of one member (most of them): its d and w, no search; a rounding can swap
        # crossings a hair apart, so no depth goes below 0
        member = np.full(n_walks, -1)
        member[self.walk] = np.arange(len(d))
        one = size[self.piece_walk] == 1
        at, term_one = member[self.piece_walk[one]], self.term[one]
        low_one = np.maximum(d[at] + self.u[one], 0)
        high_one = low_one + own[at]
        # the others: one entry +1 at d and one -1 at d + w, summed per walk and depth
        several = size[self.walk] > 1
        offset = 1 << 31
        walk, d, own = self.walk[several], d[several], own[several]
        key = np.r_[(walk << 32) | (d + offset), (walk << 32) | (d + own + offset)]
        entry, at = np.unique(key, return_inverse=True)
        count = np.bincount(at, np.r_[np.ones(len(d)), -np.ones(len(d))], len(entry))
        entry_d = (entry & 0xFFFFFFFF) - offset  # with the ends (d + w) that cancel out
        many = size[self.piece_walk] > 1  # (a split class's own walk has no member)
        piece_walk, u, term = self.piece_walk[many], self.u[many], self.term[many]
        reached = int(high_one.max(initial=1))
        if len(piece_walk):
            top = entry_d[np.searchsorted(entry, (piece_walk + 1) << 32) - 1]
            reached = max(reached, int((u + top).max()))
        levels = np.zeros(reached if deepest is None else min(deepest, reached))
        self._add(levels, low_one, term_one)
        self._add(levels, high_one, -term_one)
        # the entries of a piece's walk that reach a level below the deepest asked for
        low = np.searchsorted(entry, piece_walk << 32)
        limit = np.clip(len(levels) - u, -offset, offset - 1) + offset
        n = np.searchsorted(entry, (piece_walk << 32) | limit) - low
        for lo, hi in _chunks(n):
            piece = np.repeat(np.arange(lo, hi), n[lo:hi])
            at = np.repeat(low[lo:hi], n[lo:hi]) + _ragged_arange(n[lo:hi])
            self._add(levels, np.maximum(entry_d[at] + u[piece], 0), term[piece] * count[at])
        return np.cumsum(levels)

    @staticmethod
    def _add(levels: np.ndarray, level: np.ndarray, term: np.ndarray) -> None:
        """Add the terms to their levels, those below the deepest level asked for."""
        keep = level < len(levels)
        levels += np.bincount(level[keep], term[keep], len(levels))


def _edge_start_depths(edges: _Edges, walks: _Walks, ring_start: np.ndarray) -> np.ndarray:
    """The depth at the start of every edge: its ring's plus the changes on the edges before."""
    new_ring = np.zeros(len(edges), dtype=bool)
    new_ring[edges.ring_first] = True
    ring = np.cumsum(new_ring) - 1
    running = np.cumsum(walks.total)
    before = running - walks.total
    if np.any(np.bincount(ring, weights=walks.total) != 0):  # pragma: no cover
        raise RuntimeError(
            "a ring enters other polygons more often than it leaves them: this is a bug in "
            "byocframe.tools.depth; please report it with the footprints that caused it"
        )
    return ring_start[ring] + before - before[edges.ring_first][ring]


def depth_areas(geoms: Any, *, resolution: float = 0.1, deepest: int | None = None) -> np.ndarray:
    """Area covered by at least 1, 2, 3, ... of the polygons.

    Parameters
    ----------
    geoms : array of shapely geometries
        Polygons or MultiPolygons in a planar, equal-area CRS. Missing and empty ones
        are skipped. Parts of one MultiPolygon must not overlap one another.
    resolution : float, default 0.1
        Snapping grid, in the CRS's units. Coordinates divided by it must stay below
        about 1e9 (the products of two of them must fit in 64-bit integers).
    deepest : int, optional
        Count the levels 1 to ``deepest`` only (``coverage`` asks for 2: covered, and
        covered twice). Deeper levels are then not walked, which keeps the work linear
        in the polygons however many copies of one footprint are stacked. None (the
        default) counts every level.

    Returns
    -------
    numpy.ndarray
        ``out[k - 1]`` is the area covered by ``k`` or more polygons: ``out[0]`` is the
        area of their union, ``out[1]`` the area covered twice or more. The array ends
        at the deepest level reached (or at ``deepest``).

    Raises
    ------
    ValueError
        If ``deepest`` is below 1, or the coordinates are too large for the grid.

    Examples
    --------
    >>> import shapely
    >>> boxes = [shapely.box(0, 0, 2, 2), shapely.box(1, 0, 3, 2), shapely.box(0, 0, 2, 2)]
    >>> depth_areas(boxes, resolution=0.01).round(6).tolist()
    [6.0, 4.0, 2.0]
    >>> depth_areas(boxes, resolution=0.01, deepest=2).round(6).tolist()
    [6.0, 4.0]
    """
    if deepest is not None and deepest < 1:
        raise ValueError(f"deepest={deepest!r}: ask for 1 level or more, or None for every level")
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = geoms[~shapely.is_empty(geoms)]
    if len(geoms) == 0:
        return np.zeros(0)
    # footprints equal once snapped (the same tile on many dates) count once, with a weight
    edges = _Edges(geoms, np.ones(len(geoms), np.int64), resolution)
    weight = edges.weight
    if len(edges) == 0:
        return np.zeros(0)
    segments = _Segments(edges, weight)
    empty = np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    by_class, by_member = [empty], [empty]
    ties: list[_Ties] = [(empty[0], empty[1], empty[0], empty[0], empty[0])]
    for a, b in _candidate_pairs(segments):
        on_class, on_member, at_ends = _crossings(segments, a, b)
        by_class.append(on_class)
        by_member.append(on_member)
        ties.append(at_ends)
    at_start, at_end = _end_changes(segments, len(edges), ties)
    walks = _Walks(edges, segments, _joined(by_class), _joined(by_member), at_start, at_end)
    start_depth = _edge_start_depths(edges, walks, _start_depths(edges, weight))
    return walks.levels(start_depth, weight[edges.polygon], deepest)
