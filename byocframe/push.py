"""Send the edits of a tile frame to the service, safely: `push`.

The API has no batch endpoint and no conditional PUT, so every tile goes through three
steps, from a thread pool sharing one client:

1. **check**: the tile is read just before it is written, and a three-way comparison
   (loaded, server, wanted) decides per field: a field only we changed is written, a
   field only the server changed is kept, a field both changed to different values is a
   ``conflict`` (nothing is sent). A tile that already holds what we want is
   ``unchanged`` (a rerun, or a resume after a crash, sends nothing for it).
2. **write**: one PUT with the merged state.
3. **verify**: once every write is done, the written tiles are read again; any whose
   server state is no longer ours was changed by another writer meanwhile and is
   reported as ``overwritten``.

`docs/design/edits.md` explains the window that remains.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.client import Client, ClientLike, resolve_client
from byocframe.diff import (
    Plan,
    Update,
    adopt_tokens,
    covers_equal,
    plan,
    same_instant,
    same_shape,
)
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
from byocframe.geometry import (
    DEFAULT_DENSIFY,
    WGS84,
    geometries_to_geojson,
    parse_geojson,
    reproject,
)
from byocframe.ids import check_id
from byocframe.progress import ProgressBar
from byocframe.records import format_datetimes, format_micros
from byocframe.snapshot import ATTRS_KEY, NAT, service_digest, stamp

__all__ = ["Outcome", "push", "push_collections", "run_tasks", "task_result"]

#: Most points the API accepts in a cover geometry.
MAX_COVER_POINTS = 100
#: Sentinel Hub plans allow this many requests a minute (the estimate's range when no
#: rate is set).
PLAN_RATES = (300, 1200)


@dataclass
class _State:
    """A tile's sensing time (int64 us) and cover (native CRS) on one side of a merge."""

    time: int
    cover: Any


@dataclass
class Outcome:
    """What happened to one task of a push (or reingest)."""

    outcome: str
    status_code: int | None = None
    message: str = ""
    id: str | None = None
    sent: _State | None = None
    #: The fields this push changed on the server (what the verify looks at).
    mine: tuple[str, ...] = ()


def push(
    frame: pd.DataFrame,
    client: ClientLike,
    *,
    dry_run: bool = False,
    workers: int = 32,
    delete_missing: bool = False,
    force: bool = False,
    progress: bool | None = None,
    original: pd.DataFrame | None = None,
    tolerance: float | None = None,
    collection: str | None = None,
) -> pd.DataFrame:
    """Send the edits of a tile frame to the service, one request per tile.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame from `byocframe.read_tiles` or `byocframe.read_file`, edited with
        pandas (rows may have been filtered, dropped or added with ``pd.concat``). It is
        updated in place: new rows get their server ids and every row that now matches
        the server is marked as loaded again, so pushing twice sends nothing new.
    client : Client, sentinelhub-py SHConfig or SentinelHubBYOC
    dry_run : bool
        Only report what would be sent: the result's ``message`` holds each field's
        change, and ``result.attrs["byocframe"]["summary"]`` the counts, requests and
        time at the client's ``requests_per_minute``.
    workers : int
        Requests in flight at once.
    delete_missing : bool
        Delete tiles that were dropped from the frame.
    force : bool
        Write without the three-way check (overwrites other writers' changes).
    progress : bool, optional
        A progress bar (tqdm); by default when interactive.
    original : GeoDataFrame, optional
        The frame as loaded, when ``frame`` lost its ``loaded`` column or its attrs.
    tolerance : float, optional
        Simplification tolerance (in the tile's CRS units) for covers over 100 points;
        found automatically, with a warning, when not given.
    collection : str, optional
        The collection, when the frame does not know it (e.g. built from records).

    Returns
    -------
    pandas.DataFrame
        Indexed by tile id (the new id for created tiles): ``action`` (``update``,
        ``create``, ``delete``), ``outcome`` (``ok``: written; ``unchanged``: the server
        already held it, nothing written; ``conflict``: someone else changed the same
        field, nothing written; ``overwritten``: written, then changed by another writer;
        ``failed``; ``skipped``: dry run), ``status_code`` and ``message``.

    Raises
    ------
    ValidationError
        When read-only fields were edited, new rows lack a path, or the frame was
        loaded from another service or collection; nothing is sent.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=20) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection)
    ...     edited = gdf.copy()
    ...     edited.loc[edited.index[:3], "sensing_time"] += pd.Timedelta(days=1)
    ...     first = push(edited, client)
    ...     again = gdf.copy()
    ...     again.loc[again.index[:3], "sensing_time"] += pd.Timedelta(days=1)
    ...     rerun = push(again, client)  # the same edits from the same loaded frame
    >>> first["outcome"].tolist(), rerun["outcome"].tolist()
    (['ok', 'ok', 'ok'], ['unchanged', 'unchanged', 'unchanged'])
    """
    client = resolve_client(client)
    if original is not None:
        adopt_tokens(frame, original, inplace=True)  # the frame is updated in place below
    the_plan = plan(frame, original=original, deleted=delete_missing, collection=collection)
    _check_ids(the_plan)
    _refuse_problems(the_plan)
    cid = _target(the_plan, frame, client)
    updates = [_limited(u, tolerance) for u in the_plan.updates]
    tasks: list[tuple[str, Any, Callable[[], Outcome]]] = []
    for update in updates:
        tasks.append(("update", update.id, _updater(client, cid, frame, update, force)))
    create_bodies = _create_bodies(frame, the_plan, tolerance)
    for create, body in zip(the_plan.creates, create_bodies, strict=True):
        tasks.append(
            ("create", ("new", create.position), _creator(client, cid, body, create.cover))
        )
    for tid in the_plan.deletes:
        tasks.append(("delete", tid, _deleter(client, cid, tid)))
    if dry_run:
        return _dry_run(the_plan, tasks, client, force, frame)
    done = run_tasks(tasks, workers, progress, "pushing")
    _verify(client, cid, the_plan, updates, done, workers)
    _record(frame, the_plan, updates, done, cid, client.base_url)
    return task_result(done)


def _check_ids(the_plan: Plan) -> None:
    """Every id a push would put in a URL is a plain id, before any request."""
    if the_plan.collection:
        check_id(the_plan.collection, "collection")
    for tid in [u.id for u in the_plan.updates] + list(the_plan.deletes):
        check_id(tid, "tile")


def _refuse_problems(the_plan: Plan) -> None:
    _refuse(
        the_plan.problems,
        "tile",
        "only sensing_time and the cover (a polygon) can change, and each new row needs a "
        "path of its own",
    )


def _refuse(problems: list[dict[str, Any]], kind: str, rule: str) -> None:
    """Raise one ValidationError naming the first 20 problems (all in ``.problems``)."""
    if not problems:
        return
    lines = [
        f"{kind} {p['id']!r}: {p['field']}: {p['problem']}"
        if p["id"]
        else f"{p['field']}: {p['problem']}"
        for p in problems
    ]
    raise ValidationError(
        f"{len(problems)} edit(s) cannot be pushed (nothing was sent); {rule}:\n"
        + "\n".join(lines[:20])
        + (f"\n... and {len(lines) - 20} more" if len(lines) > 20 else ""),
        problems,
    )


def _target(the_plan: Plan, frame: pd.DataFrame, client: Client) -> str:
    """The collection to push to, after checking the frame came from this service."""
    settings = frame.attrs.get(ATTRS_KEY, {})
    if not the_plan.collection:
        raise ValidationError(
            "the frame does not say which collection it belongs to: load it with "
            "byocframe.read_tiles(), or pass collection="
        )
    if the_plan.service and the_plan.service != service_digest(client.base_url):
        source = settings.get("service") or "another service"
        raise ValidationError(
            f"these tiles were loaded from {source}, not {client.base_url}: push with a "
            "client for the service they came from"
        )
    return the_plan.collection


def _limited(update: Update, tolerance: float | None) -> Update:
    cover = _limit_points(update.wanted_cover, tolerance, f"tile {update.id!r}")
    if cover is update.wanted_cover:
        return update
    return Update(**{**update.__dict__, "wanted_cover": cover})


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
        stacklevel=5,
    )
    return simpler


def _iso(micros: int) -> str | None:
    if micros == NAT:
        return None
    return format_micros(micros)


def _body(path: str, state: _State, crs: str) -> dict[str, Any]:
    """A PUT/POST body: the path, the sensing time (null clears it) and the cover."""
    body: dict[str, Any] = {"path": path, "sensingTime": _iso(state.time)}
    cover = geometries_to_geojson([state.cover], [crs])[0]
    if cover is not None:
        body["coverGeometry"] = cover
    return body


def _micros(text: Any) -> int:
    """An ISO time as int64 microseconds since the epoch (missing -> NAT)."""
    if not text:
        return NAT
    when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _server_state(record: dict[str, Any], crs: str) -> _State:
    """A tile as the service holds it, its cover in ``crs``."""
    parsed = parse_geojson([record.get("coverGeometry")])
    cover = parsed.geoms[0]
    if cover is not None and parsed.crs[0] != crs:
        cover = reproject(np.array([cover]), np.array([parsed.crs[0]]), crs, densify=None)[0]
    return _State(_micros(record.get("sensingTime")), cover)


def _same_state(a: _State, b: _State, crs: str) -> bool:
    return bool(same_instant(a.time, b.time)) and covers_equal(a.cover, b.cover, crs)


def _merge(base: _State, server: _State, wanted: _State, crs: str) -> tuple[_State, list[str]]:
    """Three-way merge per field; the second value lists the fields that conflict."""
    clashes = []
    ours_t = not same_instant(wanted.time, base.time)
    theirs_t = not same_instant(server.time, base.time)
    if ours_t and theirs_t and not same_instant(wanted.time, server.time):
        clashes.append("sensing_time")
    ours_c = not covers_equal(wanted.cover, base.cover, crs)
    theirs_c = not covers_equal(server.cover, base.cover, crs)
    if ours_c and theirs_c and not covers_equal(wanted.cover, server.cover, crs):
        clashes.append("geometry")
    merged = _State(
        wanted.time if ours_t else server.time, wanted.cover if ours_c else server.cover
    )
    return merged, clashes


def _describe(name: str, base: _State, server: _State, wanted: _State) -> str:
    if name == "sensing_time":
        return (
            f"sensing_time is {_iso(server.time)} on the server (loaded {_iso(base.time)}, "
            f"yours {_iso(wanted.time)})"
        )
    return "the cover was changed on the server too"


def _updater(
    client: Client, cid: str, frame: pd.DataFrame, update: Update, force: bool
) -> Callable[[], Outcome]:
    path = str(frame["path"].iat[update.position])
    base = _State(update.base_time, update.base_cover)
    wanted = _State(update.wanted_time, update.wanted_cover)

    def run() -> Outcome:
        if force:
            client.update_tile(cid, update.id, _body(path, wanted, update.crs))
            return Outcome(
                "ok",
                204,
                "written without checking (force)",
                sent=wanted,
                mine=("sensing_time", "geometry"),
            )
        try:
            record = client.get_tile(cid, update.id)
        except NotFoundError:
            return Outcome(
                "conflict", 404, "the tile was deleted on the server: reload, or drop the row"
            )
        server = _server_state(record, update.crs)
        merged, clashes = _merge(base, server, wanted, update.crs)
        if clashes:
            detail = "; ".join(_describe(n, base, server, wanted) for n in clashes)
            return Outcome(
                "conflict",
                message=f"{detail}: reload it, or push with force=True to overwrite",
            )
        if _same_state(merged, server, update.crs):
            return Outcome("unchanged", message="the server already holds it", sent=merged)
        client.update_tile(cid, update.id, _body(path, merged, update.crs))
        kept = [
            name
            for name, mine in (
                ("sensing_time", same_instant(merged.time, wanted.time)),
                ("geometry", covers_equal(merged.cover, wanted.cover, update.crs)),
            )
            if not mine
        ]
        note = f"kept the server's {' and '.join(kept)}" if kept else ""
        mine = tuple(
            name
            for name, same in (
                ("sensing_time", same_instant(merged.time, server.time)),
                ("geometry", covers_equal(merged.cover, server.cover, update.crs)),
            )
            if not same
        )
        return Outcome("ok", 204, note, sent=merged, mine=mine)

    return run


def _create_bodies(
    frame: pd.DataFrame, the_plan: Plan, tolerance: float | None
) -> list[dict[str, Any]]:
    bodies = []
    for create in the_plan.creates:
        cover = _limit_points(create.cover, tolerance, f"new row {create.position}")
        create.cover = cover
        bodies.append(_body(str(create.path), _State(create.wanted_time, cover), WGS84))
    return bodies


def _same_cover_as(record: dict[str, Any], wanted: Any) -> bool:
    """Whether a tile's cover is ``wanted`` (CRS84), compared by area."""
    if wanted is None:
        return True  # we asked for no cover: the service chose one
    have = _server_state(record, WGS84).cover
    if have is None:
        return False
    return same_shape(have, wanted)


def _creator(
    client: Client, cid: str, body: dict[str, Any], wanted_cover: Any
) -> Callable[[], Outcome]:
    wanted_time = _micros(body.get("sensingTime"))

    def adopt(note: str, ours: bool) -> Outcome | None:
        """The tile already at our path, if it holds what we wanted.

        ``ours``: an earlier attempt of this push may have created it (its answer was
        lost), so finding it means our write took effect (``ok``); otherwise it was
        there before this push (``unchanged``).
        """
        try:
            existing = client.find_tile(cid, body["path"])
        except (TransportError, ServerError):
            return None
        if existing is None:
            return None
        same_time = same_instant(_micros(existing.get("sensingTime")), wanted_time)
        if not same_time or not _same_cover_as(existing, wanted_cover):
            return Outcome(
                "conflict",
                409,
                f"a tile with this path already exists ({existing['id']}) with another "
                f"{'sensing time' if not same_time else 'cover'}: edit that tile instead",
                id=existing["id"],
            )
        return Outcome("ok" if ours else "unchanged", 201 if ours else 200, note, id=existing["id"])

    def run() -> Outcome:
        last = None
        for _attempt in range(6):
            try:
                created = client.create_tile(cid, body)
                return Outcome("ok", 201, id=created["id"])
            except (TransportError, ServerError) as err:
                # the create may have reached the server before the answer was lost:
                # look for it by path before trying again, so a retry never duplicates
                last = type(err).__name__
                found = adopt(f"created (confirmed by path after {last})", ours=True)
                if found is not None:
                    return found
                time.sleep(0.02)
            except ConflictError as err:
                if last is not None:
                    note = f"created (confirmed by path after {last})"
                else:
                    note = "a tile with this path was already there"
                found = adopt(note, ours=last is not None)
                if found is not None:
                    return found
                return Outcome("conflict", 409, err.message)
        return Outcome("failed", message=f"create failed 6 times (last: {last}): push again")

    return run


def _deleter(client: Client, cid: str, tid: str) -> Callable[[], Outcome]:
    def run() -> Outcome:
        try:
            client.delete_tile(cid, tid)
        except NotFoundError:
            return Outcome("unchanged", 404, "already gone")
        return Outcome("ok", 204)

    return run


def _guard(fn: Callable[[], Outcome]) -> Outcome:
    """Run one task; any error becomes a ``failed`` outcome on its own row."""
    try:
        return fn()
    except APIError as err:
        return Outcome("failed", err.status_code, err.message)
    except ByocframeError as err:
        return Outcome("failed", message=str(err))
    except Exception as err:  # a bug must not lose the record of what succeeded
        return Outcome("failed", message=f"{type(err).__name__}: {err}")


def run_tasks(
    tasks: Sequence[tuple[str, Any, Callable[[], Outcome]]],
    workers: int,
    progress: bool | None,
    label: str,
) -> list[tuple[str, Any, Outcome]]:
    """Run tasks on a thread pool with a progress bar; outcomes in task order."""
    if not tasks:
        return []
    with (
        ThreadPoolExecutor(max_workers=max(1, min(workers, len(tasks)))) as pool,
        ProgressBar(len(tasks), progress, label) as bar,
    ):
        futures = [pool.submit(_guard, fn) for _, _, fn in tasks]
        for _ in as_completed(futures):
            bar.update(1)
    return [(action, key, f.result()) for (action, key, _), f in zip(tasks, futures, strict=True)]


def _verify(
    client: Client,
    cid: str,
    the_plan: Plan,
    updates: list[Update],
    done: list[tuple[str, Any, Outcome]],
    workers: int,
) -> None:
    """Read written tiles again; mark those another writer changed meanwhile."""
    written = [
        (tid, outcome)
        for action, tid, outcome in done
        if action == "update" and outcome.outcome == "ok"
    ]
    if not written:
        return
    crs = {u.id: u.crs for u in updates}
    ids = the_plan.loaded_ids if the_plan.whole else None
    pages = math.ceil(len(ids) / 100) if ids else None
    current: dict[str, dict[str, Any] | None] = {}
    if pages is not None and pages < len(written):
        wanted = {tid for tid, _ in written}
        try:
            listed = {t["id"]: t for t in client.iter_tiles(cid) if t["id"] in wanted}
            current = {tid: listed.get(tid) for tid in wanted}
        except ByocframeError:
            current = {}
    missing = [tid for tid, _ in written if tid not in current]

    def read(tid: str) -> dict[str, Any] | None:
        try:
            return client.get_tile(cid, tid)
        except NotFoundError:
            return None

    if missing:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(missing)))) as pool:
            futures = {tid: pool.submit(read, tid) for tid in missing}
        for tid, future in futures.items():
            try:
                current[tid] = future.result()
            except ByocframeError:
                continue  # unverified: the write itself succeeded
    for tid, outcome in written:
        if tid not in current or outcome.sent is None:
            continue
        record = current[tid]
        native = crs[tid]
        try:
            _check_written(outcome, record, native)
        except Exception as err:  # the write landed; an unreadable answer leaves it unverified
            outcome.message = f"written, not verified: the tile read back was unreadable ({err})"


def _check_written(outcome: Outcome, record: dict[str, Any] | None, native: str) -> None:
    """Mark ``outcome`` overwritten when another writer changed a field we wrote."""
    if outcome.sent is None:
        return
    if record is None:
        outcome.outcome = "overwritten"
        outcome.message = "deleted by another writer after our write; reload to see"
        return
    now = _server_state(record, native)
    lost = [
        name
        for name in outcome.mine
        if not (
            same_instant(now.time, outcome.sent.time)
            if name == "sensing_time"
            else covers_equal(now.cover, outcome.sent.cover, native)
        )
    ]
    if lost:
        outcome.outcome = "overwritten"
        outcome.message = (
            f"another writer changed its {' and '.join(lost)} after our write (the "
            f"server now has sensing_time {_iso(now.time)}); reload it, check, push again"
        )


def _record(
    frame: pd.DataFrame,
    the_plan: Plan,
    updates: list[Update],
    done: list[tuple[str, Any, Outcome]],
    cid: str,
    service: str,
) -> None:
    """Update the frame in place so matching rows are marked as loaded again."""
    by_id = {u.id: u for u in updates}
    settled = ("ok", "unchanged")
    rows: list[int] = []
    covers: list[Any] = []
    crs: list[str] = []
    times: list[int] = []
    for action, key, outcome in done:
        if action != "update" or outcome.outcome not in settled or outcome.sent is None:
            continue
        update = by_id[key]
        rows.append(update.position)
        covers.append(outcome.sent.cover)
        crs.append(update.crs)
        times.append(outcome.sent.time)
    created = {
        key[1]: outcome
        for action, key, outcome in done
        if action == "create" and outcome.outcome in settled
    }
    if created:
        index = list(frame.index)
        for pos, outcome in created.items():
            index[pos] = outcome.id
        frame.index = pd.Index(index, name=frame.index.name or "id", dtype=object)
        by_position = {c.position: c for c in the_plan.creates}
        for pos in created:
            rows.append(pos)
            covers.append(by_position[pos].cover)
            crs.append(WGS84)
            times.append(by_position[pos].wanted_time)
        frame.iloc[list(created), frame.columns.get_loc("status")] = "WAITING"
    if rows:
        _write_back(frame, rows, covers, crs, times)
    deleted = {key for action, key, o in done if action == "delete" and o.outcome in settled}
    ids = the_plan.loaded_ids
    if rows:
        stamp(frame, collection=cid, service=service, rows=rows)
    settings = {**frame.attrs.get(ATTRS_KEY, {}), "collection": cid, "service": service}
    if ids is not None:
        keep = [i for i in ids if i not in deleted] + [str(o.id) for o in created.values()]
        settings["loaded_ids"] = "\n".join(keep)
    frame.attrs[ATTRS_KEY] = settings


def _write_back(
    frame: pd.DataFrame, rows: list[int], covers: list[Any], crs: list[str], times: list[int]
) -> None:
    """Put what the server now holds into the rows: cover, native CRS, geometry, time."""
    native = np.empty(len(rows), dtype=object)
    native[:] = covers
    codes = np.asarray(crs, dtype=object)
    for column, values in (("native_cover", native), ("native_crs", codes)):
        if column not in frame.columns:
            frame[column] = None
        frame.iloc[rows, frame.columns.get_loc(column)] = values
    when = pd.to_datetime(
        [None if t == NAT else pd.Timestamp(t, unit="us", tz="UTC") for t in times], utc=True
    )
    if "sensing_time" in frame.columns:
        frame.iloc[rows, frame.columns.get_loc("sensing_time")] = when.floor("ms")
    has = ~shapely.is_missing(native)
    if has.any():
        target = frame.crs.to_string() if frame.crs is not None else WGS84
        densify = frame.attrs.get(ATTRS_KEY, {}).get("densify", DEFAULT_DENSIFY)
        shown = reproject(native[has], codes[has], target, densify=densify)
        where = np.asarray(rows)[has]
        frame.iloc[where, frame.columns.get_loc(frame.geometry.name)] = shown


def task_result(done: Iterable[tuple[str, Any, Outcome]]) -> pd.DataFrame:
    """The result frame of a push or reingest: one row per task, indexed by id."""
    rows, index = [], []
    for action, key, outcome in done:
        index.append(outcome.id or (None if isinstance(key, tuple) else key))
        rows.append(
            {
                "action": action,
                "outcome": outcome.outcome,
                "status_code": outcome.status_code,
                "message": outcome.message,
            }
        )
    result = pd.DataFrame(
        rows,
        index=pd.Index(index, name="id", dtype=object),
        columns=["action", "outcome", "status_code", "message"],
    )
    result["status_code"] = result["status_code"].astype("Int64")
    return result


def _dry_run(
    the_plan: Plan,
    tasks: list[tuple[str, Any, Callable[[], Outcome]]],
    client: Client,
    force: bool,
    frame: pd.DataFrame,
) -> pd.DataFrame:
    """What would be sent: one row per tile, each field's change, and the cost."""
    diffs: dict[Any, list[str]] = {}
    for row in the_plan.changes.itertuples():
        key = row.id
        if row.field == "geometry":
            text = "geometry edited"
        elif row.action == "delete":
            text = "delete"
        else:
            text = f"{row.field}: {_show(row.old)} -> {_show(row.new)}"
        diffs.setdefault(key, []).append(text)
    outcomes = []
    news = iter(
        c for c in the_plan.changes.itertuples() if c.action == "create" and c.field == "path"
    )
    for action, key, _ in tasks:
        if action == "create":
            message = f"would create {next(news).new}"
        else:
            message = f"would {action}: " + "; ".join(diffs.get(key, []))
        outcomes.append((action, key, Outcome("skipped", message=message)))
    result = task_result(outcomes)
    result.attrs[ATTRS_KEY] = {"summary": _estimate(the_plan, client, force, frame)}
    return result


def _show(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "none"
    if isinstance(value, pd.Timestamp):
        return format_datetimes(pd.Series([value]))[0] or "none"
    return str(value)


def estimate_requests(the_plan: Plan, force: bool, loaded: int | None) -> int:
    """Requests a push of this plan makes when nothing fails (checks, writes, verify)."""
    updates = len(the_plan.updates)
    per_update = 1 if force else 2
    verify = updates if loaded is None else min(updates, math.ceil(loaded / 100))
    return (
        updates * per_update
        + (verify if updates else 0)
        + len(the_plan.creates)
        + len(the_plan.deletes)
    )


def _estimate(the_plan: Plan, client: Client, force: bool, frame: pd.DataFrame) -> str:
    ids = the_plan.loaded_ids if the_plan.whole else None
    requests = estimate_requests(the_plan, force, len(ids) if ids is not None else None)
    counts = (
        f"would update {len(the_plan.updates):,} / would create {len(the_plan.creates):,} / "
        f"would delete {len(the_plan.deletes):,}"
    )
    rate = getattr(client, "requests_per_minute", None)
    if rate:
        minutes = requests / float(rate)
        timing = f"about {_duration(minutes * 60)} at {float(rate):,.0f} requests a minute"
    else:
        low, high = PLAN_RATES
        timing = (
            f"{_duration(requests / high * 60)} to {_duration(requests / low * 60)} at "
            f"{low:,} to {high:,} requests a minute (set requests_per_minute for your plan)"
        )
    return f"{counts}: {requests:,} requests, {timing}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def push_collections(
    frame: pd.DataFrame,
    client: ClientLike,
    *,
    original: pd.DataFrame | None = None,
    dry_run: bool = False,
    force: bool = False,
    workers: int = 4,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Send edits of a collections frame: ``name``, ``no_data`` and band renames.

    The same three steps as `push`: each collection is read just before it is written
    and merged field by field (a field only the server changed is kept; one both changed
    differently is a ``conflict``), written, and read again to catch another writer.
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
    from byocframe.io import collections_from_records
    from byocframe.snapshot import (
        COLLECTION_EDITABLE,
        COLLECTION_READ_ONLY,
        collection_state,
        loaded_collections,
        stamp_collections,
    )

    client = resolve_client(client)
    loaded = loaded_collections(original if original is not None else frame)
    if loaded is None:
        raise ValidationError(
            "this collections frame does not say what was loaded: load it with "
            "byocframe.read_collections(), or pass original="
        )
    now = collection_state(frame)
    problems: list[dict[str, Any]] = []
    edits: list[tuple[str, list[str]]] = []
    for cid, after in now.items():
        before = loaded.get(cid)
        if before is None:
            problems.append(
                {
                    "id": cid,
                    "field": "id",
                    "value": cid,
                    "problem": "unknown collection (create it with Client.create_collection)",
                }
            )
            continue
        problems += [
            {"id": cid, "field": n, "value": after[n], "problem": "read-only field edited"}
            for n in COLLECTION_READ_ONLY
            if after[n] != before[n]
        ]
        edited = [n for n in COLLECTION_EDITABLE if after[n] != before[n]]
        if edited:
            edits.append((cid, edited))
    _refuse(problems, "collection", "only name, no_data and band names can change")
    if dry_run:
        return task_result(
            (
                "update",
                cid,
                Outcome(
                    "skipped",
                    message="would update: "
                    + "; ".join(f"{n}: {loaded[cid][n]} -> {now[cid][n]}" for n in edited),
                ),
            )
            for cid, edited in edits
        )

    def server_values(cid: str) -> dict[str, Any]:
        return collection_state(collections_from_records([client.get_collection(cid)]))[cid]

    def task(cid: str, edited: list[str]) -> Callable[[], Outcome]:
        def run() -> Outcome:
            server = server_values(cid)
            base, wanted = loaded[cid], now[cid]
            merged = dict(server)
            clashes = []
            for name in edited:
                if not force and server[name] != base[name] and server[name] != wanted[name]:
                    clashes.append(name)
                merged[name] = wanted[name]
            if clashes:
                return Outcome(
                    "conflict",
                    message=f"{', '.join(clashes)} changed on the server too: reload it, or "
                    "push with force=True",
                )
            if all(merged[n] == server[n] for n in COLLECTION_EDITABLE):
                return Outcome("unchanged", message="the server already holds it")
            body: dict[str, Any] = {"name": merged["name"], "s3Bucket": merged["s3_bucket"]}
            if merged["no_data"] is not None:
                body["noData"] = float(merged["no_data"])  # an omitted noData is deleted
            if merged["bands"] is not None:
                import json

                body["additionalData"] = {"bands": json.loads(merged["bands"])}
            client.update_collection(cid, body)
            again = server_values(cid)
            lost = [n for n in edited if again[n] != merged[n]]
            if lost:
                return Outcome(
                    "overwritten",
                    204,
                    f"another writer changed its {', '.join(lost)} after our write; reload it",
                )
            return Outcome("ok", 204)

        return run

    done = run_tasks(
        [("update", cid, task(cid, edited)) for cid, edited in edits],
        workers,
        progress,
        "pushing collections",
    )
    if any(o.outcome in ("ok", "unchanged") for _, _, o in done):
        settled = {k for _, k, o in done if o.outcome in ("ok", "unchanged")}
        merged_state = {**loaded, **{cid: now[cid] for cid in settled}}
        stamp_collections(frame, service=client.base_url, state=merged_state)
    return task_result(done)
