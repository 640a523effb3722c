"""The polygons' edges on an exact integer grid, in classes, and where they cross.

The first half of `byocframe.tools.depth.depth_areas` (see its module for the method):
`Edges` snaps the rings' vertices to the grid (``resolution``) and merges polygons
equal once snapped; `Segments` groups edges equal once snapped into classes;
`candidate_pairs` joins classes through a bucket grid (`grid_cells`), and `crossings`
turns each pair into events along both classes (proper crossings, one per class) and
ties at shared vertices (per member, summed by `end_changes` from prefix sums over the
perturbation order). Every test is exact integer arithmetic.
"""

from __future__ import annotations

import numpy as np
import shapely

__all__ = [
    "CHUNK",
    "MAX_UNITS",
    "Edges",
    "Events",
    "Segments",
    "Ties",
    "candidate_pairs",
    "cat",
    "chunks",
    "crossings",
    "determinant",
    "end_changes",
    "grid_cells",
    "joined",
    "packed",
    "ragged_arange",
]

#: Candidate edge pairs examined at once (bounds the memory, ~200 bytes per pair).
CHUNK = 2_000_000
#: Largest coordinate, in grid units, whose orientation determinants fit in int64.
MAX_UNITS = 1e9


class Edges:
    """The polygons' ring edges on the integer grid, in ring order."""

    def __init__(self, geoms: np.ndarray, weight: np.ndarray, resolution: float) -> None:
        parts, owner = shapely.get_parts(geoms, return_index=True)
        while True:  # collections can nest multi-polygons; lines and points have no area
            nested = shapely.get_type_id(parts) >= 4
            if not nested.any():
                break
            inner, at = shapely.get_parts(parts[nested], return_index=True)
            parts = cat(parts[~nested], inner)
            owner = cat(owner[~nested], owner[nested][at])
        polygons = shapely.get_type_id(parts) == 3
        order = np.argsort(owner[polygons], kind="stable")
        parts, owner = parts[polygons][order], owner[polygons][order]
        oriented = shapely.orient_polygons(parts)  # interiors on the left of every ring
        coords, vertex_ring, ring_part = ring_coordinates(oriented)
        limit = np.abs(coords).max(initial=0.0) / resolution
        if limit > MAX_UNITS:
            raise ValueError(
                f"coordinates reach {limit:.3g} times the resolution {resolution}; the limit "
                f"is {MAX_UNITS:.0e}: use a coarser resolution or a projected CRS"
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
        label, self.weight = merged_copies(polygon, ring, start, end, weight)
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
        self.ring_first = np.flatnonzero(cat(True, self.ring[1:] != self.ring[:-1]))
        self.polygon_start = np.searchsorted(self.polygon, np.arange(len(self.weight) + 1))

    def __len__(self) -> int:
        return len(self.ax)


def merged_copies(
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
    key = packed(start[head, 0], start[head, 1]) ^ (size[has] << 20)  # a clash only costs time
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
    same = cat(
        False, (digest[order][1:] == digest[order][:-1]) & (size[order][1:] == size[order][:-1])
    )
    first = order[np.maximum.accumulate(np.where(same, 0, np.arange(n)))]
    # the candidates compared edge for edge with the first of their run
    copy = np.flatnonzero(same)
    p, q = order[copy], first[copy]
    count = size[p]
    at_p = np.repeat(bounds[p], count) + ragged_arange(count)
    at_q = np.repeat(bounds[q], count) + ragged_arange(count)
    differ = np.zeros(len(at_p), dtype=bool)
    for column in columns:
        differ |= column[at_p] != column[at_q]
    equal = np.bincount(np.repeat(np.arange(len(p)), count), differ, len(p)) == 0
    to = np.arange(n)
    to[p[equal]] = q[equal]
    own = to == np.arange(n)
    label = np.where(own, np.cumsum(own) - 1, -1)
    return label, np.bincount(label[to], weight, int(own.sum())).astype(np.int64)


class Segments:
    """The distinct directed edges (equal once snapped) and the polygons that own each.

    Near-identical footprints (one tile on many dates, with float noise below the grid)
    share most of their snapped edges: edges are compared class by class, and a crossing
    of two classes is one event per class (`_Walks`). The work then grows with the
    edges, not with the square of the copies.
    """

    def __init__(self, edges: Edges, weight: np.ndarray) -> None:
        e = edges
        start_key, end_key = packed(e.ax, e.ay), packed(e.bx, e.by)
        # an edge that shares its start point with no other is a class of its own; the
        # others (few, unless footprints repeat) are sorted by points, then polygon
        by_start = np.argsort(start_key, kind="stable")
        same = start_key[by_start][1:] == start_key[by_start][:-1]
        shared = np.zeros(len(e), dtype=bool)
        shared[by_start[cat(same, False) | cat(False, same)]] = True
        sub = np.flatnonzero(shared)
        sub = sub[np.lexsort((e.polygon[sub], end_key[sub], start_key[sub]))]
        order = cat(np.flatnonzero(~shared), sub)
        sub_start, sub_end = start_key[sub], end_key[sub]
        sub_new = (sub_start[1:] != sub_start[:-1]) | (sub_end[1:] != sub_end[:-1])
        new = cat(np.ones(len(e) - len(sub), dtype=bool), True, sub_new)[: len(e)]
        start = np.flatnonzero(new)
        size = np.diff(cat(start, len(order)))
        first = order[start]
        self.member_edge = order
        self.member_polygon = e.polygon[order]
        #: weights of the members so far, in (class, polygon) order, from 0
        self.cumulative = cat(0, np.cumsum(weight[self.member_polygon]))
        self.member_key = ((np.cumsum(new) - 1) << 32) | self.member_polygon
        self.start, self.size = start, size
        self.ax, self.ay, self.bx, self.by = e.ax[first], e.ay[first], e.bx[first], e.by[first]
        self.xmin, self.xmax = e.xmin[first], e.xmax[first]
        self.ymin, self.ymax = e.ymin[first], e.ymax[first]
        # two classes owned by one and the same polygon never cross: they are not paired.
        # Labels ascend (edges come in polygon order, then the shared ones get their own)
        # as `candidate_pairs` needs them.
        n_polygons = int(e.polygon.max(initial=-1)) + 1
        alone = len(e) - len(sub)
        self.polygon = cat(e.polygon[first[:alone]], n_polygons + np.arange(len(start) - alone))

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


def packed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Grid points as single int64 keys (coordinates stay below 2**31 grid units)."""
    return ((x + (1 << 31)) << 32) | (y + (1 << 31))


def ring_coordinates(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        ring_sizes[first_ring[at] + ragged_arange(n_rings[holed])] = shapely.get_num_coordinates(
            rings
        )
    return coords, np.repeat(np.arange(len(ring_part)), ring_sizes), ring_part


def determinant(
    s: Segments, edge: np.ndarray, cx: np.ndarray, cy: np.ndarray
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


def candidate_pairs(edges: Edges | Segments) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs of edges of different polygons whose bounding boxes meet, in chunks.

    ``edges.polygon`` must ascend (it labels the edges, or the classes of `Segments`).
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
    new_bucket = cat(True, key[1:] != key[:-1])
    bucket_end = run_ends(new_bucket)
    # an entry pairs with the entries of later polygons in its bucket (never its own)
    run_end = run_ends(new_bucket | cat(True, polygon[1:] != polygon[:-1]))
    partners = bucket_end - run_end
    out = []
    for lo, hi in chunks(partners):
        i = np.repeat(np.arange(lo, hi), partners[lo:hi])
        j = np.repeat(run_end[lo:hi], partners[lo:hi]) + ragged_arange(partners[lo:hi])
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
    offset = ragged_arange(count)
    return box, col0[box] + offset % cols[box], row0[box] + offset // cols[box]


def run_ends(new_run: np.ndarray) -> np.ndarray:
    """For each item, the index just past its run (a run starts where ``new_run``)."""
    starts = np.flatnonzero(new_run)
    ends = cat(starts[1:], len(new_run))
    return np.repeat(ends, ends - starts)


def cat(*parts: np.ndarray | float) -> np.ndarray:
    """``np.r_[...]`` of 1-d arrays and scalars, without its indexing machinery.

    ``np.r_`` costs about 10 microseconds a call; a small group's count makes some forty
    such calls, which was a fifth of its whole cost.

    Examples
    --------
    >>> cat(True, np.array([False])).tolist(), cat(np.arange(2), 5).tolist()
    ([True, False], [0, 1, 5])
    """
    return np.concatenate([p if isinstance(p, np.ndarray) else np.asarray([p]) for p in parts])


def ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(n) for n in lengths])`` without the loop."""
    total = int(lengths.sum())
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)


Events = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: Ties at the end of an edge: (class, end 0 or 1, other class, if after, if before)
Ties = tuple[np.ndarray, ...]


def crossings(segments: Segments, a: np.ndarray, b: np.ndarray) -> tuple[Events, Events, Ties]:
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
    o1, t1 = determinant(s, a, s.ax[b], s.ay[b])
    o2, t2 = determinant(s, a, s.bx[b], s.by[b])
    o3, t3 = determinant(s, b, s.ax[a], s.ay[a])
    o4, t4 = determinant(s, b, s.bx[a], s.by[a])
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
    by_class: list[Events] = []
    by_member: list[Events] = []
    ends: list[Ties] = []
    for mine, other, t, if_after, if_before in sides:
        # one event per class: proper crossings, and ties of a class with one member
        # (its first member stands for all: they are on no other class of a proper crossing)
        one = np.flatnonzero(~tie | (s.size[mine] == 1))
        before, after = s.weight_around(other[one], s.member_polygon[s.start[mine[one]]])
        change = if_after[one] * after + if_before[one] * before
        by_class.append((mine[one], t[one], change, x[one], y[one]))
        # ties of classes with several members: inside an edge (a T-junction: rare), one
        # event per member; at an end, summed per member by `end_changes`
        many = tie & (s.size[mine] > 1)
        at_end = many & ((t == 0) | (t == 1))
        ends.append((mine[at_end], t[at_end], other[at_end], if_after[at_end], if_before[at_end]))
        many = np.flatnonzero(many & ~at_end)
        n = s.size[mine[many]]
        pair = np.repeat(many, n)
        member = np.repeat(s.start[mine[many]], n) + ragged_arange(n)
        before, after = s.weight_around(other[pair], s.member_polygon[member])
        change = if_after[pair] * after + if_before[pair] * before
        by_member.append((s.member_edge[member], t[pair], change, x[pair], y[pair]))
    ties_at_ends = tuple(np.concatenate(p) for p in zip(*ends, strict=True))
    return joined(by_class), joined(by_member), ties_at_ends


def end_changes(s: Segments, n_edges: int, ties: list[Ties]) -> np.ndarray:
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
    # rows by (class, end); chunks of whole groups of at most CHUNK breakpoints
    group = (mine << 1) | t.astype(np.int64)  # end 0: the start of the edge, 1: its end
    order = np.argsort(group, kind="stable")
    group, other = group[order], other[order]
    if_after, if_before = if_after[order], if_before[order]
    starts = np.flatnonzero(cat(True, group[1:] != group[:-1])[: len(group)])
    bounds = cat(starts, len(group))
    for lo, hi in chunks(np.add.reduceat(s.size[other], starts) if len(starts) else starts):
        rows = slice(bounds[lo], bounds[hi])
        add_tie_sums(s, out, group[rows], other[rows], if_after[rows], if_before[rows])
    return out


def add_tie_sums(
    s: Segments,
    out: np.ndarray,
    group: np.ndarray,
    other: np.ndarray,
    if_after: np.ndarray,
    if_before: np.ndarray,
) -> None:
    """Add the changes of the members of some (class, end) groups, whole, to ``out``."""
    n = s.size[other]
    row = np.repeat(np.arange(len(group)), n)
    member = np.repeat(s.start[other], n) + ragged_arange(n)
    q = s.member_polygon[member].astype(np.int64)
    weight = s.cumulative[member + 1] - s.cumulative[member]
    # one sorted run of breakpoints per (class, end)
    order = np.lexsort((q, group[row]))
    row, q, weight = row[order], q[order], weight[order]
    later = cat(0, np.cumsum(if_after[row] * weight))  # weight of q for members before q
    earlier = cat(0, np.cumsum(if_before[row] * weight))  # ... for members after q
    key = (group[row] << 32) | q
    groups = np.unique(group)
    # every member of each class with ties at that end reads its change
    size = s.size[groups >> 1]
    at = np.repeat(s.start[groups >> 1], size) + ragged_arange(size)
    g = np.repeat(groups, size)
    p = s.member_polygon[at].astype(np.int64)
    first = np.searchsorted(key, g << 32)
    last = np.searchsorted(key, (g + 1) << 32)
    below = np.searchsorted(key, (g << 32) | p, side="left")
    above = np.searchsorted(key, (g << 32) | p, side="right")
    change = later[last] - later[above] + earlier[below] - earlier[first]
    np.add.at(out, (g & 1, s.member_edge[at]), change)


def joined(parts: list[Events]) -> Events:
    """Event arrays, each part after the other, without the events that change nothing."""
    edge, t, change, px, py = (np.concatenate(p) for p in zip(*parts, strict=True))
    keep = change != 0
    return edge[keep], t[keep], change[keep], px[keep], py[keep]


def chunks(sizes: np.ndarray) -> list[tuple[int, int]]:
    """Ranges of consecutive items whose sizes add up to at most CHUNK (or one item)."""
    total = np.cumsum(sizes)
    out = []
    lo = 0
    while lo < len(sizes):
        done = total[lo - 1] if lo else 0
        hi = max(int(np.searchsorted(total, done + CHUNK, side="right")), lo + 1)
        out.append((lo, hi))
        lo = hi
    return out
