"""After a push, the caller's frame is told what the server now holds: `write_back`.

This is the one place a push changes the frame it was given, and only where
`byocframe.edits.route.push` says it does:

* rows whose update settled (``ok`` or ``unchanged``) take what the server now holds:
  ``native_cover`` and ``native_crs`` (the cover sent, in the tile's own CRS), the
  ``sensing_time`` and the geometry (that cover shown in the frame's CRS); those columns
  are added when missing;
* created rows take their new tile id in the index, ``status`` ``WAITING`` (or what the
  service answered), ``created`` and ``ingestion_start`` as the service answered the
  create, and the same columns as above from what was sent;
* those rows get a new ``loaded`` token (`byocframe.frame.snapshot.stamp`), as do rows that
  took ``original``'s (push with ``original=``);
* ``attrs["byocframe"]``: the collection, the service, the load, and the loaded ids
  without the deleted tiles and with the created ones.

Nothing else of the frame changes: other columns, other rows, the row order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.edits.batch import Batch
from byocframe.edits.plans import Plan
from byocframe.edits.tasks import Action, Done, NewRow, Result
from byocframe.frame.convert import tiles_from_records
from byocframe.frame.deletions import (
    CHECK_FLAGS,
    DeleteChecks,
    checks_now,
    recorded_checks,
    with_loaded_ids,
)
from byocframe.frame.native import native_geometries, put_native
from byocframe.frame.records import ATTRS_KEY, NAT
from byocframe.frame.settings import drawing
from byocframe.frame.snapshot import stamp
from byocframe.frame.tokens import LOADED
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject

__all__ = ["WRITTEN_BACK", "renewed_checks", "write_back"]

#: The columns a push may change in the caller's frame (besides its index, for created
#: rows, and ``attrs``).
WRITTEN_BACK = (
    "loaded",
    "native_cover",
    "native_crs",
    "sensing_time",
    "status",
    "geometry",
    "created",
    "ingestion_start",
)


def write_back(
    frame: pd.DataFrame,
    the_plan: Plan,
    batch: Batch,
    done: list[Done],
    service: str,
    original: pd.DataFrame | None = None,
) -> None:
    """Update the frame in place so rows that now match the server are loaded again.

    Examples
    --------
    >>> import byocframe
    >>> import pandas as pd
    >>> from byocframe.edits.batch import prepare
    >>> from byocframe.edits.diff import plan
    >>> from byocframe.edits.send import send
    >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection)
    ...     gdf.loc[gdf.index[:2], "sensing_time"] += pd.Timedelta(days=1)
    ...     the_plan = plan(gdf)
    ...     batch = prepare(the_plan, gdf, client)
    ...     before = len(byocframe.changes(gdf))
    ...     write_back(gdf, the_plan, batch, send(client, batch).done, client.base_url)
    >>> before, len(byocframe.changes(gdf))
    (2, 0)
    """
    before = frame.copy(deep=False)  # copy-on-write: costs nothing until a column changes
    try:
        _write_back(frame, the_plan, batch, done, service, original)
    except BaseException:
        # an error or Ctrl-C halfway (finding 234): the frame as it was before the push,
        # which a rerun settles (what the push did is found done), never half of it
        _restore(frame, before)
        raise


def _restore(frame: pd.DataFrame, before: pd.DataFrame) -> None:
    """Put ``frame`` back as ``before`` (a shallow copy of it): index, columns, attrs."""
    added = [c for c in frame.columns if c not in before.columns]
    if added:
        frame.drop(columns=added, inplace=True)
    frame.index = before.index
    for column in before.columns:
        frame[column] = before[column]
    frame.attrs = before.attrs


def _write_back(
    frame: pd.DataFrame,
    the_plan: Plan,
    batch: Batch,
    done: list[Done],
    service: str,
    original: pd.DataFrame | None,
) -> None:
    _writable(frame)
    recorded = recorded_checks(frame.attrs.get(ATTRS_KEY, {}))  # before this push's
    if the_plan.adopted is not None:  # rows that lost their token take original's
        frame[LOADED] = the_plan.adopted
    if the_plan.load is not None:  # rows stamped now join the load they came from
        frame.attrs[ATTRS_KEY] = {**frame.attrs.get(ATTRS_KEY, {}), "load": the_plan.load}
    by_id = {u.id: u for u in batch.updates}
    rows: list[int] = []
    covers: list[Any] = []
    crs: list[str] = []
    times: list[int] = []
    server: dict[str, dict[str, Any]] = {}  # the written tiles the server was read for
    cover_sent: set[str] = set()  # ... and those not read whose cover was written
    for action, key, outcome in done:
        if action != Action.UPDATE or not outcome.outcome.settled or outcome.sent is None:
            continue
        update = by_id[str(key)]
        # the cover this push wrote, or found the server already holding (its edit made
        # by another, or by this push before a kill): as the server keeps it (finding 210)
        found = outcome.outcome == Result.UNCHANGED and outcome.server is not None
        if "geometry" in outcome.mine or found:
            if outcome.server is not None:
                server[str(key)] = outcome.server
            else:
                cover_sent.add(str(key))
        rows.append(update.position)
        covers.append(outcome.sent.cover)
        crs.append(update.crs)
        times.append(outcome.sent.time)
    created = {
        key.position: outcome
        for action, key, outcome in done
        if action == Action.CREATE and isinstance(key, NewRow) and outcome.outcome.settled
    }
    if created:
        index = list(frame.index)
        for pos, outcome in created.items():
            index[pos] = outcome.id
        frame.index = pd.Index(index, name=frame.index.name or "id", dtype=object)
        by_position = {c.position: c for c in batch.creates}
        theirs = _covers_found(created, by_position)
        for pos in created:
            rows.append(pos)
            cover, code = theirs.get(pos, (by_position[pos].cover, WGS84))
            covers.append(cover)
            crs.append(code)
            times.append(by_position[pos].wanted_time)
        frame.iloc[list(created), frame.columns.get_loc("status")] = "WAITING"
        _put_created(frame, created)
    cid = batch.collection
    if rows:
        _put(frame, rows, covers, crs, times)
        stamp(frame, collection=cid, service=service, rows=rows)
    deleted = {
        key for action, key, outcome in done if action == Action.DELETE and outcome.outcome.settled
    }
    settings = {**frame.attrs.get(ATTRS_KEY, {}), "collection": cid, "service": service}
    if the_plan.loaded_ids is not None:
        keep = [i for i in the_plan.loaded_ids if i not in deleted]
        ids = keep + [str(o.id) for o in created.values()]
        settings = with_loaded_ids(
            settings,
            ids,
            _checks_after(frame, ids, original, recorded, rows, server, cover_sent, created),
        )
    frame.attrs[ATTRS_KEY] = settings


def _checks_after(
    frame: pd.DataFrame,
    ids: list[str],
    original: pd.DataFrame | None,
    recorded: tuple[pd.Index, np.ndarray] | None,
    rows: list[int],
    server: dict[str, dict[str, Any]],
    cover_sent: set[str],
    created: dict[int, Any],
) -> np.ndarray:
    """What a later deletion of each loaded id checks, after this push (`renewed_checks`).

    The push's own record of a tile is its new token. Where the push wrote a cover and
    the server was read after it (the verify, a create's answer), or found the server
    already holding it (``unchanged``), the cover is the server's own, compared exactly;
    a written cover not read back is not compared (the service keeps it with its own
    rounding). A created tile is checked as a tile loaded while it waits for its
    ingestion, from the service's answer.
    """
    index = pd.Index(ids, dtype=object)
    checks = checks_now(frame, ids, original)
    answered = {str(o.id): o.server for o in created.values() if o.server is not None}
    server = {**server, **answered}  # a created tile: the cover as the service took it
    if server:
        # of the read-back only the cover: the fields this push wrote are verified to be
        # its own, and its cover is kept with the service's own rounding; the rest stays as
        # this frame knows the tile, so another editor's change met after the load (a
        # reingest, say) is still seen before a deletion (findings 190, 195)
        read = tiles_from_records(list(server.values()), errors="warn")
        where = index.get_indexer(list(server))
        checks["native"][where] = checks_now(read, list(server))["native"]
        checks["flags"][where] &= ~np.uint8(CHECK_FLAGS["cover_written"])
    sent = index.get_indexer(sorted(cover_sent))
    checks["flags"][sent[sent >= 0]] |= CHECK_FLAGS["cover_written"]
    # a created tile whose record the service answered is checked as any tile loaded
    # while it waits for its ingestion (finding 192); without that record, flagged
    unanswered = index.get_indexer([str(o.id) for o in created.values() if o.server is None])
    flags = CHECK_FLAGS["created"] | CHECK_FLAGS["cover_written"]
    checks["flags"][unanswered[unanswered >= 0]] |= flags
    written = {str(frame.index[p]) for p in rows}
    return renewed_checks(ids, recorded, (index, checks), written, {*server, *cover_sent})


def renewed_checks(
    ids: Sequence[str],
    recorded: tuple[pd.Index, np.ndarray] | None,
    pushed: tuple[pd.Index, np.ndarray],
    written: Collection[str],
    covered: Collection[str] | None = None,
) -> np.ndarray:
    """What a later deletion of each of ``ids`` checks, once a push wrote ``written``.

    The one rule for the record of a load after its push, used by the frame's
    write-back and by ``byocframe push``'s write-back of a table. An id recorded before
    the push keeps that record; of a tile the push wrote, only the sensing time and the
    cover are the push's, and the ``cover_written`` flag where the push wrote or read
    that cover (``covered``). Its path, status, ingestion start and files stay as they
    were listed, so a reingest the frame never showed is still seen before a deletion
    (findings 195, 217). An id not recorded before (a created tile) takes the push's
    record; one in neither is flagged ``unknown``, so its deletion is refused.

    Parameters
    ----------
    ids : sequence of str
        The loaded ids after the push (without the deleted tiles, with the created).
    recorded : (Index, ndarray of DeleteChecks) or None
        The record before the push (`byocframe.frame.deletions.recorded_checks`).
    pushed : (Index, ndarray of DeleteChecks)
        The push's own record of the tiles it knows (at least those it wrote).
    written : collection of str
        The tiles the push wrote (updated or created).
    covered : collection of str, optional
        The written tiles whose cover the push wrote or read back; default all.

    Returns
    -------
    ndarray of DeleteChecks
        One per id, in the order of ``ids``.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.deletions import recorded_checks
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> ids, checks = recorded_checks(gdf.attrs["byocframe"])
    >>> later = checks.copy()
    >>> later["sensing_time"] += 1
    >>> later["path"] += 1
    >>> after = renewed_checks(list(ids), (ids, checks), (ids, later), [ids[0]])
    >>> bool(after[0]["sensing_time"] == later[0]["sensing_time"])  # written: renewed
    True
    >>> bool(after[0]["path"] == checks[0]["path"])  # ... but its path as listed
    True
    >>> bool(after[1] == checks[1])  # not written: as recorded
    True
    """
    index = pd.Index([str(i) for i in ids], dtype=object)
    out = np.zeros(len(index), dtype=DeleteChecks)
    out["flags"] = CHECK_FLAGS["unknown"]
    known, theirs = pushed
    at = known.get_indexer(index)
    has = at >= 0
    out[has] = theirs[at[has]]
    if recorded is None:
        return out
    before, then = recorded
    was = before.get_indexer(index)
    old = was >= 0
    renewed = has & old & index.isin(list(written))
    keep = old & ~renewed
    out[keep] = then[was[keep]]
    merged = then[was[renewed]].copy()
    new = out[renewed]
    for name in ("sensing_time", "native"):
        merged[name] = new[name]
    cover = np.uint8(CHECK_FLAGS["cover_written"])
    flag = index[renewed].isin(list(index[renewed] if covered is None else covered))
    merged["flags"] = np.where(
        flag, (merged["flags"] & ~cover) | (new["flags"] & cover), merged["flags"]
    )
    out[renewed] = merged
    return out


def _covers_found(created: dict[int, Any], creates: dict[int, Any]) -> dict[int, tuple[Any, str]]:
    """The server's cover (native, with its CRS) of each created row that gave none.

    A row without a cover whose path the service already held at its time (adopted:
    ``unchanged``, e.g. a rerun after a kill) names a tile that may have a cover: the
    row shows it, so the frame (and the file written back) holds what a later deletion
    of it checks, rather than an empty cover the record does not describe.
    """
    records = {
        pos: outcome.server
        for pos, outcome in created.items()
        if creates[pos].cover is None
        and outcome.server is not None
        and outcome.server.get("coverGeometry")
    }
    if not records:
        return {}
    read = tiles_from_records(list(records.values()), errors="warn")
    native = native_geometries(read, "native_cover")
    codes = read["native_crs"].astype(object).to_numpy()
    return {
        pos: (native[i], str(codes[i]))
        for i, pos in enumerate(records)
        if native[i] is not None and isinstance(codes[i], str)
    }


def _put_created(frame: pd.DataFrame, created: dict[int, Any]) -> None:
    """Give created rows the status, creation and ingestion start the service answered."""
    answered = {pos: o.server for pos, o in created.items() if o.server is not None}
    if not answered:
        return
    rows = list(answered)
    for name, key in (
        ("status", "status"),
        ("created", "created"),
        ("ingestion_start", "ingestionStart"),
    ):
        if name not in frame.columns:
            continue
        values = [answered[pos].get(key) for pos in rows]
        if name == "status":
            if all(isinstance(v, str) for v in values):
                frame.iloc[rows, frame.columns.get_loc(name)] = values
            continue
        when = pd.to_datetime(pd.Series(values, dtype=object), utc=True, errors="coerce")
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            when = when.astype(column.dtype)
        frame.iloc[rows, frame.columns.get_loc(name)] = when.to_numpy()


def _writable(frame: pd.DataFrame) -> None:
    """Give the written columns a dtype that takes what the push writes into them.

    Times held as text become UTC times; tokens or CRS codes held as categories become
    text; a ``status`` whose categories lost ``WAITING`` gets it back. Only a column
    whose dtype would refuse a written value changes.
    """
    times = frame.get("sensing_time")
    if times is not None and not isinstance(times.dtype, pd.DatetimeTZDtype):
        frame["sensing_time"] = pd.to_datetime(times, utc=True, format="mixed")
    for name in (LOADED, "native_crs"):
        if name in frame.columns and isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(pd.StringDtype(na_value=np.nan))
    status = frame.get("status")
    categories = getattr(getattr(status, "dtype", None), "categories", None)
    if status is not None and categories is not None and "WAITING" not in categories:
        frame["status"] = status.cat.add_categories(["WAITING"])


def _put(
    frame: pd.DataFrame, rows: list[int], covers: list[Any], crs: list[str], times: list[int]
) -> None:
    """Put what the server now holds into the rows: cover, native CRS, geometry, time."""
    native = np.empty(len(rows), dtype=object)
    native[:] = covers
    codes = np.asarray(crs, dtype=object)
    put_native(frame, rows, "native_cover", native)
    if "native_crs" not in frame.columns:
        frame["native_crs"] = None
    frame.iloc[rows, frame.columns.get_loc("native_crs")] = codes
    when = pd.to_datetime(
        [None if t == NAT else pd.Timestamp(t, unit="us", tz="UTC") for t in times], utc=True
    )
    if "sensing_time" in frame.columns:
        frame.iloc[rows, frame.columns.get_loc("sensing_time")] = when.floor("ms")
    has = ~shapely.is_missing(native)
    if has.any():
        target = frame.crs.to_string() if frame.crs is not None else WGS84
        drawn = drawing(frame.attrs.get(ATTRS_KEY, {}))
        shown = reproject(native[has], codes[has], target, **drawn)
        where = np.asarray(rows)[has]
        frame.iloc[where, frame.columns.get_loc(frame.geometry.name)] = shown
