"""Which edited geometries are real edits, and what cover each means in its tile's own CRS.

A row's ``geometry`` is what loading showed of its cover (reprojected, densified, maybe
cut at the antimeridian), so an unedited row can hold other vertices than the cover
it came from: a file round trip, ``to_crs`` and back, densified edges. `edited_covers`
tells those from edits (`byocframe.edits.equality` holds the rules) and takes each edit back
into the tile's own CRS, as a push sends it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from byocframe.edits.equality import cover_problem, same_cover
from byocframe.frame.native import native_geometries
from byocframe.frame.settings import Drawing, drawing
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject, transformer

__all__ = [
    "SHOWN_TOLERANCE",
    "edited_covers",
    "moved_as_shown",
    "polygonal",
    "shown_in",
    "to_native",
]

#: Degrees a footprint shown cut at the antimeridian or holding a pole may move, as
#: shown, before it counts as edited (about 0.5 m: its cut is interpolated, and a round
#: trip through another CRS moves vertices near a pole by 0.1 m; its area alone misses
#: small moves).
SHOWN_TOLERANCE = 5e-6


#: The fixed step, in metres, rows were drawn with before adaptive densifying (and with
#: ``densify=10_000``): tried when a frame no longer records how it was drawn.
LEGACY_STEP = 10_000.0


def possible_drawings(settings: dict[str, Any]) -> list[Drawing]:
    """How the rows may have been drawn: the frame's record, or, lost, the usual ways.

    A frame whose attrs lost the record (``pd.concat`` of two loads, a file format
    without metadata) may hold rows drawn with fixed 10 km steps (files from before
    December 2026, or ``densify=10_000``): an unedited row drawn so is recognised by
    any of them, so it is not mistaken for an edit and sent.

    Examples
    --------
    >>> len(possible_drawings({"densify": 10_000.0})), len(possible_drawings({}))
    (1, 3)
    """
    own = drawing(settings)
    if "densify" in settings or "tolerance" in settings:
        return [own]
    fixed = LEGACY_STEP
    others: list[Drawing] = [
        {"densify": fixed, "tolerance": math.inf},
        {"densify": fixed, "tolerance": None},
    ]
    return [own, *others]


def edited_covers(
    part: pd.DataFrame, candidates: np.ndarray, settings: dict[str, Any]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which rows' geometry really changed, and their wanted covers in the native CRS.

    Only the candidates (digest differs) are looked at, in two steps:

    1. What loading the row's cover would show (`reproject`, as `read_tiles` does) is
       compared vertex by vertex with the geometry (1e-9 degrees or 0.1 mm): a file
       round trip or ``to_crs`` and back is recognised here.
    2. Otherwise the geometry is taken back into the tile's own CRS, as `push` would
       send it, and compared with the loaded cover by `same_cover` (the same area, no
       boundary point 2 cm off). Densified edges and re-rendered vertices are not edits;
       a swap of vertices, a flipped sign, a moved vertex are.

    An edited geometry that cannot be a cover (missing, empty, not polygonal, invalid,
    not finite or outside its CRS's area of use) is a problem of that row, named, and
    never an exception that stops the diff.
    """
    n = len(part)
    moved = np.zeros(n, dtype=bool)
    before = np.full(n, None, dtype=object)
    cover = np.full(n, None, dtype=object)
    problem = np.full(n, None, dtype=object)
    where = np.flatnonzero(candidates)
    if not len(where):
        return moved, {"before": before, "cover": cover, "problem": problem}
    rows = part.iloc[where]
    target = rows.crs.to_string() if rows.crs is not None else WGS84
    current = np.asarray(rows.geometry.array, dtype=object)
    usable = polygonal(current)
    for i in np.flatnonzero(~usable):
        problem[where[i]] = (
            "the cover is missing or empty: a tile's cover cannot be removed (the service "
            "would use its bounding box); give a polygon"
            if current[i] is None or shapely.is_empty(current[i])
            else f"a cover must be a Polygon or MultiPolygon, not a {current[i].geom_type}"
        )
    where, current = where[usable], current[usable]
    if not len(where):
        return moved, {"before": before, "cover": cover, "problem": problem}
    rows = part.iloc[where]
    native_crs = rows["native_crs"].astype(object).fillna(WGS84).to_numpy(dtype=object)
    native = native_geometries(rows, "native_cover")
    base = np.where(shapely.is_missing(native), native_geometries(rows, "native_tile"), native)
    has_base = ~shapely.is_missing(base)
    geographic = bool(CRS(target).is_geographic)
    step = 1e-9 if geographic else 1e-4
    as_loaded = np.zeros(len(where), dtype=bool)
    shown84 = special = None
    drawings = possible_drawings(settings)  # the frame's own first
    for drawn in drawings:
        look = has_base & ~as_loaded
        if not look.any():
            break
        seen84 = np.full(len(where), None, dtype=object)
        seen84[look] = reproject(base[look], native_crs[look], WGS84, **drawn)
        shown = seen84 if target == WGS84 else shown_in(base, native_crs, look, target, drawn)
        with np.errstate(invalid="ignore"):  # NaN or infinite vertices are simply not equal
            same = np.asarray(shapely.equals_exact(current, shown, tolerance=step))
        as_loaded |= look & same
        if not geographic:  # `to_crs` moves the shown vertices one by one, even to infinity
            as_loaded |= moved_as_shown(current, seen84, look & ~as_loaded, target, step)
        if shown84 is None:  # the frame's own drawing: the one edits are taken back with
            shown84 = seen84
            # shown cut at the antimeridian, or holding a pole: taken back as shown
            special = has_base.copy()
            special[has_base] = (
                shapely.get_num_geometries(shown84[has_base])
                > shapely.get_num_geometries(base[has_base])
            ) | (np.abs(shapely.bounds(shown84[has_base])[:, [1, 3]]) >= 90 - 1e-6).any(axis=1)
    if shown84 is None or special is None:  # no row has a native geometry to draw from
        shown84 = np.full(len(where), None, dtype=object)
        special = np.zeros(len(where), dtype=bool)
    todo = np.flatnonzero(~as_loaded)
    finite = np.array(
        [np.isfinite(shapely.get_coordinates(g)).all() for g in current[todo]], dtype=bool
    )
    for j in todo[~finite]:
        problem[where[j]] = (
            "its coordinates are not finite (NaN or infinite) as shown: give finite ones"
        )
    todo = todo[finite]
    back = to_native(current[todo], target, native_crs[todo], special[todo])
    # no cover drawn back, e.g. metres in a frame that lost its CRS (then taken as lon/lat):
    # not "an empty cover"; and a frame without a CRS is named as the likely cause (275)
    unknown_crs = (
        "; the frame has no CRS, so its covers are taken as lon/lat: set the one they are "
        "drawn in (gdf.set_crs)"
        if rows.crs is None
        else ""
    )
    for k, j in enumerate(todo):
        row, crs = where[j], str(native_crs[j])
        mine = back[k]
        try:
            unsendable = (
                cover_problem(mine, crs)
                if mine is not None
                else f"it could not be taken from {target} into {crs}"
            )
            if special[j] and not shapely.is_valid(current[j]):  # joining its parts hides it
                reason = shapely.is_valid_reason(current[j])
                unsendable = f"it is not a valid polygon ({reason}): fix it, e.g. with make_valid"
            if not has_base[j] or not np.isfinite(shapely.get_coordinates(mine)).all():
                edited = True
            else:
                edited = not same_cover(mine, base[j], crs, cut=bool(special[j]))
                if special[j] and not edited and geographic:
                    # the area test alone misses small moves: compare as shown too
                    apart = shapely.hausdorff_distance(
                        shapely.boundary(current[j]), shapely.boundary(shown84[j])
                    )
                    edited = not apart <= SHOWN_TOLERANCE
        except shapely.errors.GEOSException as err:
            unsendable, edited = f"it cannot be read as a polygon ({err})", True
        if not edited:
            continue
        if unsendable:
            problem[row] = f"the cover cannot be sent in {crs}: {unsendable}{unknown_crs}"
            continue
        moved[row] = True
        cover[row] = mine
    edited_rows = where[moved[where]]
    if len(edited_rows):
        source = native_geometries(part.iloc[edited_rows], "native_cover")
        codes = part["native_crs"].iloc[edited_rows].astype(object).fillna(WGS84)
        codes = codes.to_numpy(dtype=object)
        present = ~shapely.is_missing(source)
        if present.any():
            # as loading showed them: the frame's own drawing, not a fallback
            loaded = reproject(source[present], codes[present], target, **drawings[0])
            before[edited_rows[present]] = loaded
    return moved, {"before": before, "cover": cover, "problem": problem}


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Non-empty Polygons and MultiPolygons."""
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok]) & np.isin(shapely.get_type_id(geoms[ok]), (3, 6))
    return ok


def shown_in(
    base: np.ndarray,
    codes: np.ndarray,
    has: np.ndarray,
    target: str,
    drawn: Drawing,
) -> np.ndarray:
    """What loading would show in ``target`` (None where that CRS cannot show it)."""
    out = np.full(len(base), None, dtype=object)
    failed = (shapely.errors.GEOSException, ValueError, RuntimeWarning)
    with np.errstate(all="ignore"):  # infinite vertices: a failed repair, not a warning
        try:
            out[has] = reproject(base[has], codes[has], target, **drawn)
        except failed:
            for i in np.flatnonzero(has):  # one at a time: some cannot be shown there
                one = slice(i, i + 1)
                try:
                    out[i] = reproject(base[one], codes[one], target, **drawn)[0]
                except failed:
                    out[i] = None
    return out


def moved_as_shown(
    current: np.ndarray, shown84: np.ndarray, where: np.ndarray, target: str, step: float
) -> np.ndarray:
    """Rows whose geometry is the loaded one moved vertex by vertex into ``target``.

    That is what ``GeoDataFrame.to_crs`` does to the footprint shown in CRS84, infinities
    included (a tile far outside a UTM zone).
    """
    out = np.zeros(len(current), dtype=bool)
    rows = np.flatnonzero(where)
    if not len(rows):
        return out
    mover = transformer(WGS84, target)
    moved = shapely.transform(
        shown84[rows], lambda xy: np.column_stack(mover.transform(xy[:, 0], xy[:, 1]))
    )
    for i, geom in zip(rows, moved, strict=True):
        mine, theirs = shapely.get_coordinates(current[i]), shapely.get_coordinates(geom)
        out[i] = (
            mine.shape == theirs.shape
            and shapely.get_num_geometries(current[i]) == shapely.get_num_geometries(geom)
            and bool(np.isclose(mine, theirs, rtol=0, atol=step, equal_nan=True).all())
        )
    return out


def to_native(geoms: np.ndarray, source: str, codes: np.ndarray, special: np.ndarray) -> np.ndarray:
    """Geometries shown in ``source`` taken into each row's own CRS (no densifying).

    Vertex by vertex, without repairs, so an invalid edit stays invalid; geometries
    shown cut at the antimeridian or holding a pole (``special``) go back through
    `reproject`, which joins their parts, without clipping them.
    """
    out = np.full(len(geoms), None, dtype=object)
    for code in set(codes.tolist()):
        group = np.flatnonzero(codes == code)
        plain = group[~special[group]]
        if len(plain):
            mover = transformer(source, str(code))
            out[plain] = shapely.transform(
                geoms[plain], lambda xy, mover=mover: np.column_stack(mover.transform(*xy.T))
            )
        for i in group[special[group]]:  # one at a time: a repair may fail on one
            try:
                wgs84 = reproject(geoms[i : i + 1], np.array([source]), WGS84, densify=None)
                back = reproject(wgs84, np.array([WGS84]), str(code), densify=None, clip=False)
                out[i] = _seamless(back[0], wgs84[0], str(code))
            except (shapely.errors.GEOSException, ValueError):
                out[i] = None  # "it is empty": a problem of that row
    return out


#: Grid, in the tile CRS's units, on which the two sides of a cut at the antimeridian
#: are joined again (they meet within ~1e-9 m once taken back).
_SEAM_GRID = 1e-6


def _seamless(native: Any, lonlat: Any, code: str) -> Any:
    """A cover shown cut at the antimeridian, taken back whole, without the cut's vertices.

    The parts either side of 180 degrees meet along the cut once in the tile's own CRS:
    they are joined into one polygon, and the vertices the cut added (interpolated in
    degrees, up to the densifying tolerance off the true edge) are dropped, so the edge
    runs straight between the vertices either side, as it does in the tile's CRS.
    Covers that hold a pole, or do not join into one polygon, are left as they are.
    """
    if native is None or shapely.get_num_geometries(native) < 2:
        return native
    xy = shapely.get_coordinates(lonlat)
    if (np.abs(xy[:, 1]) >= 90 - 1e-9).any():
        return native
    seam = xy[np.abs(xy[:, 0]) == 180.0]
    if not len(seam):
        return native
    joined = shapely.union_all(shapely.get_parts(native), grid_size=_SEAM_GRID)
    if shapely.get_type_id(joined) != shapely.GeometryType.POLYGON:
        return native
    mover = transformer(WGS84, code)
    cut = np.column_stack(mover.transform(seam[:, 0], seam[:, 1]))
    rings = [joined.exterior, *joined.interiors]
    kept = []
    for ring in rings:
        points = shapely.get_coordinates(ring)[:-1]
        apart = np.hypot(*(points[:, None, :] - cut[None, :, :]).transpose(2, 0, 1))
        near = apart.min(axis=1) <= 10 * _SEAM_GRID  # a cut vertex, after the join's snap
        points = points[~near] if (~near).sum() >= 3 else points
        kept.append(np.vstack([points, points[:1]]))
    whole = shapely.Polygon(kept[0], kept[1:])
    return shapely.MultiPolygon([whole]) if whole.is_valid else native
