"""Reading the listing behind a push's writes, for its verify: `Trail`.

When a push reads its checks from the listing (`byocframe.edits.batch.Batch.page`), a `Trail`
follows the writes on its own thread and reads the listing again, a page once every
edited tile on it has settled (`due_after`: `byocframe.edits.writes.SETTLE` after its write,
longer after a slow write), so `byocframe.edits.verify` has little left to read once the last
write is done.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import math
import threading
from collections.abc import Callable, Container, Iterator
from typing import Any

from byocframe.edits.batch import Batch
from byocframe.edits.tasks import Action, Done, Outcome, Result
from byocframe.edits.writes import SETTLE
from byocframe.exceptions import ByocframeError
from byocframe.typing import ClientLike

__all__ = ["PAGE", "Clock", "Trail", "due_after", "trailing", "wait_until"]

#: Tiles a page of the listing holds when the verify reads it.
PAGE = 100

Clock = Callable[[], float]


class Trail:
    """Reads the listing behind a push's writes, a page once its edited tiles settled.

    The checks' listing tells where each edited tile stands (`listed`), each finished
    task when its write landed (`finish`). A thread reads page after page of the
    listing, each once every edited tile on it (by the checks' positions) has finished
    and `SETTLE` has passed since its write; `records` holds what it read of the
    written tiles, each read no sooner than that. If the listing changed meanwhile, a
    tile may be read too early: it is left out, and `verify` reads it again.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.edits.tasks import Outcome
    >>> with byocframe.local_service(demo=True, demo_tiles=3) as service:
    ...     client = service.client()
    ...     ids = [t["id"] for t in client.iter_tiles(service.demo_collection)]
    ...     trail = Trail(client, service.demo_collection)
    ...     trail.listed(ids, edited=ids[:1])
    ...     trail.listing_done()
    ...     trail.finish(ids[0], Outcome("ok", written_at=client.clock() - 1.0))
    ...     trail.close()
    ...     sorted(trail.records) == ids[:1]
    True
    """

    def __init__(self, client: ClientLike, cid: str):
        self.client = client
        self.cid = cid
        self.records: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._positions: list[int] = []  # of the edited tiles, rising
        self._ids: list[str] = []  # the same tiles' ids
        self._finished_to = 0  # the tiles before this index have all finished
        self._listed_to = 0
        self._listing_done = False
        self._due: dict[str, float | None] = {}  # None: finished without a write
        self._closed = False
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="byocframe-verify", daemon=True)
        self._thread.start()

    def listed(self, ids: list[str], edited: Container[str]) -> None:
        """The checks read the next page of the listing: ``ids`` in order."""
        with self._cond:
            for offset, tid in enumerate(ids):
                if tid in edited:
                    self._positions.append(self._listed_to + offset)
                    self._ids.append(tid)
            self._listed_to += len(ids)
            self._cond.notify_all()

    def listing_done(self) -> None:
        """The checks read no more of the listing."""
        with self._cond:
            self._listing_done = True
            self._cond.notify_all()

    def finished(self, done: Done) -> None:
        """A task of the push ended (`byocframe.edits.tasks.run_tasks`'s ``on_done``)."""
        if done.action == Action.UPDATE:
            self.finish(str(done.key), done.outcome)

    def finish(self, tid: str, outcome: Outcome) -> None:
        """A tile's task ended (from any worker thread)."""
        written_at = outcome.written_at if outcome.outcome == Result.OK else None
        with self._cond:
            self._due[tid] = None if written_at is None else written_at + due_after(outcome)
            self._cond.notify_all()

    def close(self) -> None:
        """Every task ended: read the pages still due, then stop."""
        with self._cond:
            self._closed = self._listing_done = True
            self._cond.notify_all()
        self._thread.join()

    def abandon(self) -> None:
        """The push stopped (an interrupt, a bug): stop without reading more."""
        with self._cond:
            self._stopped = self._closed = self._listing_done = True
            self._cond.notify_all()

    def _ahead(self, start: int) -> bool:
        """Whether an edited tile may stand at or after ``start`` in the listing."""
        return not self._listing_done or bool(self._positions and self._positions[-1] >= start)

    def _ready(self, end: int) -> bool:
        """Whether every edited tile before position ``end`` has finished."""
        if self._closed:
            return True
        if self._listed_to < end and not self._listing_done:
            return False
        ids = self._ids
        while self._finished_to < len(ids) and ids[self._finished_to] in self._due:
            self._finished_to += 1  # tasks end roughly in listing order: amortised O(1)
        return self._finished_to == len(ids) or self._positions[self._finished_to] >= end

    def _settled_at(self, start: int, end: int) -> float:
        """When every write on the page [start, end) has settled."""
        low = bisect.bisect_left(self._positions, start)
        high = bisect.bisect_left(self._positions, end)
        dues = [self._due.get(tid) for tid in self._ids[low:high]]
        return max((due for due in dues if due is not None), default=-math.inf)

    def _run(self) -> None:
        clock, sleep = self.client.clock, self.client.sleep
        start = 0
        try:
            pages = self.client.tile_pages(self.cid, count=PAGE)
            while True:
                with self._cond:
                    if self._stopped or not self._ahead(start):
                        return
                    self._cond.wait_for(functools.partial(self._ready, start + PAGE))
                    settled = self._settled_at(start, start + PAGE)
                    while not self._closed and clock() < settled:
                        # woken by each task's end; never sleeps on the client's clock
                        # while tasks run (a fake clock would age their checks)
                        self._cond.wait(settled - clock())
                wait_until(settled, clock, sleep)
                with self._cond:
                    if self._stopped:  # abandoned meanwhile: the push is over
                        return
                read_at = clock()  # the server read the page after this
                page = next(pages, None)
                if page is None:
                    return
                with self._cond:
                    for record in page:
                        due = self._due.get(str(record.get("id")))
                        if due is not None and read_at >= due:
                            self.records[str(record["id"])] = record
                start += len(page)
        except ByocframeError:
            return  # verify reads what is missing


@contextlib.contextmanager
def trailing(client: ClientLike, batch: Batch) -> Iterator[Trail | None]:
    """A `Trail` behind the batch's writes when its checks read the listing, else None.

    It is closed (the pages still due are read) when the block ends, and abandoned
    when the block raises (an interrupt, a bug).
    """
    if batch.page is None:
        yield None
        return
    trail = Trail(client, batch.collection)
    try:
        yield trail
    except BaseException:
        trail.abandon()
        raise
    trail.close()


def due_after(outcome: Outcome) -> float:
    """Seconds after its write before a tile is read back (longer after a slow write)."""
    return SETTLE if outcome.settle is None else outcome.settle


def wait_until(when: float, clock: Clock, sleep: Callable[[float], None]) -> None:
    """Sleep (``sleep``) until ``clock`` reads ``when``."""
    wait = when - clock()
    if wait > 0:
        sleep(wait)
