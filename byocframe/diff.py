"""The offline diff of a tile frame: what was edited since it was loaded (no network).

`plan` compares each row with its ``loaded`` token (see `byocframe.snapshot`) and
returns a `Plan`: the updates (with their loaded and wanted states, covers in each
tile's own CRS), the creates (rows with no token), the deletes (loaded ids no longer in
the frame, on request) and a one-row-per-field table of the changes. The cost grows with
the number of edited rows: unedited rows are recognised from digests, and only rows
whose digest differs are reprojected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from byocframe.crs import WGS84
from byocframe.equality import (
    CUT_TOLERANCE,
    SHAPE_TOLERANCE,
    cover_problem,
    covers_equal,
    same_cover,
    same_instant,
    same_shape,
)
from byocframe.exceptions import ValidationError
from byocframe.geometry import DEFAULT_DENSIFY, reproject, transformer
from byocframe.records import STATUSES
from byocframe.snapshot import (
    ATTRS_KEY,
    LOADED,
    NAT,
    OldTokenError,
    current_fields,
    loaded_ids,
    loaded_state,
    sealed_ids,
    times_us,
)

__all__ = [
    "CUT_TOLERANCE",
    "SHAPE_TOLERANCE",
    "Create",
    "Plan",
    "Update",
    "adopt_tokens",
    "changes",
    "covers_equal",
    "plan",
    "same_instant",
    "same_shape",
]

_READ_ONLY = ("path", "status", "created", "ingestion_start", "tile_geometry")


@dataclass
class Update:
    """One tile whose sensing time or cover was edited.

    Times are int64 microseconds (`byocframe.snapshot.NAT` when missing); covers are
    shapely geometries in the tile's own CRS ``crs`` (None: no cover).
    """

    id: str
    position: int
    crs: str
    base_time: int
    wanted_time: int
    base_cover: Any
    wanted_cover: Any


@dataclass
class Create:
    """One new row: its position in the frame, path, sensing time and cover (CRS84)."""

    position: int
    path: str | None
    wanted_time: int
    cover: Any


@dataclass
class Plan:
    """What a push would do, computed offline from the frame and its ``loaded`` tokens."""

    collection: str
    service: int
    changes: pd.DataFrame
    updates: list[Update] = field(default_factory=list)
    creates: list[Create] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    loaded_ids: list[str] | None = None
    #: The load the frame's rows came from (`byocframe.snapshot.stamp`), if known.
    load: int | None = None
    #: Whether the loaded ids are the whole collection (a listing without filters).
    whole: bool = False


def _settings(frame: pd.DataFrame, original: pd.DataFrame | None) -> dict[str, Any]:
    settings = dict(original.attrs.get(ATTRS_KEY, {})) if original is not None else {}
    settings.update({k: v for k, v in frame.attrs.get(ATTRS_KEY, {}).items() if v is not None})
    return settings


def adopt_tokens(
    frame: pd.DataFrame, original: pd.DataFrame, *, inplace: bool = False
) -> pd.DataFrame:
    """Give rows that lost their ``loaded`` token the one ``original`` has for their id."""
    if LOADED not in original.columns:
        raise ValidationError(
            "original= has no 'loaded' column: pass the frame as byocframe.read_tiles() returned it"
        )
    tokens = pd.Series(original[LOADED].to_numpy(dtype=object), index=original.index)
    tokens = tokens[~tokens.index.duplicated()]
    current = (
        pd.Series(frame[LOADED].to_numpy(dtype=object), index=frame.index)
        if LOADED in frame.columns
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    )
    lost = current.isna().to_numpy() & frame.index.isin(tokens.index)
    if not lost.any():
        return frame
    if not inplace:
        frame = frame.copy()
    filled = current.to_numpy(dtype=object, copy=True)
    filled[lost] = tokens.reindex(frame.index[lost]).to_numpy(dtype=object)
    frame[LOADED] = pd.array(filled, dtype=pd.StringDtype(na_value=np.nan))
    return frame


def plan(
    frame: pd.DataFrame,
    *,
    original: pd.DataFrame | None = None,
    deleted: bool = False,
    collection: str | None = None,
) -> Plan:
    """Compare a tile frame with what was loaded; see `changes` for the rules.

    Raises
    ------
    ValidationError
        When the frame cannot say what was loaded (no ``loaded`` column), rows come
        from several collections, or deletions are asked for but the loaded ids were
        lost.
    """
    if original is not None:
        frame = adopt_tokens(frame, original)
    if LOADED not in frame.columns:
        raise ValidationError(
            "this frame does not say what was loaded (no 'loaded' column): load it with "
            "byocframe.read_tiles() or byocframe.read_file(), or pass original=<the frame "
            "as loaded>"
        )
    try:
        state = loaded_state(frame)
    except OldTokenError as err:
        raise ValidationError(f"{err} (nothing was sent)") from err
    except ValueError as err:
        raise ValidationError(f"{err}: reload the tiles with byocframe.read_tiles()") from err
    settings = _settings(frame, original)
    ids = pd.Index(frame.index.astype(object))
    known: set[str] = set()
    if not state.present.all():  # only rows without a token are looked up
        known = set(loaded_ids(frame) or []) | set(
            (loaded_ids(original) or []) if original is not None else []
        )
    _check_rows(frame, state, ids, known)
    cids = set(state.collection[state.present]) - {""}
    if collection:
        cids.add(collection)
    elif not cids and settings.get("collection"):
        cids.add(str(settings["collection"]))
    if len(cids) > 1:
        raise ValidationError(
            f"the frame mixes tiles of {len(cids)} collections ({', '.join(sorted(cids))}): "
            "push each collection's rows on their own"
        )
    services = {int(s) for s in np.unique(state.service[state.present]) if s}
    if len(services) > 1:
        raise ValidationError(
            f"the frame mixes tiles loaded from {len(services)} services: push each "
            "service's rows with a client for that service"
        )
    result = Plan(
        collection=next(iter(cids), ""),
        service=next(iter(services), 0) if len(services) == 1 else 0,
        changes=pd.DataFrame(),
    )
    result.loaded_ids = loaded_ids(original) if original is not None else loaded_ids(frame)
    result.whole = bool(settings.get("whole"))
    load = settings.get("load")
    result.load = load if isinstance(load, int) else None
    rows: list[dict[str, Any]] = []
    loaded = np.flatnonzero(state.present)
    if len(loaded):
        _diff_loaded(frame, state, loaded, settings, result, rows)
    for pos in np.flatnonzero(~state.present):
        _diff_new(frame, int(pos), result, rows)
    _refuse_repeated_paths(frame, state, result)
    if deleted:
        remembered = result.loaded_ids
        if remembered is None:
            raise ValidationError(
                "this frame no longer lists the ids that were loaded (its .attrs were lost, "
                "e.g. by pd.concat or a file format without metadata), so dropped rows "
                "cannot be found: pass original=<the frame as loaded>, or delete with "
                "Client.delete_tile"
            )
        sealed = sealed_ids(original) if original is not None else sealed_ids(frame, state)
        if not sealed:
            raise ValidationError(
                "the ids this frame remembers as loaded do not match their seal (they were "
                "edited, come from another load, or rows of several loads were joined), so no "
                "deletion is planned from them: pass original=<the frame as loaded>, or "
                "load the tiles again with byocframe.read_tiles()"
            )
        present = set(ids[state.present])
        result.deletes = [tid for tid in remembered if tid not in present]
        end = len(frame)
        rows += [_row(tid, "tile", None, None, "delete", end) for tid in result.deletes]
    rows.sort(key=lambda r: r.pop("_pos"))  # frame order; stable
    result.problems.sort(key=lambda p: p.pop("_pos"))
    result.changes = pd.DataFrame(rows, columns=["id", "field", "old", "new", "action"])
    return result


#: Degrees a footprint shown cut at the antimeridian or holding a pole may move, as
#: shown, before it counts as edited (about 0.5 m: its cut is interpolated, and a round
#: trip through another CRS moves vertices near a pole by 0.1 m; its area alone misses
#: small moves).
SHOWN_TOLERANCE = 5e-6
#: What a BYOC tile id looks like: a row with such an index and no token was loaded.
_TILE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
#: Columns a tile frame needs for its edits to be found.
REQUIRED = ("path", "status", "sensing_time", "native_cover", "native_crs", "native_tile")


def _check_rows(
    frame: pd.DataFrame, state: Any, ids: pd.Index, known: set[str] | None = None
) -> None:
    """Refuse frames whose rows cannot be matched with what was loaded, in one line."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"the frame lacks the column(s) {', '.join(missing)}: edit the frame that "
            "byocframe.read_tiles() or byocframe.read_file() gave (select columns only "
            "to look at them)"
        )
    for name in ("sensing_time", "created", "ingestion_start"):
        if name in frame.columns and not isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            values = frame[name]
            parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
            bad = np.flatnonzero(parsed.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                raise ValidationError(
                    f"{name}: row {ids[bad[0]]!r} holds {values.iloc[bad[0]]!r}, which is "
                    f"not a time ({len(bad)} such row(s)); write ISO 8601, e.g. "
                    "2024-06-01T10:00:00Z"
                )
    present = state.present
    named = ids if present.all() else ids[present]
    here = named.to_numpy(dtype=object)
    as_text = True  # whether the loaded rows' index values are their tile ids as they are
    if present.any():
        tokens = state.tile_id[present]
        try:
            wrong = np.flatnonzero(tokens != here)
        except TypeError:  # pd.NA in the index, say
            wrong = np.arange(len(here))
        if len(wrong):  # an index of numbers, say: compare the text of those
            as_text = False
            wrong = wrong[[str(here[i]) != tokens[i] for i in wrong]]
        if len(wrong):
            first = int(np.flatnonzero(present)[wrong[0]])
            hint = (
                "call .set_index('id')"
                if "id" in frame.columns
                else "keep the tile ids as the index"
            )
            raise ValidationError(
                f"{len(wrong)} row(s) are not indexed by their tile id (row {first} is "
                f"{ids[first]!r} but was loaded as tile {state.tile_id[first]!r}): {hint}"
            )
    strays = [
        i
        for i in ids[~present]
        if isinstance(i, str) and (i in (known or set()) or _TILE_ID.fullmatch(i))
    ]
    if strays:
        raise ValidationError(
            f"{len(strays)} row(s) have a tile id but no 'loaded' value (e.g. {strays[0]!r}): "
            "a new tile has no id yet (leave its index empty), and a loaded tile keeps its "
            "'loaded' value (edit the row instead of replacing it)"
        )
    # a set of texts finds repeats faster than the Index, which then names the first
    if (not as_text or len(set(here)) < len(here)) and named.has_duplicates:
        twice = named[named.duplicated()][0]
        raise ValidationError(
            f"tile {twice!r} appears more than once: keep one row per tile "
            "(e.g. frame[~frame.index.duplicated()])"
        )


def _diff_loaded(
    frame: pd.DataFrame,
    state: Any,
    loaded: np.ndarray,
    settings: dict[str, Any],
    result: Plan,
    rows: list[dict[str, Any]],
) -> None:
    part = frame if len(loaded) == len(frame) else frame.iloc[loaded]
    now = current_fields(part)
    tids = part.index.to_numpy(dtype=object)
    checks = {
        "path": now["path"] != state.path[loaded],
        "status": now["status"] != state.status[loaded],
        # file formats such as GeoPackage keep times to the millisecond
        "created": ~same_instant(now["created"], state.created[loaded]),
        "ingestion_start": ~same_instant(now["ingestion_start"], state.ingestion_start[loaded]),
        "tile_geometry": now["tile"] != state.tile[loaded],
    }
    for name in _READ_ONLY:
        for i in np.flatnonzero(checks[name]):
            new = None if name == "tile_geometry" else part[name].iat[i]
            if name == "status":
                code = state.status[loaded[i]]
                old = STATUSES[code - 1] if code else None
            elif name in ("created", "ingestion_start"):
                old = _timestamp(getattr(state, name)[loaded[i]])
            else:
                old = None
            rows.append(_row(tids[i], name, old, new, "read-only", loaded[i]))
            result.problems.append(
                {
                    "id": tids[i],
                    "field": name,
                    "value": new,
                    "problem": "read-only field edited",
                    "_pos": int(loaded[i]),
                }
            )
    renative = np.flatnonzero(now["native"] != state.native[loaded])
    for i in renative:
        rows.append(_row(tids[i], "native_cover", None, None, "read-only", loaded[i]))
        result.problems.append(
            {
                "id": tids[i],
                "field": "native_cover",
                "value": part["native_cover"].array[i],
                "problem": "read-only field edited (it is the cover as loaded, which the "
                "push compares the server's with): restore it and edit 'geometry' instead, "
                "or set covers in the tile's own CRS with gdf.byoc.set_native_covers(covers)",
                "_pos": int(loaded[i]),
            }
        )
    retimed = ~same_instant(now["sensing_time"], state.sensing_time[loaded])
    moved, wanted = _edited_covers(part, now["geometry"] != state.geometry[loaded], settings)
    for i in np.flatnonzero(wanted["problem"] != None):  # noqa: E711 - elementwise
        result.problems.append(
            {
                "id": tids[i],
                "field": "geometry",
                "value": part.geometry.array[i],
                "problem": wanted["problem"][i],
                "_pos": int(loaded[i]),
            }
        )
        rows.append(_row(tids[i], "geometry", None, part.geometry.array[i], "invalid", loaded[i]))
    moved &= wanted["problem"] == None  # noqa: E711
    if len(renative):  # refused: the loaded cover is not known
        retimed[renative] = moved[renative] = False
    edited = np.flatnonzero(retimed | moved)
    if not len(edited):
        return
    native = np.asarray(part["native_cover"].array, dtype=object)
    crs = np.full(len(part), None, dtype=object)
    crs[edited] = part["native_crs"].iloc[edited].astype(object).fillna(WGS84).to_numpy()
    shown = part.geometry.array
    base_times = state.sensing_time[loaded]
    old_times = _timestamps(base_times, retimed)
    new_times = _timestamps(now["sensing_time"], retimed)
    for i in edited:
        tid = tids[i]
        if retimed[i]:
            rows.append(_row(tid, "sensing_time", old_times[i], new_times[i], "update", loaded[i]))
        if moved[i]:
            rows.append(_row(tid, "geometry", wanted["before"][i], shown[i], "update", loaded[i]))
        result.updates.append(
            Update(
                id=str(tid),
                position=int(loaded[i]),
                crs=str(crs[i]),
                base_time=int(base_times[i]),
                wanted_time=int(now["sensing_time"][i]),
                base_cover=native[i],
                wanted_cover=wanted["cover"][i] if moved[i] else native[i],
            )
        )


def _timestamps(micros: np.ndarray, where: np.ndarray) -> np.ndarray:
    """UTC Timestamps (None for NaT) at ``where``, built in one vectorised call."""
    out = np.full(len(micros), None, dtype=object)
    picked = np.flatnonzero(where & (micros != NAT))
    if len(picked):
        out[picked] = list(pd.to_datetime(micros[picked], unit="us", utc=True))
    return out


def _edited_covers(
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
    usable = _polygonal(current)
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
    densify = settings.get("densify", DEFAULT_DENSIFY)
    native_crs = rows["native_crs"].astype(object).fillna(WGS84).to_numpy(dtype=object)
    native = np.asarray(rows["native_cover"].array, dtype=object)
    base = np.where(
        shapely.is_missing(native), np.asarray(rows["native_tile"].array, dtype=object), native
    )
    has_base = ~shapely.is_missing(base)
    shown84 = np.full(len(where), None, dtype=object)
    shown84[has_base] = reproject(base[has_base], native_crs[has_base], WGS84, densify=densify)
    shown = shown84
    if target != WGS84:
        shown = _shown_in(base, native_crs, has_base, target, densify)
    geographic = bool(CRS(target).is_geographic)
    step = 1e-9 if geographic else 1e-4
    with np.errstate(invalid="ignore"):  # NaN or infinite vertices are simply not equal
        same = np.asarray(shapely.equals_exact(current, shown, tolerance=step))
    as_loaded = has_base & same
    # shown cut at the antimeridian, or holding a pole: taken back the way it was shown
    special = has_base.copy()
    special[has_base] = (
        shapely.get_num_geometries(shown84[has_base]) > shapely.get_num_geometries(base[has_base])
    ) | (np.abs(shapely.bounds(shown84[has_base])[:, [1, 3]]) >= 90 - 1e-6).any(axis=1)
    if not geographic:  # `to_crs` moves the shown vertices one by one, even to infinity
        as_loaded |= _moved_as_shown(current, shown84, has_base & ~as_loaded, target, step)
    todo = np.flatnonzero(~as_loaded)
    finite = np.array(
        [np.isfinite(shapely.get_coordinates(g)).all() for g in current[todo]], dtype=bool
    )
    for j in todo[~finite]:
        problem[where[j]] = (
            "its coordinates are not finite (NaN or infinite) as shown: give finite ones"
        )
    todo = todo[finite]
    back = _to_native(current[todo], target, native_crs[todo], special[todo])
    for k, j in enumerate(todo):
        row, crs = where[j], str(native_crs[j])
        mine = back[k]
        try:
            unsendable = cover_problem(mine, crs) if mine is not None else "it is empty"
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
            problem[row] = f"the cover cannot be sent in {crs}: {unsendable}"
            continue
        moved[row] = True
        cover[row] = mine
    edited_rows = where[moved[where]]
    if len(edited_rows):
        source = np.asarray(part["native_cover"].array, dtype=object)[edited_rows]
        codes = part["native_crs"].iloc[edited_rows].astype(object).fillna(WGS84)
        codes = codes.to_numpy(dtype=object)
        present = ~shapely.is_missing(source)
        if present.any():
            drawn = reproject(source[present], codes[present], target, densify=densify)
            before[edited_rows[present]] = drawn
    return moved, {"before": before, "cover": cover, "problem": problem}


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Non-empty Polygons and MultiPolygons."""
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok]) & np.isin(shapely.get_type_id(geoms[ok]), (3, 6))
    return ok


def _shown_in(
    base: np.ndarray, codes: np.ndarray, has: np.ndarray, target: str, densify: float | None
) -> np.ndarray:
    """What loading would show in ``target`` (None where that CRS cannot show it)."""
    out = np.full(len(base), None, dtype=object)
    failed = (shapely.errors.GEOSException, ValueError, RuntimeWarning)
    with np.errstate(all="ignore"):  # infinite vertices: a failed repair, not a warning
        try:
            out[has] = reproject(base[has], codes[has], target, densify=densify)
        except failed:
            for i in np.flatnonzero(has):  # one at a time: some cannot be shown there
                one = slice(i, i + 1)
                try:
                    out[i] = reproject(base[one], codes[one], target, densify=densify)[0]
                except failed:
                    out[i] = None
    return out


def _moved_as_shown(
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


def _to_native(
    geoms: np.ndarray, source: str, codes: np.ndarray, special: np.ndarray
) -> np.ndarray:
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
                out[i] = reproject(wgs84, np.array([WGS84]), str(code), densify=None, clip=False)[0]
            except (shapely.errors.GEOSException, ValueError):
                out[i] = None  # "it is empty": a problem of that row
    return out


def _diff_new(frame: pd.DataFrame, pos: int, result: Plan, rows: list[dict[str, Any]]) -> None:
    row = frame.iloc[pos]
    path = row.get("path")
    path = None if path is None or pd.isna(path) or not str(path) else str(path)
    rows.append(_row(None, "path", None, path, "create", pos))
    when = row.get("sensing_time") if "sensing_time" in frame.columns else None
    wanted_time = NAT
    if when is not None and not pd.isna(when):
        wanted_time = int(times_us([when])[0])
        rows.append(_row(None, "sensing_time", None, pd.Timestamp(when), "create", pos))
    geom = row.geometry
    cover = None
    if geom is not None and not shapely.is_empty(geom):
        rows.append(_row(None, "geometry", None, geom, "create", pos))
        if not _polygonal(np.array([geom], dtype=object))[0]:
            result.problems.append(
                {
                    "id": None,
                    "field": "geometry",
                    "value": geom,
                    "problem": f"new row {pos}: a cover must be a Polygon or MultiPolygon, "
                    f"not a {geom.geom_type}",
                    "_pos": pos,
                }
            )
        else:
            crs = frame.crs.to_string() if frame.crs is not None else WGS84
            cover = reproject(np.array([geom]), np.array([crs]), WGS84, densify=None)[0]
    if path is None:
        result.problems.append(
            {
                "id": None,
                "field": "path",
                "value": path,
                "problem": f"new row {pos} has no path",
                "_pos": pos,
            }
        )
    result.creates.append(
        Create(position=int(pos), path=path, wanted_time=wanted_time, cover=cover)
    )


def _refuse_repeated_paths(frame: pd.DataFrame, state: Any, result: Plan) -> None:
    """A new row whose path another new row or a loaded row of the frame has."""
    if not result.creates:
        return
    taken = set(frame["path"].iloc[np.flatnonzero(state.present)].dropna().astype(str))
    seen: set[str] = set()
    for create in result.creates:
        if create.path is None:
            continue
        if create.path in taken or create.path in seen:
            result.problems.append(
                {
                    "id": None,
                    "field": "path",
                    "value": create.path,
                    "problem": f"new row {create.position}: another row has the path "
                    f"{create.path!r} (a path is one tile)",
                    "_pos": create.position,
                }
            )
        seen.add(create.path)


def _row(tid: Any, name: str, old: Any, new: Any, action: str, pos: Any) -> dict[str, Any]:
    """One change; ``_pos`` (the row's position in the frame) orders them, then goes."""
    return {"id": tid, "field": name, "old": old, "new": new, "action": action, "_pos": int(pos)}


def _timestamp(value: Any) -> pd.Timestamp | None:
    return None if int(value) == NAT else pd.Timestamp(int(value), unit="us", tz="UTC")


def changes(
    frame: pd.DataFrame,
    *,
    original: pd.DataFrame | None = None,
    deleted: bool = False,
) -> pd.DataFrame:
    """List what was edited since the frame was loaded: one row per changed field.

    Rows are compared with their ``loaded`` tokens, so the frame may have been filtered,
    sorted, concatenated with new rows or saved and read back (`byocframe.read_file`).
    Only ``sensing_time`` and ``geometry`` can be changed; rows with no token (e.g.
    added with ``pd.concat``) are new tiles.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame from `byocframe.read_tiles`, edited with pandas.
    original : GeoDataFrame, optional
        The frame as loaded, when ``frame`` lost its ``loaded`` column or its attrs.
    deleted : bool
        Also list tiles that were dropped from the frame (action ``delete``).

    Returns
    -------
    pandas.DataFrame
        ``id``, ``field``, ``old``, ``new`` and ``action``: ``update``, ``create`` (new
        rows, no id yet), ``delete`` or ``read-only`` (an edit `push` refuses).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    >>> changes(gdf)[["field", "action"]].to_dict("records")
    [{'field': 'sensing_time', 'action': 'update'}]
    """
    return plan(frame, original=original, deleted=deleted).changes
