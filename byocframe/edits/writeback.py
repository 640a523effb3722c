"""After a push, the caller's frame is told what the server now holds: `write_back`.

This is the one place a push changes the frame it was given, and only where
`byocframe.edits.route.push` says it does:

* rows whose update settled (``ok`` or ``unchanged``) take what the server now holds:
  ``native_cover`` and ``native_crs`` (the cover sent, in the tile's own CRS), the
  ``sensing_time`` and the geometry (that cover shown in the frame's CRS); those columns
  are added when missing;
* created rows take their new tile id in the index and ``status`` ``WAITING``, and the
  same columns as above from what was sent;
* those rows get a new ``loaded`` token (`byocframe.frame.snapshot.stamp`), as do rows that
  took ``original``'s (push with ``original=``);
* ``attrs["byocframe"]``: the collection, the service, the load, and the loaded ids
  without the deleted tiles and with the created ones.

Nothing else of the frame changes: other columns, other rows, the row order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.edits.batch import Batch
from byocframe.edits.plans import Plan
from byocframe.edits.tasks import Action, Done, NewRow
from byocframe.frame.convert import tiles_from_records
from byocframe.frame.deletions import CHECK_FLAGS, checks_now, delete_checks, with_loaded_ids
from byocframe.frame.native import put_native
from byocframe.frame.records import ATTRS_KEY, NAT
from byocframe.frame.settings import drawing
from byocframe.frame.snapshot import stamp
from byocframe.frame.tokens import LOADED
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject

__all__ = ["WRITTEN_BACK", "write_back"]

#: The columns a push may change in the caller's frame (besides its index, for created
#: rows, and ``attrs``).
WRITTEN_BACK = ("loaded", "native_cover", "native_crs", "sensing_time", "status", "geometry")


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
    _writable(frame)
    recorded = delete_checks(frame.attrs.get(ATTRS_KEY, {}))  # before this push's
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
        if outcome.server is not None:
            server[str(key)] = outcome.server
        elif "geometry" in outcome.mine:
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
        for pos in created:
            rows.append(pos)
            covers.append(by_position[pos].cover)
            crs.append(WGS84)
            times.append(by_position[pos].wanted_time)
        frame.iloc[list(created), frame.columns.get_loc("status")] = "WAITING"
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
    recorded: dict[str, np.void],
    rows: list[int],
    server: dict[str, dict[str, Any]],
    cover_sent: set[str],
    created: dict[int, Any],
) -> np.ndarray:
    """What a later deletion of each loaded id checks, after this push.

    A tile this push did not write keeps what was recorded of it (renewed with the row's
    token at each write-back, with the flags of its last write). A written tile the
    server was read for after the write (the verify, or the check that found it as
    wanted) takes that record: the server's own cover, compared exactly. One not read
    back takes its new token, and when its cover was written the cover is not compared
    (the service keeps it with its own rounding); a created tile's state is the service's
    once ingested.
    """
    index = pd.Index(ids, dtype=object)
    checks = checks_now(frame, ids, original)
    written = {str(frame.index[p]) for p in rows}
    kept = [tid for tid in recorded if tid not in written]
    at = index.get_indexer(kept)
    if len(kept):
        old = np.array([recorded[tid] for tid in kept], dtype=checks.dtype)
        checks[at[at >= 0]] = old[at >= 0]
    if server:
        read = tiles_from_records(list(server.values()), errors="warn")
        checks[index.get_indexer(list(server))] = checks_now(read, list(server))
    sent = index.get_indexer(sorted(cover_sent))
    checks["flags"][sent[sent >= 0]] |= CHECK_FLAGS["cover_written"]
    made = index.get_indexer([str(o.id) for o in created.values()])
    flags = CHECK_FLAGS["created"] | CHECK_FLAGS["cover_written"]
    checks["flags"][made[made >= 0]] |= flags
    return checks


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
