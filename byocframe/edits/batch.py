"""A plan made ready to send, without a request: `prepare` makes a `Batch`.

The ids that go into URLs are checked, refused edits stop the push, the frame must come
from the client's service, covers are cut down to what the API takes
(`byocframe.edits.tilestate.limit_points`), and the checks read the listing when that saves
requests (`byocframe.edits.writes.lists_to_check`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import pandas as pd

from byocframe.edits.delete_checks import AsLoaded
from byocframe.edits.plans import Create, Plan, Update
from byocframe.edits.tilestate import TileState, limit_points, request_body
from byocframe.edits.writes import lists_to_check, page_size
from byocframe.exceptions import ValidationError
from byocframe.frame.digests import service_digest
from byocframe.frame.records import ATTRS_KEY
from byocframe.geo.crs import WGS84
from byocframe.ids import check_id
from byocframe.typing import ClientLike

__all__ = ["Batch", "prepare"]


@dataclass(frozen=True)
class Batch:
    """What a push sends, ready to go.

    Attributes
    ----------
    collection : str
        The collection written to.
    updates : list of Update
        The edited tiles, covers cut to `byocframe.edits.tilestate.MAX_COVER_POINTS`.
    paths : dict
        Each edited tile's path (a PUT sends it back).
    creates : list of Create
        The new rows, covers cut as the updates'.
    bodies : list of dict
        The request body of each create.
    deletes : list of str
        The tiles to delete.
    delete_checks : dict
        Of those, the ones to check against their row as loaded before deleting
        (`byocframe.edits.delete_checks`).
    force : bool
        Write without the three-way check.
    page : int or None
        Tiles per listing page when the checks read the listing, else None.
    loaded : list of str or None
        The ids loaded when the frame was loaded whole (the whole collection then), else
        None: the verify may read the listing instead of each tile.
    """

    collection: str
    updates: list[Update]
    paths: dict[str, str]
    creates: list[Create]
    bodies: list[dict[str, Any]]
    deletes: list[str]
    delete_checks: dict[str, AsLoaded]
    force: bool
    page: int | None
    loaded: list[str] | None


def prepare(
    the_plan: Plan,
    frame: pd.DataFrame,
    client: ClientLike,
    *,
    force: bool = False,
    tolerance: float | None = None,
    workers: int = 32,
) -> Batch:
    """Check a plan can be sent by ``client``, and make it a `Batch` (no request).

    Raises
    ------
    ValidationError
        When edits were refused (read-only fields, new rows without a path), an id is
        not a plain id, the collection is unknown, or the frame was loaded from another
        service.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.edits.diff import plan
    >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection)
    ...     gdf.loc[gdf.index[:2], "sensing_time"] += pd.Timedelta(days=1)
    ...     batch = prepare(plan(gdf), gdf, client)
    >>> len(batch.updates), batch.page is None
    (2, True)
    """
    if the_plan.collection:
        check_id(the_plan.collection, "collection")
    for tid in [u.id for u in the_plan.updates] + list(the_plan.deletes):
        check_id(tid, "tile")
    if the_plan.problems:
        raise ValidationError.of_edits(
            the_plan.problems,
            "tile",
            "only sensing_time and the cover (a polygon) can change, and each new row "
            "needs a path of its own",
        )
    if not the_plan.collection:
        raise ValidationError(
            "the frame does not say which collection it belongs to: load it with "
            "byocframe.read_tiles(), or pass collection="
        )
    if the_plan.service and the_plan.service != service_digest(client.base_url):
        source = frame.attrs.get(ATTRS_KEY, {}).get("service") or "another service"
        raise ValidationError(
            f"these tiles were loaded from {source}, not {client.base_url}: push with a "
            "client for the service they came from"
        )
    updates = []
    for update in the_plan.updates:
        cover = limit_points(update.wanted_cover, tolerance, f"tile {update.id!r}")
        updates.append(dataclasses.replace(update, wanted_cover=cover))
    creates = [
        dataclasses.replace(c, cover=limit_points(c.cover, tolerance, f"new row {c.position}"))
        for c in the_plan.creates
    ]
    path = frame["path"].to_numpy()
    whole = the_plan.loaded_ids if the_plan.whole and the_plan.loaded_ids else None
    listed = not force and lists_to_check(
        len(updates),
        len(whole) if whole is not None else None,
        paced=client.requests_per_minute is not None,
        workers=workers,
    )
    return Batch(
        collection=the_plan.collection,
        updates=updates,
        paths={u.id: str(path[u.position]) for u in updates},
        creates=creates,
        bodies=[
            request_body(str(c.path), TileState(c.wanted_time, c.cover), WGS84) for c in creates
        ],
        deletes=list(the_plan.deletes),
        delete_checks=dict(the_plan.delete_checks),
        force=force,
        page=page_size(workers) if listed else None,
        loaded=whole,
    )
