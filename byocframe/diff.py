"""The offline diff of a tile frame: what was edited since it was loaded (no network).

`plan` compares each row with its ``loaded`` token (see `byocframe.snapshot`) and
returns a `Plan`: the updates (with their loaded and wanted states, covers in each
tile's own CRS), the creates (rows with no token), the deletes (loaded ids no longer in
the frame, on request) and a one-row-per-field table of the changes. The cost grows with
the number of edited rows: unedited rows are recognised from digests, and only rows
whose digest differs are reprojected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.exceptions import ValidationError
from byocframe.geometry import DEFAULT_DENSIFY, WGS84, reproject
from byocframe.records import STATUSES
from byocframe.snapshot import (
    ATTRS_KEY,
    LOADED,
    NAT,
    current_fields,
    loaded_ids,
    loaded_state,
    times_us,
)

__all__ = [
    "Create",
    "Plan",
    "Update",
    "adopt_tokens",
    "changes",
    "covers_equal",
    "plan",
    "same_instant",
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


def same_instant(a: Any, b: Any) -> Any:
    """Whether int64 microsecond times agree to the millisecond (the service's precision).

    Examples
    --------
    >>> bool(same_instant(1_000_999, 1_000_000)), bool(same_instant(NAT, NAT))
    (True, True)
    """
    return np.floor_divide(a, 1000) == np.floor_divide(b, 1000)


def _tolerance(crs: str) -> float:
    """Coordinates closer than this are the same point (2 cm, in the CRS's units)."""
    from pyproj import CRS

    return 2e-7 if CRS(crs).is_geographic else 0.02


def covers_equal(a: Any, b: Any, crs: str) -> bool:
    """Whether two covers in ``crs`` are the same within 2 cm (both missing counts).

    Vertex order, ring start and Polygon vs one-part MultiPolygon do not matter: the
    service re-renders covers through CRS84, which adds millimetres of noise.

    Examples
    --------
    >>> square = shapely.box(500000, 0, 510000, 10000)
    >>> moved = shapely.affinity.translate(square, 0.001)
    >>> covers_equal(square, moved, "EPSG:32633"), covers_equal(square, None, "EPSG:32633")
    (True, False)
    >>> covers_equal(square, shapely.affinity.translate(square, 0.05), "EPSG:32633")
    False
    """
    missing_a = a is None or bool(shapely.is_missing(a) or shapely.is_empty(a))
    missing_b = b is None or bool(shapely.is_missing(b) or shapely.is_empty(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    left, right = shapely.normalize(_multi(a)), shapely.normalize(_multi(b))
    return bool(shapely.equals_exact(left, right, tolerance=_tolerance(crs)))


def _multi(geom: Any) -> Any:
    if shapely.get_type_id(geom) == 3:
        return shapely.MultiPolygon([geom])
    return geom


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
    except ValueError as err:
        raise ValidationError(f"{err}: reload the tiles with byocframe.read_tiles()") from err
    settings = _settings(frame, original)
    ids = pd.Index(frame.index.astype(object))
    known_ids = set(loaded_ids(original) or []) if original is not None else set()
    known_ids |= set(loaded_ids(frame) or [])
    orphans = [tid for tid in ids[~state.present] if isinstance(tid, str) and tid in known_ids]
    if orphans:
        raise ValidationError(
            f"{len(orphans)} loaded tile(s) lost their 'loaded' token (e.g. {orphans[0]!r}): "
            "keep the 'loaded' column when you edit, or pass original=<the frame as loaded>"
        )
    cids = {c for c in state.collection[state.present] if c}
    if collection:
        cids.add(collection)
    elif not cids and settings.get("collection"):
        cids.add(str(settings["collection"]))
    if len(cids) > 1:
        raise ValidationError(
            f"the frame mixes tiles of {len(cids)} collections ({', '.join(sorted(cids))}): "
            "push each collection's rows on their own"
        )
    services = {int(s) for s in state.service[state.present] if s}
    result = Plan(
        collection=next(iter(cids), ""),
        service=next(iter(services), 0) if len(services) == 1 else 0,
        changes=pd.DataFrame(),
    )
    result.loaded_ids = loaded_ids(original) if original is not None else loaded_ids(frame)
    rows: list[dict[str, Any]] = []
    loaded = np.flatnonzero(state.present)
    if len(loaded):
        _diff_loaded(frame, state, loaded, settings, result, rows)
    for pos in np.flatnonzero(~state.present):
        _diff_new(frame, int(pos), result, rows)
    if deleted:
        remembered = result.loaded_ids
        if remembered is None:
            raise ValidationError(
                "the ids that were loaded are lost (pd.concat with a frame that has no "
                "byocframe attrs drops them), so deleted rows cannot be found: drop rows "
                "after concatenating, or pass original=<the frame as loaded>"
            )
        present = set(ids[state.present])
        result.deletes = [tid for tid in remembered if tid not in present]
        end = len(frame)
        rows += [_row(tid, "tile", None, None, "delete", end) for tid in result.deletes]
    rows.sort(key=lambda r: r.pop("_pos"))  # frame order; stable
    result.problems.sort(key=lambda p: p.pop("_pos"))
    result.changes = pd.DataFrame(rows, columns=["id", "field", "old", "new", "action"])
    return result


def _diff_loaded(
    frame: pd.DataFrame,
    state: Any,
    loaded: np.ndarray,
    settings: dict[str, Any],
    result: Plan,
    rows: list[dict[str, Any]],
) -> None:
    part = frame.iloc[loaded]
    now = current_fields(part)
    tids = part.index.to_numpy(dtype=object)
    checks = {
        "path": now["path"] != state.path[loaded],
        "status": now["status"] != state.status[loaded],
        "created": now["created"] != state.created[loaded],
        "ingestion_start": now["ingestion_start"] != state.ingestion_start[loaded],
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
    retimed = ~same_instant(now["sensing_time"], state.sensing_time[loaded])
    moved, wanted = _edited_covers(part, now["geometry"] != state.geometry[loaded], settings)
    native = np.asarray(part["native_cover"].array, dtype=object)
    crs = part["native_crs"].astype(object).fillna(WGS84).to_numpy(dtype=object)
    shown = part.geometry.array
    base_times = state.sensing_time[loaded]
    old_times = _timestamps(base_times, retimed)
    new_times = _timestamps(now["sensing_time"], retimed)
    for i in np.flatnonzero(retimed | moved):
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

    Only the candidates (digest differs) are reprojected: their loaded cover is drawn
    again as the loader draws it and compared with what the frame shows, so a file
    format that rounds coordinates (GeoJSON) is not mistaken for an edit.
    """
    n = len(part)
    moved = np.zeros(n, dtype=bool)
    before = np.full(n, None, dtype=object)
    cover = np.full(n, None, dtype=object)
    where = np.flatnonzero(candidates)
    if not len(where):
        return moved, {"before": before, "cover": cover}
    rows = part.iloc[where]
    target = rows.crs.to_string() if rows.crs is not None else WGS84
    densify = settings.get("densify", DEFAULT_DENSIFY)
    native = np.asarray(rows["native_cover"].array, dtype=object)
    native_crs = rows["native_crs"].astype(object).fillna(WGS84).to_numpy(dtype=object)
    has = ~shapely.is_missing(native)
    source = np.where(has, native, np.asarray(rows["native_tile"].array, dtype=object))
    expected = np.asarray(reproject(source, native_crs, target, densify=densify), dtype=object)
    current = np.asarray(rows.geometry.array, dtype=object)
    scale = 1e-9 * np.maximum(1.0, np.nan_to_num(np.abs(shapely.bounds(current)).max(axis=1)))
    same = np.array(
        [
            (shapely.is_missing(c) and shapely.is_missing(e))
            or (
                not shapely.is_missing(c)
                and not shapely.is_missing(e)
                and bool(shapely.equals_exact(c, e, tolerance=float(t)))
            )
            for c, e, t in zip(current, expected, scale, strict=True)
        ],
        dtype=bool,
    )
    changed = np.flatnonzero(~same)
    moved[where[changed]] = True
    before[where] = expected
    if len(changed):
        back = reproject(current[changed], np.full(len(changed), target), WGS84, densify=None)
        out = np.full(len(changed), None, dtype=object)
        for code in set(native_crs[changed]):
            group = native_crs[changed] == code
            out[group] = reproject(back[group], np.full(group.sum(), WGS84), code, densify=None)
        cover[where[changed]] = out
    return moved, {"before": before, "cover": cover}


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
