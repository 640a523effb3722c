"""The offline diff of a tile frame: what was edited since it was loaded (no network).

`plan` reads the frame (`byocframe.edits.edited.read_edited`: each row's ``loaded`` token,
see `byocframe.frame.snapshot`) and returns a `Plan`: the updates (with their loaded and
wanted states, covers in each tile's own CRS), the creates (rows with no token), the
deletes (loaded ids no longer in the frame, on request) and a one-row-per-field table of
the changes. The cost grows with the number of edited rows: unedited rows are
recognised from digests, and only rows whose digest differs are reprojected
(`byocframe.edits.cover_diff`).
"""

from __future__ import annotations

import difflib
import warnings
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.edits.cover_diff import edited_covers, polygonal
from byocframe.edits.delete_checks import as_loaded
from byocframe.edits.edited import EditedFrame, adopt_tokens, read_edited

# The equality rules live in `byocframe.edits.equality`; these names stay importable from
# here for code written against byocframe 0.2.
from byocframe.edits.equality import (
    CUT_TOLERANCE,
    SHAPE_TOLERANCE,
    covers_equal,
    same_instant,
    same_shape,
)
from byocframe.edits.plans import Create, Plan, Update
from byocframe.exceptions import ByocframeWarning, ValidationError, user_stacklevel
from byocframe.frame.footprints import redraw_tiles
from byocframe.frame.native import native_geometries
from byocframe.frame.records import NAT, STATUSES, WIRE_TO_COLUMN, times_us
from byocframe.frame.tokens import OTHER_READ_ONLY, LoadedState
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject

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
    "plan_edits",
    "same_instant",
    "same_shape",
]

_READ_ONLY = ("path", "status", "created", "ingestion_start", "tile_geometry")


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

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> moved = gdf.drop(index=gdf.index[4])
    >>> moved.loc[moved.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    >>> found = plan(moved, deleted=True)
    >>> [u.id for u in found.updates] == [gdf.index[0]], found.deletes == [gdf.index[4]]
    (True, True)
    """
    edited = read_edited(frame, original=original, collection=collection, ids=deleted)
    return plan_edits(edited, deleted=deleted)


def plan_edits(edited: EditedFrame, *, deleted: bool = False) -> Plan:
    """The `Plan` of a frame `byocframe.edits.edited.read_edited` read; see `plan`.

    ``deleted`` needs the frame read with ``ids=True``.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.edits.edited import read_edited
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> plan_edits(read_edited(gdf)).changes.empty
    True
    """
    frame, state, settings = edited.frame, edited.state, edited.settings
    _warn_near_misses(frame)
    load = settings.get("load")
    result = Plan(
        collection=edited.collection,
        service=edited.service,
        changes=pd.DataFrame(),
        loaded_ids=edited.loaded_ids,
        load=load if isinstance(load, int) else None,
        whole=bool(settings.get("whole")),
        adopted=frame["loaded"].array if edited.adopted else None,
    )
    rows: list[dict[str, Any]] = []
    loaded = np.flatnonzero(state.present)
    if len(loaded):
        _diff_loaded(frame, state, edited.now, loaded, settings, result, rows)
    for pos in np.flatnonzero(~state.present):
        _diff_new(frame, int(pos), result, rows)
    _refuse_repeated_paths(frame, state, result)
    if deleted:
        result.deletes = _deletes(edited)
        # the deleted tiles as loaded, checked on the server before deleting: a dropped
        # row's token is gone with it, so what the frame's attrs recorded of each (a
        # push's write-back renews it), or original='s row where it agrees or is all
        checks = as_loaded(edited.frame, result.deletes)
        if edited.original is not None:
            for tid, row in as_loaded(edited.original, result.deletes).items():
                recorded = checks.get(tid)
                if recorded is None or recorded.agrees(row):
                    checks[tid] = row  # the row compares its additional data by value
        result.delete_checks = checks
        end = len(frame)
        for tid in result.deletes:
            if tid not in checks:  # never sent unchecked: refused, as an unknown one is
                result.problems.append(
                    {
                        "id": tid,
                        "field": "tile",
                        "value": None,
                        "problem": "not deleted: nothing records what it held when loaded "
                        "(a frame or file an older byocframe wrote, or one edited by hand): "
                        "load the tiles again, or pass original=<the frame as loaded>",
                        "_pos": end,
                    }
                )
        rows += [_row(tid, "tile", None, None, "delete", end) for tid in result.deletes]
    rows.sort(key=lambda r: r.pop("_pos"))  # frame order; stable
    result.problems.sort(key=lambda p: p.pop("_pos"))
    result.changes = pd.DataFrame(rows, columns=["id", "field", "old", "new", "action"])
    return result


#: Columns of a tile frame that are not API fields; with those, never a misspelling.
_FRAME_ONLY = ("geometry_source", "loaded", "native_cover", "native_crs", "native_tile")


def _warn_near_misses(frame: pd.DataFrame) -> None:
    """Warn of a column spelled like an editable one, whose values are never pushed.

    A typo in an assignment (``gdf.loc[m, "sensing_tme"] = ...``) makes a new column. A
    name holding the field's whole (``sensing_time_old``, ``geometry_1``: a copy kept on
    purpose) is no misspelling.
    """
    geometry = getattr(frame, "active_geometry_name", None) or "geometry"
    editable = ["sensing_time", geometry]
    known = {*WIRE_TO_COLUMN.values(), *_FRAME_ONLY, *editable}
    for name in frame.columns:
        if not isinstance(name, str) or name in known:
            continue
        if any(field in name for field in editable):
            continue  # a name made from the field's on purpose (sensing_time_old, geometry_1)
        near = difflib.get_close_matches(name, editable, n=1, cutoff=0.85)
        if near:
            warnings.warn(
                f"column {name!r} is not a tile field, so its values are not pushed: "
                f"did you mean {near[0]!r}? (put the values there and drop {name!r})",
                ByocframeWarning,
                stacklevel=user_stacklevel(),
            )


def _deletes(edited: EditedFrame) -> list[str]:
    """The loaded tiles no longer in the frame, when the loaded ids can be trusted."""
    remembered = edited.loaded_ids
    if remembered is None and edited.settings.get("whole") is False:
        raise ValidationError(
            "this frame is a part of a file (read with rows=, bbox=, mask=, filters= or "
            "some row groups), so no deletion is planned from it: read the file whole to "
            "delete tiles, or delete with Client.delete_tile"
        )
    if remembered is None:
        raise ValidationError(
            "this frame no longer lists the ids that were loaded (its .attrs were lost, "
            "e.g. by pd.concat or a file format without metadata), so dropped rows "
            "cannot be found: pass original=<the frame as loaded>, or delete with "
            "Client.delete_tile"
        )
    if not edited.sealed:
        raise ValidationError(
            "the ids this frame remembers as loaded do not match their seal (they were "
            "edited, come from another load, or rows of several loads were joined), so no "
            "deletion is planned from them: pass original=<the frame as loaded>, or "
            "load the tiles again with byocframe.read_tiles()"
        )
    present = set(pd.Index(edited.frame.index.astype(object))[edited.state.present])
    return [tid for tid in remembered if tid not in present]


def _tile_redrawn_elsewhere(part: pd.DataFrame, differs: np.ndarray) -> np.ndarray:
    """Of the rows whose ``tile_geometry`` differs from the loaded one, those edited.

    A row whose tile geometry is what this byocframe draws for its ``native_tile`` was
    not edited: it was drawn again, e.g. by `read_file` (which recomputes it) with
    another version's densifying than the one that loaded it.
    """
    rows = np.flatnonzero(differs)
    if not len(rows) or "native_tile" not in part.columns:
        return differs
    target = part.crs.to_string() if getattr(part, "crs", None) is not None else WGS84
    shown = np.asarray(part["tile_geometry"].array, dtype=object)[rows]
    redrawn = redraw_tiles(part.iloc[rows], target)
    drawn = shapely.equals_exact(shown, redrawn, tolerance=0) | (
        shapely.is_missing(shown) & shapely.is_missing(redrawn)
    )
    out = differs.copy()
    out[rows[drawn]] = False
    return out


def _diff_loaded(
    frame: pd.DataFrame,
    state: LoadedState,
    now: np.ndarray,
    loaded: np.ndarray,
    settings: dict[str, Any],
    result: Plan,
    rows: list[dict[str, Any]],
) -> None:
    part = frame if len(loaded) == len(frame) else frame.iloc[loaded]
    tids = part.index.to_numpy(dtype=object)
    checks = {
        "path": now["path"] != state.path[loaded],
        "status": now["status"] != state.status[loaded],
        # file formats such as GeoPackage keep times to the millisecond
        "created": ~same_instant(now["created"], state.created[loaded]),
        "ingestion_start": ~same_instant(now["ingestion_start"], state.ingestion_start[loaded]),
        "tile_geometry": (
            _tile_redrawn_elsewhere(part, now["tile"] != state.tile[loaded])
            if "tile_geometry" in part.columns
            else None
        ),
    }
    for name in _READ_ONLY:
        if name not in part.columns:  # a column dropped is not an edit to send
            continue
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
                    "problem": "read-only field edited: restore it, or load the tiles "
                    "again with byocframe.read_tiles()",
                    "_pos": int(loaded[i]),
                }
            )
    refused = np.zeros(len(part), dtype=bool)  # rows whose cover or CRS is not as loaded
    for k, name in enumerate(OTHER_READ_ONLY):
        if name not in part.columns:  # a column dropped is not an edit to send
            continue
        for i in np.flatnonzero(now["others"][:, k] != state.others[loaded, k]):
            new = part[name].iat[i]
            if name == "native_tile":
                new = native_geometries(part.iloc[[i]], name)[0]
            rows.append(_row(tids[i], name, None, new, "read-only", loaded[i]))
            result.problems.append(
                {
                    "id": tids[i],
                    "field": name,
                    "value": new,
                    "problem": f"read-only field edited (the service owns {name}): restore it, "
                    "or load the tiles again with byocframe.read_tiles()",
                    "_pos": int(loaded[i]),
                }
            )
            refused[i] |= name in ("native_crs", "native_tile")
    renative = np.flatnonzero(now["native"] != state.native[loaded])
    for i in renative:
        rows.append(_row(tids[i], "native_cover", None, None, "read-only", loaded[i]))
        result.problems.append(
            {
                "id": tids[i],
                "field": "native_cover",
                "value": native_geometries(part.iloc[[i]], "native_cover")[0],
                "problem": "read-only field edited (it is the cover as loaded, which the "
                "push compares the server's with): restore it and edit 'geometry' instead, "
                "or set covers in the tile's own CRS with gdf.byoc.set_native_covers(covers)",
                "_pos": int(loaded[i]),
            }
        )
    retimed = ~same_instant(now["sensing_time"], state.sensing_time[loaded])
    moved, wanted = edited_covers(part, now["geometry"] != state.geometry[loaded], settings)
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
    refused[renative] = True
    if refused.any():  # refused: the loaded cover, or the CRS it is in, is not known
        retimed[refused] = moved[refused] = False
    edited = np.flatnonzero(retimed | moved)
    if not len(edited):
        return
    native = np.full(len(part), None, dtype=object)
    native[edited] = native_geometries(part.iloc[edited], "native_cover")
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
        if not polygonal(np.array([geom], dtype=object))[0]:
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
            if cover is None or shapely.is_empty(cover):  # e.g. metres in a lon/lat frame
                result.problems.append(
                    {
                        "id": None,
                        "field": "geometry",
                        "value": geom,
                        "problem": f"new row {pos}: its cover lies outside {crs}, where it "
                        "cannot be drawn: give it in the frame's CRS (gdf.crs)",
                        "_pos": pos,
                    }
                )
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


def _refuse_repeated_paths(frame: pd.DataFrame, state: LoadedState, result: Plan) -> None:
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
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    >>> changes(gdf)[["field", "action"]].to_dict("records")
    [{'field': 'sensing_time', 'action': 'update'}]
    """
    return plan(frame, original=original, deleted=deleted).changes
