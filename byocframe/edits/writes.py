"""The requests behind one tile of a push: check and write; and create, delete.

An update is checked against the server's current record just before it is written
(`updater`). The record comes from a GET of that tile, or, when most tiles of the
collection are being edited, from the listing page that holds it (`listed_updates`):
one request reads many tiles, and each tile is written at most `MAX_READ_AGE` seconds
after its page was read (an older read is repeated with a GET). `byocframe.edits.verify`
then reads the written tiles again. `docs/design/edits.md` explains the window that
remains.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Container, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from byocframe.edits.delete_checks import AsLoaded
from byocframe.edits.equality import same_instant, same_shape
from byocframe.edits.plans import Update
from byocframe.edits.tasks import Action, Done, Outcome, Result, Task
from byocframe.edits.tilestate import (
    TileState,
    changed_fields,
    describe_clash,
    merge,
    micros,
    read_state,
    request_body,
    same_state,
)
from byocframe.exceptions import (
    ByocframeError,
    ConflictError,
    NotFoundError,
    ServerError,
    StaleCheckError,
    TransportError,
)
from byocframe.geo.crs import WGS84
from byocframe.typing import ClientLike

__all__ = [
    "LISTING_SHARE",
    "MAX_READ_AGE",
    "MAX_SETTLE",
    "SETTLE",
    "ListingWatcher",
    "creator",
    "deleter",
    "listed_updates",
    "lists_to_check",
    "page_size",
    "settle_after",
    "updater",
]

#: Seconds after its write before a tile is verified (`byocframe.edits.verify`). Longer than
#: `MAX_READ_AGE`, so a byocframe push whose check came before our write has written by
#: then: the verify sees its value and one of the two pushes reports the collision.
SETTLE = 0.5
#: Seconds a tile's record stays good for its check: an older read (a listing page the
#: tile waited behind) is repeated with a GET just before the write.
MAX_READ_AGE = 0.25
#: Checks of one tile before a push gives up on writing it (each check too old by the
#: time its write could be sent).
MAX_CHECKS = 5
#: Longest wait between a write and its verify (`settle_after`), however slow the write.
MAX_SETTLE = 10.0
#: A push reads its checks from the listing when that takes at most this share of the
#: requests one GET per edited tile would.
LISTING_SHARE = 0.2


class ListingWatcher(Protocol):
    """Told what the checks read of the listing, and each task's end (`verify.Trail`)."""

    def listed(self, ids: list[str], edited: Container[str]) -> None:
        """The checks read the next page of the listing: ``ids`` in order."""

    def listing_done(self) -> None:
        """The checks read no more of the listing."""

    def finished(self, done: Done) -> None:
        """A task ended (`byocframe.edits.tasks.run_tasks`'s ``on_done``)."""


def settle_after(trip: float) -> float:
    """Seconds between a write's answer and its verify, for a write that took ``trip``.

    `SETTLE`, or longer when requests are slow. Another byocframe push's write lands
    at most `MAX_READ_AGE` after its check was answered, plus the time its check's
    answer and its write's request spend in transit, about one round trip: the verify
    waits for twice the round trip our own write took, so a slow service (or a busy
    machine) does not open the window in `docs/design/edits.md` (at most `MAX_SETTLE`).

    Examples
    --------
    >>> settle_after(0.03), settle_after(0.4), settle_after(60.0)
    (0.5, 1.05, 10.0)
    """
    return min(MAX_SETTLE, max(SETTLE, MAX_READ_AGE + 2 * trip))


def page_size(workers: int) -> int:
    """Tiles per listing page when a push reads its checks from the listing.

    One tile per worker (10 to 100), so a tile waits little between its page and its
    write.

    Examples
    --------
    >>> page_size(32), page_size(4), page_size(500)
    (32, 10, 100)
    """
    return max(10, min(100, workers))


def lists_to_check(updates: int, loaded: int | None, paced: bool, workers: int) -> bool:
    """Whether a push reads the tiles to check from the listing instead of one by one.

    Only for a frame loaded whole (``loaded`` tiles), when the listing takes at most
    `LISTING_SHARE` of the requests of one GET per edited tile, and with no pace set (a
    paced page of writes would outlive `MAX_READ_AGE`).

    Examples
    --------
    >>> lists_to_check(2000, 2100, paced=False, workers=32)
    True
    >>> lists_to_check(2000, 200_000, paced=False, workers=32)
    False
    """
    if loaded is None or paced or not updates:
        return False
    return math.ceil(loaded / page_size(workers)) <= LISTING_SHARE * updates


def updater(
    client: ClientLike,
    cid: str,
    path: str,
    update: Update,
    *,
    force: bool = False,
    record: dict[str, Any] | None = None,
    read_at: float | None = None,
) -> Callable[[], Outcome]:
    """The task that checks, merges and writes one edited tile.

    ``record`` is the tile as a listing page read at ``read_at`` (the client's
    ``clock``) showed it; without it, or when it is older than `MAX_READ_AGE`, the tile
    is read with a GET first. A write held back (pacing, a 429 pause, a retry) until its
    check is older than `MAX_READ_AGE` is not sent: the tile is checked again.
    """
    clock = client.clock
    base = TileState(update.base_time, update.base_cover)
    wanted = TileState(update.wanted_time, update.wanted_cover)

    def run() -> Outcome:
        if force:
            sent_at = clock()
            client.update_tile(cid, update.id, request_body(path, wanted, update.crs))
            return Outcome(
                Result.OK,
                204,
                "written without checking (force)",
                sent=wanted,
                mine=("sensing_time", "geometry"),
                written_at=clock(),
                settle=settle_after(clock() - sent_at),
            )
        current, checked_at = record, read_at
        first: TileState | None = None  # the server's state at the first check
        uncertain = False  # a PUT of ours went out without a usable answer
        for _check in range(MAX_CHECKS):
            turns: list[float | None] = [None, None]
            if current is None or checked_at is None or clock() - checked_at > MAX_READ_AGE:
                turns = client.reserve_turns(2)  # paced: the check and its write together
                try:
                    current = client.get_tile(cid, update.id, at=turns[0])
                except NotFoundError:
                    return _gone()
                checked_at = clock()  # held from here (the GET's own trip comes on top)
            server = read_state(current, update.crs)
            if first is None:
                first = server
            merged, clashes = merge(base, server, wanted, update.crs)
            if clashes:
                detail = "; ".join(describe_clash(n, base, server, wanted) for n in clashes)
                return Outcome(
                    Result.CONFLICT,
                    message=f"{detail}: reload it, or push with force=True to overwrite",
                )
            mine = changed_fields(merged, first, update.crs)
            if same_state(merged, server, update.crs):
                if uncertain and mine:  # our earlier PUT landed after all
                    note = "written (confirmed by reading it again)"
                    return Outcome(Result.OK, 204, note, sent=merged, mine=mine, written_at=clock())
                return Outcome(
                    Result.UNCHANGED,
                    message="the server already holds it",
                    sent=merged,
                    server=current,
                )
            sent_at = max(clock(), turns[1] or 0.0)  # a paced write waits for its turn
            try:
                client.update_tile(
                    cid,
                    update.id,
                    request_body(path, merged, update.crs),
                    at=turns[1],
                    fresh_until=max(checked_at, turns[1] or checked_at) + MAX_READ_AGE,
                )
            except StaleCheckError as err:
                uncertain = uncertain or err.sent
                current = None  # held back too long: check again before writing
                continue
            written_at = clock()
            kept = changed_fields(merged, wanted, update.crs)
            note = f"kept the server's {' and '.join(kept)}" if kept else ""
            settle = settle_after(written_at - sent_at)
            return Outcome(
                Result.OK, 204, note, sent=merged, mine=mine, written_at=written_at, settle=settle
            )
        return Outcome(
            Result.FAILED,
            message=f"checked {MAX_CHECKS} times, each time too old to write by the time its "
            "turn came (a slow pace or long 429 pauses): push again",
        )

    return run


def _gone() -> Outcome:
    return Outcome(
        Result.CONFLICT, 404, "the tile was deleted on the server: reload, or drop the row"
    )


def listed_updates(
    client: ClientLike,
    cid: str,
    updates: list[Update],
    paths: dict[str, str],
    count: int = 100,
    trail: ListingWatcher | None = None,
) -> Iterator[Task]:
    """Update tasks whose check reads the collection's listing, page by page.

    Meant for `byocframe.edits.tasks.run_tasks`, which reads the next task only when its
    workers have room, so each tile is written soon after its page was read. The next
    page is asked for while this page's tasks are handed out (one page ahead, never
    more), so the workers do not wait for each page's round trip. Paging stops once
    every edited tile was seen; tiles the listing did not show (deleted, or the listing
    failed part way) are read one by one. A ``trail`` is told each page's order.
    """
    pending = {u.id: u for u in updates}
    pages = client.tile_pages(cid, count=count)

    def read() -> tuple[list[dict[str, Any]], float] | None:
        page = next(pages, None)
        return None if page is None else (page, client.clock())  # held from its answer

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="byocframe-listing") as ahead:
        coming: Future[tuple[list[dict[str, Any]], float] | None] | None = ahead.submit(read)
        try:
            while coming is not None and (got := coming.result()) is not None:
                page, read_at = got
                if trail is not None:
                    trail.listed([str(r.get("id")) for r in page], edited=pending)
                found = [(r, pending.pop(str(r.get("id")), None)) for r in page]
                coming = ahead.submit(read) if pending else None  # edits further on
                for record, update in found:
                    if update is not None:
                        task = updater(
                            client, cid, paths[update.id], update, record=record, read_at=read_at
                        )
                        yield Task(Action.UPDATE, update.id, task)
        except ByocframeError:
            pass  # the tiles not seen yet are read one by one below
        finally:
            if coming is not None:
                coming.cancel()
            if trail is not None:
                trail.listing_done()
    for update in list(pending.values()):
        yield Task(Action.UPDATE, update.id, updater(client, cid, paths[update.id], update))


def _same_cover_as(record: dict[str, Any], wanted: Any) -> bool:
    """Whether a tile's cover is ``wanted`` (CRS84), compared by area."""
    if wanted is None:
        return True  # we asked for no cover: the service chose one
    have = read_state(record, WGS84).cover
    if have is None:
        return False
    return same_shape(have, wanted)


def creator(
    client: ClientLike, cid: str, body: dict[str, Any], wanted_cover: Any
) -> Callable[[], Outcome]:
    """The task that creates one tile, safe to retry: a lost answer never duplicates it."""
    wanted_time = micros(body.get("sensingTime"))

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
        same_time = same_instant(micros(existing.get("sensingTime")), wanted_time)
        if not same_time or not _same_cover_as(existing, wanted_cover):
            return Outcome(
                Result.CONFLICT,
                409,
                f"a tile with this path already exists ({existing['id']}) with another "
                f"{'sensing time' if not same_time else 'cover'}: edit that tile instead",
                id=existing["id"],
            )
        return Outcome(
            Result.OK if ours else Result.UNCHANGED,
            201 if ours else 200,
            note,
            id=existing["id"],
            server=existing,
        )

    def run() -> Outcome:
        last = None
        for _attempt in range(6):
            try:
                created = client.create_tile(cid, body)
                return Outcome(Result.OK, 201, id=created["id"], server=created)
            except (TransportError, ServerError) as err:
                # the create may have reached the server before the answer was lost:
                # look for it by path before trying again, so a retry never duplicates
                last = type(err).__name__
                found = adopt(f"created (confirmed by path after {last})", ours=True)
                if found is not None:
                    return found
                client.sleep(0.02)  # the client's seam: tests do not wait
            except ConflictError as err:
                if last is not None:
                    note = f"created (confirmed by path after {last})"
                else:
                    note = "a tile with this path was already there"
                found = adopt(note, ours=last is not None)
                if found is not None:
                    return found
                return Outcome(Result.CONFLICT, 409, err.message)
        return Outcome(Result.FAILED, message=f"create failed 6 times (last: {last}): push again")

    return run


def deleter(
    client: ClientLike,
    cid: str,
    tid: str,
    created: Collection[str] = (),
    loaded: AsLoaded | None = None,
) -> Callable[[], Outcome]:
    """The task that deletes one tile (already gone counts as ``unchanged``).

    ``created``: the paths the same push creates. A tile with one of them is not
    deleted: the frame replaced its row by a new one (dropped, added again), whose
    create meets that tile's path and fails; deleting it too would leave the path with
    no tile. ``loaded``: the tile as its row was loaded; one that changed on the server
    since (reingested, say) is a conflict, not deleted. The tile is looked up first (one
    request) only when the push creates tiles or ``loaded`` is given.
    """

    def run() -> Outcome:
        try:
            record = client.get_tile(cid, tid) if created or loaded is not None else None
            changed = loaded.changed(record) if loaded is not None and record else []
            if changed:
                return Outcome(
                    Result.CONFLICT,
                    message=f"not deleted: its {', '.join(changed)} changed on the server "
                    "since it was loaded; load the tiles again and look at it first",
                )
            path = str(record.get("path")) if created and record is not None else None
            if path is not None and path in created:
                return Outcome(
                    Result.FAILED,
                    409,
                    f"not deleted: a new row of this push has its path {path!r}; edit "
                    "this tile's row instead of replacing it with a new one",
                )
            client.delete_tile(cid, tid)
        except NotFoundError:
            return Outcome(Result.UNCHANGED, 404, "already gone")
        return Outcome(Result.OK, 204)

    return run
