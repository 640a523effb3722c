"""Run a batch's requests: `send`.

The tasks (`byocframe.edits.writes`: check and write each edited tile, create, delete) run on
a thread pool (`byocframe.edits.tasks`); when the checks read the listing, a `Trail` reads it
again behind the writes for the verify (`byocframe.edits.trail`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, NamedTuple

from byocframe.edits.batch import Batch
from byocframe.edits.tasks import Action, Done, NewRow, Task, run_tasks
from byocframe.edits.trail import trailing
from byocframe.edits.writes import ListingWatcher, creator, deleter, listed_updates, updater
from byocframe.typing import ClientLike

__all__ = ["Sent", "send"]


class Sent(NamedTuple):
    """What `send` did: one `Done` per task, and the written tiles a `Trail` read back."""

    done: list[Done]
    read: dict[str, dict[str, Any]]


def send(
    client: ClientLike,
    batch: Batch,
    *,
    workers: int = 32,
    progress: bool | None = None,
) -> Sent:
    """Run a batch's requests; one `Done` per task, updates first in plan order.

    Examples
    --------
    >>> import byocframe
    >>> import pandas as pd
    >>> from byocframe.edits.batch import prepare
    >>> from byocframe.edits.diff import plan
    >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection)
    ...     gdf.loc[gdf.index[:2], "sensing_time"] += pd.Timedelta(days=1)
    ...     sent = send(client, prepare(plan(gdf), gdf, client), progress=False)
    >>> [(d.action.value, d.outcome.outcome.value) for d in sent.done]
    [('update', 'ok'), ('update', 'ok')]
    """
    with trailing(client, batch) as trail:  # reads behind the writes, when it can
        done = run_tasks(
            _tasks(client, batch, trail),
            workers,
            progress,
            "pushing",
            total=len(batch.updates) + len(batch.creates) + len(batch.deletes),
            on_done=trail.finished if trail is not None else None,
        )
    rank = {u.id: i for i, u in enumerate(batch.updates)}
    done.sort(key=lambda d: rank[str(d.key)] if d.action == Action.UPDATE else len(rank))
    return Sent(done, trail.records if trail is not None else {})


def _tasks(client: ClientLike, batch: Batch, trail: ListingWatcher | None) -> Iterable[Task]:
    """The checks and writes of the updates (read as workers free up), creates, deletes."""
    cid = batch.collection
    checks: Iterable[Task]
    if batch.page is not None:
        checks = listed_updates(client, cid, batch.updates, batch.paths, batch.page, trail)
    else:
        checks = (
            Task(
                Action.UPDATE,
                u.id,
                updater(client, cid, batch.paths[u.id], u, force=batch.force),
            )
            for u in batch.updates
        )
    others = [
        Task(Action.CREATE, NewRow(create.position), creator(client, cid, body, create.cover))
        for create, body in zip(batch.creates, batch.bodies, strict=True)
    ]
    created = frozenset(str(c.path) for c in batch.creates)
    others += [
        Task(Action.DELETE, tid, deleter(client, cid, tid, created, batch.delete_checks.get(tid)))
        for tid in batch.deletes
    ]
    return itertools.chain(checks, others)
