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

import numpy as np
import shapely

from byocframe.tools.edges import (
    Edges,
    Events,
    Segments,
    Ties,
    candidate_pairs,
    cat,
    chunks,
    crossings,
    end_changes,
    grid_cells,
    joined,
    packed,
    ragged_arange,
)
from byocframe.typing import GeometriesLike

__all__ = ["depth_areas", "grid_cells"]


def _start_depths(edges: Edges, weight: np.ndarray) -> np.ndarray:
    """How many other polygons hold the first vertex of each ring (perturbed ray test).

    A ray from the vertex towards +x; each edge of another polygon that it crosses
    upwards counts +1, downwards -1 (the winding number). Rings starting at one and the
    same point (copies of a footprint) are tested once, against each nearby polygon
    both ways: for polygons before and after the ring's own in the perturbation.
    """
    e = edges
    first = e.ring_first
    rp = e.polygon[first].astype(np.int64)
    _, at, point_of = np.unique(packed(e.ax[first], e.ay[first]), True, True)
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
    for lo, hi in chunks(n_edges):
        pair = lo + np.repeat(np.arange(hi - lo), n_edges[lo:hi])
        edge = np.repeat(e.polygon_start[:-1][poly[lo:hi]], n_edges[lo:hi])
        edge += ragged_arange(n_edges[lo:hi])
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
            # ties decided as in `determinant`
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
        shift: cat(0, np.cumsum((winding[shift][by_key] != 0) * weight[poly[by_key]]))
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


def _bounds(edges: Edges, n: int) -> tuple[np.ndarray, ...]:
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
        edges: Edges,
        s: Segments,
        on_class: Events,
        on_member: Events,
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
        first = cat(s.member_edge[s.start], alone)  # an edge that draws each walk
        # class events of a split class happen on each of its members
        copied = split[cls]
        n = s.size[cls[copied]]
        member = np.repeat(s.start[cls[copied]], n) + ragged_arange(n)
        # member events (ties inside an edge) all fall on split classes: their walks'
        event_walk = cat(cls[~copied], walk[s.member_edge[member]], walk[medge])
        pick = cat(np.flatnonzero(~copied), np.repeat(np.flatnonzero(copied), n))
        t, change = cat(ct[pick], mt), cat(cchange[pick], mchange)
        x, y = cat(cx[pick], mx), cat(cy[pick], my)
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
        all_walk = cat(busy, walk)
        step = cat(np.zeros(n, np.int64), change)
        # one int64 key orders a walk's points: its start, then the events by t (the
        # bits of a float in [0, 1] ascend with it) and, at one t, those entering first:
        # the pieces between crossings at one point have no length, and no depth goes
        # below its true value
        key = cat(np.full(n, -1), (t.view(np.int64) << 1) | (change <= 0))
        order = np.argsort(key)
        order = order[np.argsort(all_walk[order], kind="stable")]
        px, py = cat(ax[busy], x)[order], cat(ay[busy], y)[order]
        all_walk, step = all_walk[order], step[order]
        running = np.cumsum(step)
        starts = np.flatnonzero(cat(True, all_walk[1:] != all_walk[:-1])[: len(all_walk)])
        u = running - np.repeat(running[starts], np.diff(cat(starts, len(step))))
        # a piece runs from each point to the next one of its walk, the last to its end
        last = cat(starts[1:], len(step))[: len(starts)] - 1
        qx, qy = cat(px[1:], 0.0), cat(py[1:], 0.0)
        qx[last], qy[last] = bx[busy], by[busy]
        terms = (
            px * qy - qx * py,
            ax[idle] * by[idle] - bx[idle] * ay[idle],
            ax[one] * sy - sx * ay[one],
            sx * by[one] - bx[one] * sy,
        )
        self.term = np.concatenate(terms) * (0.5 * e.resolution**2)
        self.piece_walk = cat(all_walk, idle, one, one)
        self.u = cat(u, np.zeros(len(idle) + len(one), np.int64), step_one)
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
        key = cat((walk << 32) | (d + offset), (walk << 32) | (d + own + offset))
        entry, at = np.unique(key, return_inverse=True)
        count = np.bincount(at, cat(np.ones(len(d)), -np.ones(len(d))), len(entry))
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
        for lo, hi in chunks(n):
            piece = np.repeat(np.arange(lo, hi), n[lo:hi])
            at = np.repeat(low[lo:hi], n[lo:hi]) + ragged_arange(n[lo:hi])
            self._add(levels, np.maximum(entry_d[at] + u[piece], 0), term[piece] * count[at])
        return np.cumsum(levels)

    @staticmethod
    def _add(levels: np.ndarray, level: np.ndarray, term: np.ndarray) -> None:
        """Add the terms to their levels, those below the deepest level asked for."""
        keep = level < len(levels)
        levels += np.bincount(level[keep], term[keep], len(levels))


def _edge_start_depths(edges: Edges, walks: _Walks, ring_start: np.ndarray) -> np.ndarray:
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


def depth_areas(
    geoms: GeometriesLike, *, resolution: float = 0.1, deepest: int | None = None
) -> np.ndarray:
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
    edges = Edges(geoms, np.ones(len(geoms), np.int64), resolution)
    weight = edges.weight
    if len(edges) == 0:
        return np.zeros(0)
    segments = Segments(edges, weight)
    empty = np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    by_class, by_member = [empty], [empty]
    ties: list[Ties] = [(empty[0], empty[1], empty[0], empty[0], empty[0])]
    for a, b in candidate_pairs(segments):
        on_class, on_member, at_ends = crossings(segments, a, b)
        by_class.append(on_class)
        by_member.append(on_member)
        ties.append(at_ends)
    at_start, at_end = end_changes(segments, len(edges), ties)
    walks = _Walks(edges, segments, joined(by_class), joined(by_member), at_start, at_end)
    start_depth = _edge_start_depths(edges, walks, _start_depths(edges, weight))
    return walks.levels(start_depth, weight[edges.polygon], deepest)
