"""Send the edits of a tile frame to the service, safely: `push`.

The API has no batch endpoint and no conditional PUT, so every tile goes through three
steps, from a thread pool sharing one client (`byocframe.edits.writes`):

1. **check**: the tile's server record is read just before it is written (with a GET,
   or from the listing page that holds it when most of the collection is edited), and
   a three-way comparison (loaded, server, wanted) decides per field: a field only we
   changed is written, a field only the server changed is kept, a field both changed to
   different values is a ``conflict`` (nothing is sent). A tile that already holds what
   we want is ``unchanged`` (a rerun, or a resume after a crash, sends nothing for it).
2. **write**: one PUT with the merged state.
3. **verify** (`byocframe.edits.verify`): each written tile is read again, no sooner than
   half a second after its write (from the listing, behind the writes, when the checks
   came from it); any whose server state is no longer ours was changed by another
   writer meanwhile and is reported as ``overwritten``.

`push` itself is the whole route, one stage per module, each handing the next what it
made: read the frame (`byocframe.edits.edited`), plan (`byocframe.edits.diff`), prepare
(`byocframe.edits.batch`), send (`byocframe.edits.send`), verify
(`byocframe.edits.verify`), write back (`byocframe.edits.writeback`). No stage calls
back into an earlier one.
`docs/design/edits.md` explains the window that remains.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd

from byocframe.client.api import resolve_client
from byocframe.edits.batch import prepare
from byocframe.edits.diff import plan_edits
from byocframe.edits.dry_run import PLAN_RATES, dry_run_result, estimate_requests
from byocframe.edits.edited import read_edited
from byocframe.edits.send import send
from byocframe.edits.tasks import task_result
from byocframe.edits.verify import verify
from byocframe.edits.writeback import write_back
from byocframe.typing import AnyClient

__all__ = ["PLAN_RATES", "estimate_requests", "push"]


def push(
    frame: pd.DataFrame,
    client: AnyClient,
    *,
    dry_run: bool = False,
    workers: int = 32,
    delete_missing: bool = False,
    force: bool = False,
    progress: bool | None = None,
    original: pd.DataFrame | None = None,
    tolerance: float | None = None,
    collection: str | None = None,
    delete_only: Collection[str] | None = None,
) -> pd.DataFrame:
    """Send the edits of a tile frame to the service, one request per tile.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame from `byocframe.read_tiles` or `byocframe.read_file`, edited with
        pandas (rows may have been filtered, dropped or added with ``pd.concat``). After
        a push that sent something it is updated in place, and only so (a dry run, or a
        push that raises, leaves it as it was), so that pushing twice sends nothing new:

        * each row whose update is ``ok`` or ``unchanged`` takes what the server now
          holds in ``sensing_time``, the geometry, ``native_cover`` and ``native_crs``;
        * each created row takes its new tile id as its index and ``status``
          ``WAITING``, and the same four columns;
        * those rows get a new ``loaded`` token, and, with ``original``, rows that had
          lost theirs take ``original``'s;
        * ``attrs["byocframe"]`` names the collection and service, and lists the loaded
          ids without the deleted tiles and with the created ones.

        No other column, row or value changes (`byocframe.edits.writeback`).
    client : Client, sentinelhub-py SHConfig or SentinelHubBYOC
        Anything `byocframe.typing.AnyClient` names.
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
        With ``delete_missing``, each tile deleted that has a row in it is read first:
        one whose path, status, ingestion start or additional data changed on the
        server since it was loaded is a ``conflict``, not deleted.
    tolerance : float, optional
        Simplification tolerance (in the tile's CRS units) for covers over 100 points;
        found automatically, with a warning, when not given.
    collection : str, optional
        The collection, when the frame does not know it (e.g. built from records).
    delete_only : collection of str, optional
        With ``delete_missing``, delete only these of the tiles dropped from the frame;
        the other dropped tiles stay (e.g. the rows a pandas filter left out).

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
    edited = read_edited(frame, original=original, collection=collection, ids=delete_missing)
    the_plan = plan_edits(edited, deleted=delete_missing)
    if delete_only is not None:
        the_plan = the_plan.only_deleting(delete_only)
    batch = prepare(the_plan, frame, client, force=force, tolerance=tolerance, workers=workers)
    if dry_run:
        return dry_run_result(the_plan, batch, client)
    sent = send(client, batch, workers=workers, progress=progress)
    verify(client, batch, sent, workers=workers)
    write_back(frame, the_plan, batch, sent.done, client.base_url)
    return task_result(sent.done)
