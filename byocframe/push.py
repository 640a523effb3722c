"""Send the edits of a tile frame to the service, safely: `push`.

The API has no batch endpoint and no conditional PUT, so every tile goes through three
steps, from a thread pool sharing one client (`byocframe.writes`):

1. **check**: the tile's server record is read just before it is written (with a GET,
   or from the listing page that holds it when most of the collection is edited), and
   a three-way comparison (loaded, server, wanted) decides per field: a field only we
   changed is written, a field only the server changed is kept, a field both changed to
   different values is a ``conflict`` (nothing is sent). A tile that already holds what
   we want is ``unchanged`` (a rerun, or a resume after a crash, sends nothing for it).
2. **write**: one PUT with the merged state.
3. **verify** (`byocframe.verify`): each written tile is read again, no sooner than
   half a second after its write (from the listing, behind the writes, when the checks
   came from it); any whose server state is no longer ours was changed by another
   writer meanwhile and is reported as ``overwritten``.

`docs/design/edits.md` explains the window that remains.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.client import Client, ClientLike, resolve_client
from byocframe.crs import WGS84
from byocframe.diff import Plan, Update, adopt_tokens, plan
from byocframe.exceptions import ValidationError
from byocframe.geometry import DEFAULT_DENSIFY, reproject
from byocframe.ids import check_id
from byocframe.records import format_datetimes
from byocframe.snapshot import ATTRS_KEY, NAT, service_digest, stamp, with_loaded_ids
from byocframe.tasks import Outcome, Task, run_tasks, task_result
from byocframe.tilestate import TileState, limit_points, request_body
from byocframe.verify import Trail, verify
from byocframe.writes import (
    creator,
    deleter,
    listed_updates,
    lists_to_check,
    page_size,
    updater,
)

__all__ = ["estimate_requests", "push"]

#: Sentinel Hub plans allow this many requests a minute (the estimate's range when no
#: rate is set).
PLAN_RATES = (300, 1200)


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
        ``failed``; in a dry run what would happen: ``would update``, ``would create``,
        ``would delete``), ``status_code`` and ``message``.

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
    path = frame["path"].to_numpy()
    paths = {u.id: str(path[u.position]) for u in updates}
    listed = not force and lists_to_check(
        len(updates),
        _loaded_count(the_plan),
        paced=client.requests_per_minute is not None,
        workers=workers,
    )
    others: list[Task] = []
    create_bodies = _create_bodies(the_plan, tolerance)
    for create, body in zip(the_plan.creates, create_bodies, strict=True):
        others.append(
            ("create", ("new", create.position), creator(client, cid, body, create.cover))
        )
    for tid in the_plan.deletes:
        others.append(("delete", tid, deleter(client, cid, tid)))
    if dry_run:
        return _dry_run(the_plan, updates, others, client, force, listed, workers)
    checks: Iterable[Task]
    trail = Trail(client, cid) if listed else None  # verifies behind the writes
    if listed:
        checks = listed_updates(client, cid, updates, paths, page_size(workers), trail)
    else:
        checks = (
            ("update", u.id, updater(client, cid, paths[u.id], u, force=force)) for u in updates
        )
    total = len(updates) + len(others)
    try:
        done = run_tasks(
            itertools.chain(checks, others),
            workers,
            progress,
            "pushing",
            total=total,
            on_done=trail.finished if trail is not None else None,
        )
    except BaseException:
        if trail is not None:
            trail.abandon()
        raise
    if trail is not None:
        trail.close()
    rank = {u.id: i for i, u in enumerate(updates)}
    done.sort(key=lambda task: rank[task[1]] if task[0] == "update" else len(rank))
    read = trail.records if trail is not None else None
    verify(client, cid, the_plan, updates, done, workers, read)
    _record(frame, the_plan, updates, done, cid, client.base_url)
    return task_result(done)


def _loaded_count(the_plan: Plan) -> int | None:
    """How many tiles the collection had when the frame was loaded whole (else None)."""
    return len(the_plan.loaded_ids) if the_plan.whole and the_plan.loaded_ids else None


def _check_ids(the_plan: Plan) -> None:
    """Every id a push would put in a URL is a plain id, before any request."""
    if the_plan.collection:
        check_id(the_plan.collection, "collection")
    for tid in [u.id for u in the_plan.updates] + list(the_plan.deletes):
        check_id(tid, "tile")


def _refuse_problems(the_plan: Plan) -> None:
    if the_plan.problems:
        raise ValidationError.of_edits(
            the_plan.problems,
            "tile",
            "only sensing_time and the cover (a polygon) can change, and each new row "
            "needs a path of its own",
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
    cover = limit_points(update.wanted_cover, tolerance, f"tile {update.id!r}")
    if cover is update.wanted_cover:
        return update
    return Update(**{**update.__dict__, "wanted_cover": cover})


def _create_bodies(the_plan: Plan, tolerance: float | None) -> list[dict[str, Any]]:
    bodies = []
    for create in the_plan.creates:
        cover = limit_points(create.cover, tolerance, f"new row {create.position}")
        create.cover = cover
        bodies.append(request_body(str(create.path), TileState(create.wanted_time, cover), WGS84))
    return bodies


def _record(
    frame: pd.DataFrame,
    the_plan: Plan,
    updates: list[Update],
    done: list[tuple[str, Any, Outcome]],
    cid: str,
    service: str,
) -> None:
    """Update the frame in place so matching rows are marked as loaded again."""
    if the_plan.load is not None:  # rows stamped now join the load they came from
        frame.attrs[ATTRS_KEY] = {**frame.attrs.get(ATTRS_KEY, {}), "load": the_plan.load}
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
        settings = with_loaded_ids(settings, keep)
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


def _dry_run(
    the_plan: Plan,
    updates: list[Update],
    others: list[Task],
    client: Client,
    force: bool,
    listed: bool,
    workers: int,
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
    keys = [("update", u.id) for u in updates] + [(action, key) for action, key, _ in others]
    for action, key in keys:
        if action == "create":
            message = f"would create {next(news).new}"
        else:
            message = f"would {action}: " + "; ".join(diffs.get(key, []))
        outcomes.append((action, key, Outcome(f"would {action}", message=message)))
    result = task_result(outcomes)
    page = page_size(workers) if listed else None
    requests = estimate_requests(the_plan, force, _loaded_count(the_plan), page)
    result.attrs[ATTRS_KEY] = {"summary": _summary(the_plan, requests, client)}
    return result


def _show(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "none"
    if isinstance(value, pd.Timestamp):
        return format_datetimes(pd.Series([value]))[0] or "none"
    return str(value)


def estimate_requests(
    the_plan: Plan, force: bool, loaded: int | None, page: int | None = None
) -> int:
    """Requests a push of this plan makes when nothing fails (checks, writes, verify).

    ``loaded``: the collection's size when the frame was loaded whole (else None);
    ``page``: the checks read the listing, this many tiles a page, instead of each tile.
    """
    updates = len(the_plan.updates)
    if force:
        checks = 0
    elif page is not None and loaded is not None:
        checks = min(updates, math.ceil(loaded / page))
    else:
        checks = updates
    verify = updates if loaded is None else min(updates, math.ceil(loaded / 100))
    return updates + checks + verify + len(the_plan.creates) + len(the_plan.deletes)


def _summary(the_plan: Plan, requests: int, client: Client) -> str:
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
