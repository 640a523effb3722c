"""The pages of a listing: two cursors that meet, and the batches they become frames in.

`from_both_ends` lists a collection from both ends of the ``created`` order at once
and yields the pages as they arrive; `Assembly` converts them into partial frames a
batch at a time, so a listing never holds every record (`byocframe.io.listing`).
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.client.api import Client
from byocframe.exceptions import ByocframeWarning, ValidationError
from byocframe.frame.convert import tile_frame
from byocframe.frame.record_checks import Errors, problem, report
from byocframe.frame.records import times_us
from byocframe.typing import CrsLike

__all__ = ["PAGES_AHEAD", "Assembly", "from_both_ends"]

#: Pages (100 tiles each) the two cursors of a listing may fetch ahead of the conversion:
#: a fast service then waits for the client instead of filling its memory.
PAGES_AHEAD = 20


class Assembly:
    """Listed records turned into partial frames as they arrive, then into one frame.

    Each stream of records ("asc": oldest first, or the only one; "desc": newest first)
    is converted every ``size`` records with `tile_frame`, so the client holds the
    frame so far plus at most one batch of records per stream, never every record. A
    "desc" batch is reversed before conversion and the "desc" frames are appended in
    reverse: the result is in creation order without sorting. Problems found in the
    batches, and ids repeated across them, are reported once at the end, with the row
    each has in the whole listing, as `tile_frame` does for one list of records.

    Examples
    --------
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> records = synthetic_tiles(5, seed=1)
    >>> assembly = Assembly(2, crs="EPSG:4326", errors="raise", densify=None)
    >>> assembly.add("asc", records[:3])  # one batch of 2 converted, 1 record pending
    >>> assembly.add("desc", records[3:][::-1])  # newest first
    >>> list(assembly.finish(by_created=False).index) == [r["id"] for r in records]
    True
    """

    def __init__(
        self,
        size: int,
        *,
        crs: CrsLike,
        errors: Errors,
        densify: float | None,
        keep: Callable[[str, gpd.GeoDataFrame, np.ndarray], None] | None = None,
    ) -> None:
        self.size = size
        self.options: dict[str, Any] = {"crs": crs, "densify": densify}
        self.errors = errors
        self.pending: dict[str, list[Any]] = {"asc": [], "desc": []}
        self.frames: dict[str, list[tuple[gpd.GeoDataFrame, np.ndarray]]] = {"asc": [], "desc": []}
        self.counts = {"asc": 0, "desc": 0}
        #: Ids the listing returned more than once: a listing whose pages shifted (a
        #: tile deleted or created under an offset-paged cursor) may have missed a
        #: tile too, so it is not whole
        self.repeats = 0
        self.problems: list[tuple[str, int, dict[str, Any]]] = []
        self.keep = keep or self._keep

    def add(self, stream: str, page: list[Any]) -> None:
        """Take one page of records; convert a batch once ``size`` have arrived."""
        pending = self.pending[stream]
        pending.extend(page)
        while len(pending) >= self.size:
            batch = pending[: self.size]
            del pending[: self.size]
            self._convert(stream, batch)

    def _convert(self, stream: str, batch: list[Any]) -> None:
        start = self.counts[stream]
        self.counts[stream] += len(batch)
        if stream == "desc":
            batch.reverse()
        # stream positions of the batch's records, in the order they are converted
        positions = np.arange(start, start + len(batch))
        if stream == "desc":
            positions = positions[::-1]
        try:
            frame = tile_frame(batch, errors="raise", **self.options)
        except ValidationError as err:
            dropped = set()
            for found in err.problems:
                self.problems.append((stream, int(positions[found["row"]]), found))
                if found["field"] == "id":
                    dropped.add(found["row"])
            with warnings.catch_warnings():
                # reported once for the whole listing, in `finish`
                warnings.simplefilter("ignore", ByocframeWarning)
                frame = tile_frame(batch, errors="warn", **self.options)
            positions = np.delete(positions, sorted(dropped))
        del batch[:]
        self.keep(stream, frame, positions)

    def _keep(self, stream: str, frame: gpd.GeoDataFrame, positions: np.ndarray) -> None:
        self.frames[stream].append((frame, positions))

    def flush(self) -> int:
        """Convert what is left; return the number of records listed."""
        for stream, pending in self.pending.items():
            if pending:
                batch = pending[:]
                del pending[:]
                self._convert(stream, batch)
        return self.counts["asc"] + self.counts["desc"]

    def rows(self, stream: str, positions: np.ndarray, total: int) -> np.ndarray:
        """Rows in the whole listing of a stream's positions ("desc" counts from the end)."""
        return positions if stream == "asc" else total - 1 - positions

    def report_problems(self, total: int, ids: pd.Index, rows: np.ndarray) -> np.ndarray:
        """Warn or raise once for every problem; return the mask of rows to keep.

        ``ids`` and ``rows`` are the index of the frames put together and the row each
        frame row has in the listing: an id seen in an earlier batch is a duplicate.
        """
        found = [{**p, "row": k if s == "asc" else total - 1 - k} for s, k, p in self.problems]
        repeated = np.asarray(ids.duplicated(keep="first") & ids.notna(), dtype=bool)
        self.repeats = int(repeated.sum())
        if repeated.any():
            first = pd.Series(rows, index=ids).groupby(level=0, sort=False).transform("min")
            for pos in np.flatnonzero(repeated):
                also = int(first.iat[pos])
                text = f"duplicate id (also row {also})"
                found.append(problem(int(rows[pos]), ids[pos], "id", ids[pos], text))
        if found:
            found.sort(key=lambda p: p["row"])
            report(found, self.errors, "tile")
        return ~repeated

    def finish(self, *, by_created: bool) -> gpd.GeoDataFrame:
        """The frame of every batch, in listing order (by ``created`` when asked).

        With two streams the batches already come out in creation order when the
        service sorts as ``created`` does; only otherwise is the frame sorted.
        """
        total = self.flush()
        parts = [("asc", *part) for part in self.frames["asc"]]
        parts += [("desc", *part) for part in self.frames["desc"][::-1]]
        self.frames = {"asc": [], "desc": []}
        empty = tile_frame([], **self.options)
        if not parts:
            self.report_problems(total, empty.index, np.zeros(0, dtype=int))
            return empty
        rows = np.concatenate([self.rows(s, p, total) for s, _, p in parts])
        frames = [f for _, f, _ in parts]
        del parts
        gdf = frames[0] if len(frames) == 1 else pd.concat(frames)
        del frames
        keep = self.report_problems(total, gdf.index, rows)
        if not keep.all():
            gdf = gdf[keep]
        if by_created:
            order = times_us(gdf["created"])
            if (np.diff(order) < 0).any():
                gdf = gdf.take(np.argsort(order, kind="stable"))
        gdf.attrs = dict(empty.attrs)
        return gdf


def from_both_ends(client: Client, cid: str, status: str | None) -> Iterator[tuple[str, list[Any]]]:
    """Pages from two cursors (created ascending and descending) until they meet.

    Yields ``(direction, page)`` as pages arrive, from either end, without the tiles
    both cursors returned where they met; the caller puts them back in creation order.

    The place they met is trusted only while each cursor's tiles come in the order it
    asked for (``created`` never decreasing, resp. never increasing: ties and tiles
    without a readable time aside). A service that does not keep it (one that ignores
    ``sort=created:desc`` gives both cursors the same first page, which would look like
    a meeting after one page) is warned of, the descending cursor stops, and the
    ascending one reads on to the end of the listing: every tile, from one end.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=250) as service:
    ...     pages = list(from_both_ends(service.client(), service.demo_collection, None))
    >>> sorted({d for d, _ in pages}), sum(len(page) for _, page in pages)
    (['asc', 'desc'], 250)
    """
    # bounded, so the cursors wait for the conversion instead of piling up records
    arrived: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=max(1, PAGES_AHEAD))
    met = threading.Event()
    # a cursor's tiles came out of the order it asked for: the meeting is not trusted
    disorder = threading.Event()
    stop = threading.Event()  # the caller stopped early
    seen: dict[str, set[str]] = {"asc": set(), "desc": set()}
    # the latest (asc) / earliest (desc) creation time each cursor has given so far
    reached: dict[str, dt.datetime | None] = {"asc": None, "desc": None}
    # the first readable creation time each cursor gave: the oldest (asc), the newest (desc)
    first: dict[str, dt.datetime | None] = {"asc": None, "desc": None}
    lock = threading.Lock()
    # where the cursors met: the latest creation time among the tiles both returned.
    # Tiles created at that same instant may come in another order from each end (a
    # bulk import: all at once), so the ascending cursor reads on through that instant
    meeting: list[Any] = []

    def walk(direction: str) -> None:
        other = "desc" if direction == "asc" else "asc"
        try:
            sort = f"created:{direction}"
            for page in client.tile_pages(cid, status=status, sort=sort, bad_ids="keep"):
                keys = {_key(t) for t in page}
                with lock:
                    # checked before the page may count as a meeting
                    reached[direction], ordered = _in_order(page, direction, reached[direction])
                    if first[direction] is None:
                        first[direction] = _first(page)
                    # and across the cursors: the ascending one never past the newest tile
                    # the descending one started from, nor that one before the oldest
                    # (a peer that ignores the sort and lists a first page of tied times
                    # gives both cursors that page, in order either way)
                    if not ordered or _crossed(first, reached):
                        disorder.set()
                    # a tile both cursors returned is found when its second copy arrives:
                    # checking the new page alone keeps the cost linear in the tiles
                    seen[direction].update(keys)
                    common = (
                        keys & seen[other] if not (met.is_set() or disorder.is_set()) else set()
                    )
                    if common:
                        times = [_created(t) for t in page if _key(t) in common]
                        known = [w for w in times if w is not None]
                        meeting.append(max(known) if known and len(known) == len(times) else None)
                        met.set()
                arrived.put((direction, page))
                if stop.is_set():
                    break
                if direction == "desc" and (met.is_set() or disorder.is_set()):
                    break
                if met.is_set() and not disorder.is_set() and _past(page, meeting[0]):
                    break  # the ascending cursor, past the meeting
        except BaseException as err:
            arrived.put(("error", err))
        finally:
            arrived.put(("done", None))

    workers = [threading.Thread(target=walk, args=(d,), daemon=True) for d in ("asc", "desc")]
    for worker in workers:
        worker.start()
    finished = 0
    given: set[str] = set()
    warned = False
    try:
        while finished < 2:
            kind, item = arrived.get()
            if kind == "done":
                finished += 1
            elif kind == "error":
                raise item
            else:
                if disorder.is_set() and not warned:
                    warned = True
                    warnings.warn(
                        f"the service did not list the tiles of collection {cid} in the "
                        "order of their creation times asked for (sort=created:asc/desc); "
                        "the listing is read from one end instead: complete, but slower",
                        ByocframeWarning,
                        stacklevel=3,
                    )
                fresh = [t for t in item if _key(t) not in given]
                given.update(_key(t) for t in fresh)
                yield kind, fresh
    finally:
        # stopped early (an error, or the caller gave up): each cursor stops after the
        # page it is fetching; take what they still put so neither waits on a full queue
        stop.set()
        while finished < 2:
            if arrived.get()[0] == "done":
                finished += 1


def _in_order(
    page: list[Any], direction: str, reached: dt.datetime | None
) -> tuple[dt.datetime | None, bool]:
    """Whether a cursor's page keeps its order after ``reached``; and where it then is.

    Ascending, no tile may be older than one before it; descending, none newer. Equal
    times are in order (their order is the service's), and a tile without a readable
    creation time is passed over (the loader reports its field).
    """
    ordered = True
    for when in map(_created, page):
        if when is None:
            continue
        if reached is not None and (when < reached if direction == "asc" else when > reached):
            ordered = False
        else:
            reached = when
    return reached, ordered


def _first(page: list[Any]) -> dt.datetime | None:
    """The first readable creation time of a page (None when it has none)."""
    return next((when for when in map(_created, page) if when is not None), None)


def _crossed(first: dict[str, Any], reached: dict[str, Any]) -> bool:
    """Whether a cursor went past the end the other one started from.

    An honest service's descending listing starts at the newest tile, so the ascending
    cursor never reaches a later one (and the other way round); one created while the
    cursors read is the only honest cause, and reading on from one end is then right too.
    """
    late = first["desc"] is not None and reached["asc"] is not None
    early = first["asc"] is not None and reached["desc"] is not None
    return (late and reached["asc"] > first["desc"]) or (early and reached["desc"] < first["asc"])


def _created(tile: Any) -> dt.datetime | None:
    """A listed tile's creation time (None when it has none that reads as one)."""
    text = tile.get("created") if isinstance(tile, dict) else None
    try:
        when = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _past(page: list[Any], meeting: dt.datetime | None) -> bool:
    """Whether the ascending cursor has read past every tile created at ``meeting``.

    Without a readable meeting time it reads on to the end: the whole listing then
    comes from one cursor, complete.
    """
    if meeting is None:
        return False
    last = [when for when in map(_created, page) if when is not None]
    return bool(last) and max(last) > meeting


def _key(tile: Any) -> str:
    """What tells listed tiles apart: the id, or the whole record when it has none.

    A tile without a usable id still comes from both cursors once each; the loader
    then reports it once (`byocframe.frame.record_checks.report`).
    """
    tid = tile.get("id") if isinstance(tile, dict) else None
    return tid if isinstance(tid, str) and tid else "\0" + json.dumps(tile, default=str)
