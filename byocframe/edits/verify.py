"""The verify after a push: read the written tiles again, report other writers' changes.

A tile is read back no sooner than `SETTLE` seconds after its write (longer after a slow
write: `byocframe.edits.writes.settle_after`), so a byocframe push that checked the tile before
our write has written by then and one of the two reports the collision
(`docs/design/edits.md`). What a `Trail` already read behind the writes
(`byocframe.edits.send.Sent.read`) is not read again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from byocframe.edits.batch import Batch
from byocframe.edits.equality import covers_equal, same_instant
from byocframe.edits.send import Sent
from byocframe.edits.tasks import Action, Outcome, Result
from byocframe.edits.tilestate import iso, read_state
from byocframe.edits.trail import PAGE, Trail, due_after, wait_until
from byocframe.edits.writes import SETTLE
from byocframe.exceptions import ByocframeError, NotFoundError
from byocframe.typing import ClientLike

__all__ = ["SETTLE", "Trail", "verify"]  # Trail and SETTLE: where byocframe 0.2 had them


def verify(client: ClientLike, batch: Batch, sent: Sent, *, workers: int = 32) -> None:
    """Read the written tiles again; mark those another writer changed meanwhile.

    ``sent.read`` holds records a `Trail` already read back after they settled. The rest
    come from the listing when the frame was loaded whole and that takes fewer
    requests, else tile by tile. A tile is read back no sooner than `SETTLE` seconds
    after its write (the client's ``clock`` and ``sleep``): one seen earlier in the
    listing is read again once that time has passed. A tile that cannot be read back
    stays ``ok``, unverified. The outcomes in ``sent.done`` are changed in place.

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
    ...     gdf.loc[gdf.index[:1], "sensing_time"] += pd.Timedelta(hours=1)
    ...     batch = prepare(plan(gdf), gdf, client)
    ...     sent = send(client, batch)
    ...     theirs = client.get_tile(service.demo_collection, gdf.index[0])
    ...     theirs["sensingTime"] = "2020-01-01T00:00:00Z"  # another writer, meanwhile
    ...     client.update_tile(service.demo_collection, gdf.index[0], theirs)
    ...     verify(client, batch, sent)
    >>> sent.done[0].outcome.outcome.value
    'overwritten'
    """
    cid = batch.collection
    written = {
        str(tid): outcome
        for action, tid, outcome in sent.done
        if action == Action.UPDATE and outcome.outcome == Result.OK and outcome.sent is not None
    }
    if not written:
        return
    clock, sleep = client.clock, client.sleep

    def due(tid: str) -> float:
        return (written[tid].written_at or 0.0) + due_after(written[tid])

    crs = {u.id: u.crs for u in batch.updates}
    ids = batch.loaded
    pages = math.ceil(len(ids) / PAGE) if ids else None
    current: dict[str, dict[str, Any] | None] = {
        tid: record for tid, record in sent.read.items() if tid in written
    }
    for _pass in range(2):  # a second pass when many tiles were listed before they settled
        left = [tid for tid in written if tid not in current]
        if pages is None or not left or pages >= len(left):
            break
        if _pass:
            wait_until(max(due(tid) for tid in left), clock, sleep)
        _verify_listed(client, cid, set(left), due, current)
    missing = [tid for tid in written if tid not in current]

    def get(tid: str) -> dict[str, Any] | None:
        try:
            return client.get_tile(cid, tid)
        except NotFoundError:
            return None

    if missing:
        wait_until(max(due(tid) for tid in missing), clock, sleep)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(missing)))) as pool:
            futures = {tid: pool.submit(get, tid) for tid in missing}
        for tid, future in futures.items():
            try:
                current[tid] = future.result()
            except ByocframeError:
                continue  # unverified: the write itself succeeded
    for tid, outcome in written.items():
        if tid not in current:
            continue
        try:
            _check_written(outcome, current[tid], crs[tid])
        except Exception as err:  # the write landed; an unreadable answer leaves it unverified
            outcome.message = f"written, not verified: the tile read back was unreadable ({err})"


def _verify_listed(
    client: ClientLike,
    cid: str,
    wanted: set[str],
    due: Callable[[str], float],
    current: dict[str, dict[str, Any] | None],
) -> None:
    """Read ``wanted`` tiles from the listing into ``current``, those settled only.

    A tile the listing did not show is left to be read tile by tile (a GET tells a
    deleted tile from one a listing missed), as are the rest after a failed listing.
    """
    seen: set[str] = set()
    try:
        pages = client.tile_pages(cid)
        while True:
            read_at = client.clock()  # the server read the page after this
            page = next(pages, None)
            if page is None:
                break
            for record in page:
                tid = record["id"]
                if tid in wanted:
                    seen.add(tid)
                    if read_at >= due(tid):
                        current[tid] = record
            if len(seen) == len(wanted):
                return  # every tile was seen: the rest of the listing is not needed
    except ByocframeError:
        return


def _check_written(outcome: Outcome, record: dict[str, Any] | None, native: str) -> None:
    """Mark ``outcome`` overwritten when another writer changed a field we wrote."""
    if outcome.sent is None:
        return
    if record is None:
        outcome.outcome = Result.OVERWRITTEN
        outcome.message = "deleted by another writer after our write; reload to see"
        return
    now = read_state(record, native, cover="geometry" in outcome.mine)
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
        outcome.outcome = Result.OVERWRITTEN
        outcome.message = (
            f"another writer changed its {' and '.join(lost)} after our write (the "
            f"server now has sensing_time {iso(now.time)}); reload it, check, push again"
        )
    else:
        outcome.server = record  # what a later deletion of it checks (the write-back)
