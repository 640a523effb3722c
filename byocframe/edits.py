"""Bulk updates from edited tile frames: changes(), push(), reingest(), wait_for_ingestion().

The API has no batch endpoint: one request per tile. `push` compares the frame with the
snapshot taken when it was loaded, refuses edits to read-only fields before sending
anything, checks each tile's current server state for conflicting edits, and sends the
rest from a thread pool sharing one pooled client. The frame's snapshot then records
exactly what succeeded, so pushing again sends only what is left.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.client import Client, _ident
from byocframe.exceptions import (
    APIError,
    ByocframeError,
    ByocframeWarning,
    ConflictError,
    NotFoundError,
    ServerError,
    TransportError,
    ValidationError,
)
from byocframe.geometry import WGS84, geometries_to_geojson, reproject
from byocframe.io import native_cover_geometries, tiles_from_records
from byocframe.progress import ProgressBar
from byocframe.records import format_datetimes
from byocframe.snapshot import (
    ATTRS_KEY,
    COVER_TOLERANCE,
    Snapshot,
    cover_fingerprint,
    snapshot_of,
    snapshot_rows,
    times_us,
)

__all__ = ["changes", "push", "push_collections", "reingest", "wait_for_ingestion"]

#: Most points the API accepts in a cover geometry.
MAX_COVER_POINTS = 100
_READ_ONLY = ("path", "status", "created", "ingestion_start", "tile_geometry")
_NAT = np.iinfo(np.int64).min


@dataclass
class _Plan:
    """What a push would do, computed from the frame and its snapshot."""

    snapshot: Snapshot
    changes: pd.DataFrame
    updates: list[str] = field(default_factory=list)
    creates: list[Any] = field(default_factory=list)  # positions in the frame
    deletes: list[str] = field(default_factory=list)
    covers: dict[Any, Any] = field(default_factory=dict)  # key -> native cover (shapely)
    crs: dict[Any, str] = field(default_factory=dict)


def _snapshot(frame: pd.DataFrame, original: pd.DataFrame | None) -> Snapshot:
    if original is not None:
        source = snapshot_of(original)
        if source is not None:
            return source
        settings = original.attrs.get(ATTRS_KEY, {})
        return Snapshot(
            settings.get("collection", ""), settings.get("service", ""), snapshot_rows(original)
        )
    snap = snapshot_of(frame)
    if snap is None:
        raise ValidationError(
            "this frame does not remember what was loaded (no snapshot in .attrs): load it "
            "with byocframe.read_tiles(), or pass original=<the frame as loaded>"
        )
    return snap


def _plan(frame: pd.DataFrame, original: pd.DataFrame | None, deleted: bool) -> _Plan:
    snap = _snapshot(frame, original)
    table = snap.table
    ids = pd.Index(frame.index.astype(object))
    known = np.asarray([(i is not None and not pd.isna(i) and i in table.index) for i in ids])
    rows: list[dict[str, Any]] = []
    plan = _Plan(snap, pd.DataFrame())
    existing = frame.iloc[np.flatnonzero(known)]
    if len(existing):
        before = table.loc[existing.index.astype(object)]
        now = snapshot_rows(existing)
        native = native_cover_geometries(existing)
        now_cover = cover_fingerprint(native)
        old_cover = np.vstack(before["cover"].to_numpy())
        moved = ~_close(now_cover, old_cover)
        sensing_now = now["sensing_time"].to_numpy()
        sensing_before = before["sensing_time"].to_numpy()
        retimed = sensing_now != sensing_before
        read_only = {
            name: ~_equal(now[name].to_numpy(), before[name].to_numpy())
            for name in ("path", "status", "created", "ingestion_start")
        }
        read_only["tile_geometry"] = ~_close(
            np.vstack(now["tile"].to_numpy()), np.vstack(before["tile"].to_numpy()), rel=1e-9
        )
        tids = existing.index.to_numpy()
        for name, flags in read_only.items():
            for pos in np.flatnonzero(flags):
                old = None if name == "tile_geometry" else before[name].iat[pos]
                new = None if name == "tile_geometry" else now[name].iat[pos]
                rows.append(_row(tids[pos], name, old, new, "read-only"))
        times = existing["sensing_time"].to_numpy()
        geometry = existing.geometry.to_numpy()
        crs = existing["native_crs"].astype(object).to_numpy()
        for pos in np.flatnonzero(retimed | moved):
            tid = tids[pos]
            if retimed[pos]:
                rows.append(
                    _row(
                        tid,
                        "sensing_time",
                        _time(sensing_before[pos]),
                        pd.Timestamp(times[pos]) if not pd.isna(times[pos]) else None,
                        "update",
                    )
                )
            if moved[pos]:
                rows.append(_row(tid, "geometry", None, geometry[pos], "update"))
            plan.updates.append(tid)
            plan.covers[tid] = native[pos]
            plan.crs[tid] = WGS84 if pd.isna(crs[pos]) else str(crs[pos])
    for pos in np.flatnonzero(~known):
        row = frame.iloc[pos]
        key = ("new", pos)
        plan.creates.append(pos)
        rows.append(_row(None, "path", None, row.get("path"), "create"))
        if "sensing_time" in frame and not pd.isna(row["sensing_time"]):
            rows.append(_row(None, "sensing_time", None, row["sensing_time"], "create"))
        geom = row.geometry
        if geom is not None and not shapely.is_empty(geom):
            rows.append(_row(None, "geometry", None, geom, "create"))
            crs = frame.crs.to_string() if frame.crs is not None else WGS84
            plan.covers[key] = reproject(np.array([geom]), np.array([crs]), WGS84, densify=None)[0]
            plan.crs[key] = WGS84
    if deleted:
        gone = table.index.difference(ids[known])
        for tid in gone:
            rows.append(_row(tid, "tile", table.at[tid, "path"], None, "delete"))
        plan.deletes = list(gone)
    order = {tid: pos for pos, tid in enumerate(frame.index)}
    rows.sort(key=lambda r: order.get(r["id"], len(order)))  # frame order; stable
    plan.changes = pd.DataFrame(rows, columns=["id", "field", "old", "new", "action"])
    return plan


def _row(tid: Any, name: str, old: Any, new: Any, action: str) -> dict[str, Any]:
    return {"id": tid, "field": name, "old": old, "new": new, "action": action}


def _time(value: int) -> pd.Timestamp | None:
    return None if value == _NAT else pd.Timestamp(value, unit="us", tz="UTC")


def _equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality counting two missing values as equal."""
    same = np.asarray(a == b, dtype=bool)
    return same | (pd.isna(a) & pd.isna(b))


def _close(a: np.ndarray, b: np.ndarray, rel: float | None = None) -> np.ndarray:
    """Row-wise: same fingerprint within tolerance (both missing counts as the same)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    both_nan = np.isnan(a).all(axis=1) & np.isnan(b).all(axis=1)
    tolerance = COVER_TOLERANCE if rel is None else rel * np.maximum(np.abs(a), 1.0)
    with np.errstate(invalid="ignore"):
        same = (np.abs(a - b) <= tolerance).all(axis=1)
    return same | both_nan


def changes(
    frame: pd.DataFrame, *, original: pd.DataFrame | None = None, deleted: bool = False
) -> pd.DataFrame:
    """List what was edited since the frame was loaded: one row per changed field.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame from `byocframe.read_tiles`, edited with pandas.
    original : GeoDataFrame, optional
        The frame as loaded, when ``frame`` lost its snapshot.
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
    >>> with byocframe.local_service(demo=True, demo_tiles=20) as service:
    ...     gdf = byocframe.read_tiles(service.client(), service.demo_collection)
    >>> gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    >>> changes(gdf)[["field", "action"]].to_dict("records")
    [{'field': 'sensing_time', 'action': 'update'}]
    """
    return _plan(frame, original, deleted).changes


def _check(plan: _Plan, frame: pd.DataFrame) -> None:
    bad = plan.changes[plan.changes["action"] == "read-only"]
    problems = [
        {"id": r.id, "field": r.field, "value": r.new, "problem": "read-only field edited"}
        for r in bad.itertuples()
    ]
    for pos in plan.creates:
        path = frame.iloc[pos].get("path")
        if path is None or pd.isna(path) or not str(path):
            problems.append(
                {
                    "id": None,
                    "field": "path",
                    "value": path,
                    "problem": f"new row {pos} has no path",
                }
            )
    if problems:
        lines = [
            f"tile {p['id']!r}: {p['field']}: {p['problem']}"
            if p["id"]
            else f"{p['field']}: {p['problem']}"
            for p in problems
        ]
        raise ValidationError(
            f"{len(problems)} edit(s) cannot be pushed (nothing was sent); only sensing_time "
            "and the cover geometry can change, and new rows need a path:\n"
            + "\n".join(lines[:20])
            + (f"\n... and {len(lines) - 20} more" if len(lines) > 20 else ""),
            problems,
        )


def _limit_points(geom: Any, tolerance: float | None, label: str) -> Any:
    """Simplify a cover to at most MAX_COVER_POINTS points, with a warning."""
    if geom is None or shapely.get_num_coordinates(geom) <= MAX_COVER_POINTS:
        return geom
    step = tolerance if tolerance is not None else 1e-6
    simpler = geom
    for _ in range(60):
        simpler = shapely.simplify(geom, step, preserve_topology=True)
        if shapely.get_num_coordinates(simpler) <= MAX_COVER_POINTS or tolerance is not None:
            break
        step *= 2
    points = shapely.get_num_coordinates(simpler)
    if points > MAX_COVER_POINTS:
        raise ValidationError(
            f"{label}: cover has {shapely.get_num_coordinates(geom)} points, still {points} "
            f"after simplify(tolerance={tolerance}); the API takes at most "
            f"{MAX_COVER_POINTS}: pass a larger tolerance"
        )
    warnings.warn(
        f"{label}: cover simplified from {shapely.get_num_coordinates(geom)} to {points} "
        f"points (tolerance {step:g} in its CRS units; the API takes at most "
        f"{MAX_COVER_POINTS}); pass tolerance= to choose",
        ByocframeWarning,
        stacklevel=4,
    )
    return simpler


def _bodies(
    frame: pd.DataFrame, positions: list[int], covers: list[Any], crs: list[str]
) -> list[dict[str, Any]]:
    """Request bodies for the rows at ``positions``, built column-wise."""
    paths = frame["path"].astype(object).to_numpy()[positions]
    times: list[Any] = [None] * len(positions)
    has_time = "sensing_time" in frame
    if has_time:
        times = format_datetimes(frame["sensing_time"].iloc[positions])
    geojson = geometries_to_geojson(covers, crs)
    out = []
    for path, when, cover in zip(paths, times, geojson, strict=True):
        body: dict[str, Any] = {"path": None if pd.isna(path) else str(path)}
        if has_time:
            body["sensingTime"] = when
        if cover is not None:
            body["coverGeometry"] = cover
        out.append(body)
    return out


def push(
    frame: pd.DataFrame,
    client: Client,
    *,
    dry_run: bool = False,
    workers: int = 8,
    delete_missing: bool = False,
    force: bool = False,
    progress: bool | None = None,
    original: pd.DataFrame | None = None,
    tolerance: float | None = None,
) -> pd.DataFrame:
    """Send the edits of a tile frame to the service, one request per tile.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame from `byocframe.read_tiles`, edited with pandas. It is updated in
        place: new rows get their server ids and the snapshot records what succeeded.
    client : Client
    dry_run : bool
        Only report what would be sent.
    workers : int
        Requests in flight at once.
    delete_missing : bool
        Delete tiles that were dropped from the frame.
    force : bool
        Overwrite tiles that someone else changed since the frame was loaded.
    progress : bool, optional
        A progress bar (tqdm); by default when interactive.
    original : GeoDataFrame, optional
        The frame as loaded, when ``frame`` lost its snapshot.
    tolerance : float, optional
        Simplification tolerance (in the tile's CRS units) for covers over 100 points;
        found automatically, with a warning, when not given.

    Returns
    -------
    pandas.DataFrame
        Indexed by tile id (the new id for created tiles): ``action``, ``outcome``
        (``ok``, ``failed``, ``conflict``, ``skipped``), ``status_code``, ``message``.

    Raises
    ------
    ValidationError
        When read-only fields were edited or new rows lack a path; nothing is sent.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=20) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection)
    ...     gdf.loc[gdf.index[:3], "sensing_time"] += pd.Timedelta(days=1)
    ...     result = push(gdf, client)
    ...     again = push(gdf, client)  # nothing left to send
    >>> result["outcome"].tolist(), len(again)
    (['ok', 'ok', 'ok'], 0)
    """
    plan = _plan(frame, original, delete_missing)
    _check(plan, frame)
    snap = plan.snapshot
    cid = snap.collection or frame.attrs.get(ATTRS_KEY, {}).get("collection")
    if not cid:
        raise ValidationError("the frame does not say which collection it belongs to")
    positions = {tid: pos for pos, tid in enumerate(frame.index)}
    tasks: list[tuple[str, Any, Callable[[], dict[str, Any]]]] = []
    update_covers = [_limit_points(plan.covers[t], tolerance, f"tile {t!r}") for t in plan.updates]
    plan.covers.update(zip(plan.updates, update_covers, strict=True))
    bodies = _bodies(
        frame,
        [positions[t] for t in plan.updates],
        update_covers,
        [plan.crs[t] for t in plan.updates],
    )
    listed = _current_states(client, cid, plan, force, dry_run)
    for tid, body in zip(plan.updates, bodies, strict=True):
        tasks.append(("update", tid, _updater(client, cid, tid, body, snap, force, listed)))
    keys = [("new", pos) for pos in plan.creates]
    create_covers = [
        _limit_points(plan.covers.get(key), tolerance, f"new row {key[1]}") for key in keys
    ]
    plan.covers.update(zip(keys, create_covers, strict=True))
    bodies = _bodies(frame, plan.creates, create_covers, [plan.crs.get(k, WGS84) for k in keys])
    for key, body in zip(keys, bodies, strict=True):
        tasks.append(("create", key, _creator(client, cid, body)))
    for tid in plan.deletes:
        tasks.append(("delete", tid, _deleter(client, cid, tid)))
    if dry_run:
        return _result(
            [(a, k, {"outcome": "skipped", "message": "dry run: not sent"}) for a, k, _ in tasks]
        )
    with (
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        ProgressBar(len(tasks), progress, "pushing") as bar,
    ):
        futures = [pool.submit(_guard, fn) for _, _, fn in tasks]
        for _ in as_completed(futures):
            bar.update(1)
    done = [(action, key, f.result()) for (action, key, _), f in zip(tasks, futures, strict=True)]
    _record(frame, plan, done)
    return _result(done)


def _guard(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except APIError as err:
        return {"outcome": "failed", "status_code": err.status_code, "message": err.message}
    except ByocframeError as err:
        return {"outcome": "failed", "message": str(err)}


def _updater(
    client: Client,
    cid: str,
    tid: str,
    body: dict[str, Any],
    snap: Snapshot,
    force: bool,
    listed: dict[str, dict[str, Any]] | None = None,
) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        if not force:
            if listed is not None:
                current = listed.get(tid)
            else:
                try:
                    current = client.get_tile(cid, tid)
                except NotFoundError:
                    current = None
            if current is None:
                return {
                    "outcome": "conflict",
                    "status_code": 404,
                    "message": "the tile was deleted on the server",
                }
            if not _unchanged(current, snap.table.loc[tid]):
                return {
                    "outcome": "conflict",
                    "message": "changed on the server since it was "
                    "loaded; reload it, or push with force=True",
                }
        client.update_tile(cid, tid, body)
        return {"outcome": "ok", "status_code": 204}

    return run


#: With more updates than this fraction of the loaded tiles, the conflict check lists the
#: collection (one request per 100 tiles) instead of getting each tile (one request each).
_LIST_FRACTION = 0.05


def _current_states(
    client: Client, cid: str, plan: _Plan, force: bool, dry_run: bool
) -> dict[str, dict[str, Any]] | None:
    """The server's tiles, listed once, when that is cheaper than one GET per update."""
    if force or dry_run or len(plan.updates) <= _LIST_FRACTION * len(plan.snapshot.table):
        return None
    wanted = set(plan.updates)
    try:
        return {t["id"]: t for t in client.iter_tiles(cid) if t["id"] in wanted}
    except ByocframeError:
        return None  # the listing failed: check tile by tile, each failure on its own row


def _unchanged(current: dict[str, Any], loaded: pd.Series) -> bool:
    """Whether the server's tile still has the loaded sensing time and cover."""
    if _micros(current.get("sensingTime")) != loaded["sensing_time"]:
        return False
    return bool(
        _close(_fingerprint(current.get("coverGeometry")), np.atleast_2d(loaded["cover"]))[0]
    )


def _micros(text: Any) -> int:
    """An ISO time as int64 microseconds since the epoch (missing -> the NaT value)."""
    if not text:
        return _NAT
    when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _fingerprint(geojson: Any) -> np.ndarray:
    """`cover_fingerprint` of one GeoJSON cover, straight from its coordinates."""
    out = np.full((1, 5), np.nan)
    if not geojson:
        return out
    polygons = geojson["coordinates"]
    if geojson.get("type") == "Polygon":
        polygons = [polygons]
    xy = np.asarray([p for poly in polygons for ring in poly for p in ring], dtype=float)
    out[0, :4] = [xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()]
    out[0, 4] = len(xy)
    return out


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _creator(client: Client, cid: str, body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    def adopt(note: str) -> dict[str, Any] | None:
        """The tile at our path, if it is the one we meant to create."""
        try:
            existing = client.find_tile(cid, body["path"])
        except (TransportError, ServerError):
            return None
        if existing is None or not _same_time(existing.get("sensingTime"), body.get("sensingTime")):
            return None
        return {
            "outcome": "ok",
            "status_code": 201,
            "id": existing["id"],
            "record": existing,
            "message": f"created (confirmed by path after {note})",
        }

    def run() -> dict[str, Any]:
        last = "no attempt"
        for _attempt in range(6):
            try:
                created = client.create_tile(cid, body)
                return {"outcome": "ok", "status_code": 201, "id": created["id"], "record": created}
            except (TransportError, ServerError) as err:
                # the create may have reached the server before the answer was lost:
                # look for it by path before trying again, so a retry never duplicates
                last = type(err).__name__
                found = adopt(f"a lost answer: {last}")
                if found is not None:
                    return found
                time.sleep(0.02)
            except ConflictError as err:
                found = adopt("409: an earlier attempt had created it")
                if found is not None:
                    return found
                return {"outcome": "conflict", "status_code": 409, "message": err.message}
        return {"outcome": "failed", "message": f"create failed 6 times (last: {last})"}

    return run


def _same_time(a: Any, b: Any) -> bool:
    """Whether two ISO times (zone-less means UTC) are the same instant."""
    if a is None or b is None:
        return a is None and b is None
    times = pd.to_datetime(pd.Series([a, b]), utc=True, format="ISO8601")
    return bool(times.iloc[0] == times.iloc[1])


def _deleter(client: Client, cid: str, tid: str) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        try:
            client.delete_tile(cid, tid)
        except NotFoundError:
            return {"outcome": "ok", "status_code": 404, "message": "already gone"}
        return {"outcome": "ok", "status_code": 204}

    return run


def _result(done: Iterable[tuple[str, Any, dict[str, Any]]]) -> pd.DataFrame:
    rows, index = [], []
    for action, key, outcome in done:
        index.append(outcome.get("id", None if isinstance(key, tuple) else key))
        rows.append(
            {
                "action": action,
                "outcome": outcome.get("outcome", "failed"),
                "status_code": outcome.get("status_code"),
                "message": outcome.get("message", ""),
            }
        )
    result = pd.DataFrame(
        rows,
        index=pd.Index(index, name="id", dtype=object),
        columns=["action", "outcome", "status_code", "message"],
    )
    result["status_code"] = result["status_code"].astype("Int64")
    return result


def _record(frame: pd.DataFrame, plan: _Plan, done: list[tuple[str, Any, dict[str, Any]]]) -> None:
    """Update the frame in place so its snapshot holds exactly what succeeded."""
    ok = [(a, k, o) for a, k, o in done if o.get("outcome") == "ok"]
    updated = [k for a, k, _ in ok if a == "update"]
    created = {k[1]: o for a, k, o in ok if a == "create"}
    deleted = [k for a, k, _ in ok if a == "delete"]
    if updated:
        rows = frame.loc[updated]
        native = np.array([plan.covers[t] for t in updated], dtype=object)
        crs = np.array([plan.crs[t] for t in updated], dtype=object)
        frame.loc[updated, "native_cover"] = native
        target = frame.crs.to_string() if frame.crs is not None else WGS84
        densify = frame.attrs.get(ATTRS_KEY, {}).get("densify")
        has = ~shapely.is_missing(native)
        if has.any():
            shown = reproject(native[has], crs[has], target, densify=densify)
            frame.loc[np.asarray(updated, dtype=object)[has], frame.geometry.name] = shown
        fresh = snapshot_rows(frame.loc[updated])
        del rows
    else:
        fresh = None
    new_rows = None
    if created:
        index = list(frame.index)
        for pos, outcome in created.items():
            index[pos] = outcome["id"]
        frame.index = pd.Index(index, name=frame.index.name or "id", dtype=object)
        positions = list(created)
        frame.iloc[positions, frame.columns.get_loc("status")] = "WAITING"
        # what the service now holds for them: the cover as sent, in CRS84
        covers = np.empty(len(positions), dtype=object)
        covers[:] = [plan.covers.get(("new", pos)) for pos in positions]
        for column, values in (("native_cover", covers), ("native_crs", WGS84)):
            if column not in frame.columns:
                frame[column] = None
            frame.iloc[positions, frame.columns.get_loc(column)] = values
        has = ~shapely.is_missing(covers)
        if has.any():
            target = frame.crs.to_string() if frame.crs is not None else WGS84
            shown = reproject(
                covers[has],
                np.full(has.sum(), WGS84),
                target,
                densify=frame.attrs.get(ATTRS_KEY, {}).get("densify"),
            )
            where = np.asarray(positions)[has]
            frame.iloc[where, frame.columns.get_loc(frame.geometry.name)] = shown
        new_rows = snapshot_rows(frame.iloc[positions])
    rows = (
        pd.concat([r for r in (fresh, new_rows) if r is not None])
        if (fresh is not None or new_rows is not None)
        else None
    )
    snap = plan.snapshot.updated(rows, dropped=deleted)
    frame.attrs[ATTRS_KEY] = {**frame.attrs.get(ATTRS_KEY, {}), "snapshot": snap}


def reingest(
    frame: pd.DataFrame, client: Client, *, workers: int = 8, progress: bool | None = None
) -> pd.DataFrame:
    """Send every tile of the frame (e.g. the FAILED ones) back to ingestion.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=200) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection, status="FAILED")
    ...     result = reingest(gdf, client)
    >>> set(result["outcome"])
    {'ok'}
    """
    cid = _collection_of(frame)
    tasks = [(tid, _reingester(client, cid, tid)) for tid in frame.index]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(lambda item: _guard(item[1]), tasks))
    return _result(("reingest", tid, o) for (tid, _), o in zip(tasks, outcomes, strict=True))


def _reingester(client: Client, cid: str, tid: str) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        client.reingest_tile(cid, tid)
        return {"outcome": "ok", "status_code": 204}

    return run


def _collection_of(frame: pd.DataFrame) -> str:
    snap = snapshot_of(frame)
    cid = (snap.collection if snap else None) or frame.attrs.get(ATTRS_KEY, {}).get("collection")
    if not cid:
        raise ValidationError(
            "the frame does not say which collection it belongs to; load it "
            "with byocframe.read_tiles()"
        )
    return cid


def wait_for_ingestion(
    client: Client,
    collection: Any,
    ids: Iterable[str],
    *,
    timeout: float = 600.0,
    poll: float = 2.0,
    progress: bool | None = None,
    crs: Any = WGS84,
) -> Any:
    """Poll tiles until each is INGESTED or FAILED; return them as a GeoDataFrame.

    Raises
    ------
    TimeoutError
        Naming the tiles still in progress after ``timeout`` seconds.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=50) as service:
    ...     client = service.client()
    ...     tile = client.create_tile(service.demo_collection, {"path": "new/(BAND).tif"})
    ...     done = wait_for_ingestion(client, service.demo_collection, [tile["id"]], poll=0.1)
    >>> done["status"].tolist(), done["failed_ingestion_cause"].str[:16].tolist()
    (['FAILED'], ['File s3://byocfr'])
    """
    cid = _ident(collection, "collection")
    pending = list(dict.fromkeys(ids))
    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    with (
        ThreadPoolExecutor(max_workers=8) as pool,
        ProgressBar(len(pending), progress, "ingesting") as bar,
    ):
        while pending:
            records = list(pool.map(lambda t: client.get_tile(cid, t), pending))
            still = []
            for tid, record in zip(pending, records, strict=True):
                if record.get("status") in ("INGESTED", "FAILED"):
                    final[tid] = record
                else:
                    still.append(tid)
            bar.update(len(pending) - len(still))
            pending = still
            if pending and time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(pending)} tile(s) still in ingestion after {timeout:g} s: "
                    + ", ".join(pending[:10])
                )
            if pending:
                time.sleep(poll)
    return tiles_from_records(list(final.values()), crs=crs)


# --------------------------------------------------------------------------- collections
_COLLECTION_EDITABLE = ("name", "no_data", "bands")
_COLLECTION_READ_ONLY = ("s3_bucket", "created", "account_id", "user_id")


def collection_snapshot_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The snapshot table rows of a collection frame (current values)."""
    from byocframe.records import loads

    bands = [
        json_text((loads(text) or {}).get("bands"))
        for text in frame["additional_data"].astype(object).tolist()
    ]
    table = pd.DataFrame(
        {
            name: frame[name].astype(object).to_numpy()
            for name in ("name", "no_data", *_COLLECTION_READ_ONLY)
        },
        index=pd.Index(frame.index.astype(object), name="id"),
    )
    table["created"] = times_us(frame["created"])
    table["bands"] = bands
    return table


def json_text(value: Any) -> str | None:
    """Canonical JSON text (sorted keys) for comparing nested values."""
    import json

    return None if value is None else json.dumps(value, sort_keys=True)


def _same(a: Any, b: Any) -> bool:
    """Equal, counting two missing values (None, NaN, NA) as equal."""
    missing_a = a is None or (not isinstance(a, str) and bool(pd.isna(a)))
    missing_b = b is None or (not isinstance(b, str) and bool(pd.isna(b)))
    if missing_a or missing_b:
        return missing_a and missing_b
    return bool(a == b)


def push_collections(
    frame: pd.DataFrame,
    client: Client,
    *,
    original: pd.DataFrame | None = None,
    dry_run: bool = False,
    force: bool = False,
    workers: int = 4,
) -> pd.DataFrame:
    """Send edits of a collections frame: ``name``, ``no_data`` and band renames.

    Bands are renamed by editing the keys of ``additionalData.bands`` in the
    ``additional_data`` JSON column (their formats cannot change once tiles exist).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=10) as service:
    ...     client = service.client()
    ...     collections = byocframe.read_collections(client)
    ...     collections["name"] = "renamed"
    ...     result = push_collections(collections, client)
    ...     [c["name"] for c in client.iter_collections()]
    ['renamed']
    """
    from byocframe.records import loads

    snap = snapshot_of(original if original is not None else frame)
    if snap is None:
        raise ValidationError(
            "this collections frame has no snapshot: load it with "
            "byocframe.read_collections(), or pass original="
        )
    now = collection_snapshot_rows(frame)
    problems, tasks = [], []
    for cid in now.index:
        if cid not in snap.table.index:
            problems.append(
                {
                    "id": cid,
                    "field": "id",
                    "value": cid,
                    "problem": "unknown collection (create it with Client.create_collection)",
                }
            )
            continue
        before, after = snap.table.loc[cid], now.loc[cid]
        for name in _COLLECTION_READ_ONLY:
            if not _same(before[name], after[name]):
                problems.append(
                    {
                        "id": cid,
                        "field": name,
                        "value": after[name],
                        "problem": "read-only field edited",
                    }
                )
        edited = [n for n in _COLLECTION_EDITABLE if not _same(before[n], after[n])]
        if not edited:
            continue
        row = frame.loc[cid]
        body: dict[str, Any] = {"name": str(row["name"]), "s3Bucket": str(row["s3_bucket"])}
        if not pd.isna(row["no_data"]):
            body["noData"] = float(row["no_data"])  # an omitted noData is deleted
        if "bands" in edited:
            body["additionalData"] = {"bands": (loads(row["additional_data"]) or {}).get("bands")}
        tasks.append((cid, body, before))
    if problems:
        lines = [f"collection {p['id']!r}: {p['field']}: {p['problem']}" for p in problems]
        raise ValidationError(
            f"{len(problems)} edit(s) cannot be pushed (nothing was sent):\n" + "\n".join(lines),
            problems,
        )
    if dry_run:
        return _result(
            ("update", cid, {"outcome": "skipped", "message": "dry run: not sent"})
            for cid, _, _ in tasks
        )

    def run(cid: str, body: dict[str, Any], before: pd.Series) -> dict[str, Any]:
        if not force:
            current = collection_snapshot_rows(_collection_frame([client.get_collection(cid)]))
            if not all(_same(current.loc[cid, n], before[n]) for n in _COLLECTION_EDITABLE):
                return {
                    "outcome": "conflict",
                    "message": "changed on the server since it was loaded",
                }
        client.update_collection(cid, body)
        return {"outcome": "ok", "status_code": 204}

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(lambda t: _guard(lambda: run(*t)), tasks))
    done = [("update", cid, o) for (cid, _, _), o in zip(tasks, outcomes, strict=True)]
    succeeded = [cid for _, cid, o in done if o.get("outcome") == "ok"]
    if succeeded:
        fresh = snap.updated(now.loc[succeeded])
        frame.attrs[ATTRS_KEY] = {**frame.attrs.get(ATTRS_KEY, {}), "snapshot": fresh}
    return _result(done)


def _collection_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    from byocframe.io import collections_from_records

    return collections_from_records(records)
