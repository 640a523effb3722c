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

import warnings
from collections.abc import Collection

import pandas as pd

from byocframe.client.api import resolve_client
from byocframe.edits.batch import prepare
from byocframe.edits.diff import plan_edits
from byocframe.edits.dry_run import PLAN_RATES, dry_run_result, estimate_requests
from byocframe.edits.edited import read_edited
from byocframe.edits.plans import Plan
from byocframe.edits.send import send
from byocframe.edits.tasks import task_result
from byocframe.edits.verify import verify
from byocframe.edits.writeback import write_back
from byocframe.exceptions import ByocframeWarning, ValidationError
from byocframe.frame.records import ATTRS_KEY, NAT
from byocframe.typing import AnyClient

__all__ = ["MAX_DELETE_SHARE", "MIN_DELETE_LIMIT", "PLAN_RATES", "estimate_requests", "push"]

#: Most of the loaded tiles one push may delete without ``max_deletes=``: a push that
#: would delete more (``frame.dropna()`` keeps no row of a frame where every tile misses
#: one text) is refused before anything is sent. Raise it with
#: ``byocframe.edits.route.MAX_DELETE_SHARE = ...``, or pass ``max_deletes=``.
MAX_DELETE_SHARE = 0.5
#: Deletions always allowed without ``max_deletes=``, whatever the share (a small load).
MIN_DELETE_LIMIT = 10


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
    max_deletes: int | None = None,
    clear_times: bool = False,
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
        With ``delete_missing``, each tile deleted is read first: one whose path,
        status, ingestion start, sensing time, cover or additional data changed on
        the server since it was loaded (as its row in ``original`` says, else as the
        load recorded in ``frame.attrs``) is a ``conflict``, not deleted.
    tolerance : float, optional
        Simplification tolerance (in the tile's CRS units) for covers over 100 points;
        found automatically, with a warning, when not given.
    collection : str, optional
        The collection, when the frame does not know it (e.g. built from records).
    delete_only : collection of str, optional
        With ``delete_missing``, delete only these of the tiles dropped from the frame;
        the other dropped tiles stay (e.g. the rows a pandas filter left out). A tile
        named here that the push would not delete (its row is still in the frame, or
        it is not a loaded tile id) is refused.
    max_deletes : int, optional
        Most tiles this push may delete. By default more than `MAX_DELETE_SHARE` (half)
        of the loaded tiles, and more than `MIN_DELETE_LIMIT`, is refused before
        anything is sent: give the count you mean (``byocframe.changes(frame,
        deleted=True)`` lists them). Deletions named with ``delete_only`` are meant.
    clear_times : bool
        Send a ``NaT`` sensing time of a loaded tile that had one (it clears the time,
        and the collection becomes partly timeless). By default such a push is refused
        before anything is sent: a misaligned assignment (``frame["sensing_time"] =
        table["sensing_time"]`` with another index) gives ``NaT`` to every row.

    Returns
    -------
    pandas.DataFrame
        Indexed by tile id (the new id for created tiles): ``action`` (``update``,
        ``create``, ``delete``), ``outcome`` (``ok``: written; ``unchanged``: the server
        already held it, nothing written; ``conflict``: someone else changed the same
        field, nothing written; ``overwritten``: written, then changed by another writer;
        ``failed``; ``skipped``: dry run), ``status_code`` and ``message``. When the
        frame could not be updated after sending (a warning says so), its
        ``attrs["byocframe"]["written_back"]`` is False.

    Raises
    ------
    ValidationError
        When read-only fields were edited, new rows lack a path, the frame was loaded
        from another service or collection, or the push would delete more tiles than
        ``max_deletes`` or clear sensing times without ``clear_times``; nothing is sent.

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
    else:  # a dry run refuses as the push would: it foresees the refusal
        _require_delete_limit(the_plan, max_deletes)
    if not clear_times:
        _require_no_clears(the_plan)
    batch = prepare(the_plan, frame, client, force=force, tolerance=tolerance, workers=workers)
    if dry_run:
        return dry_run_result(the_plan, batch, client)
    sent = send(client, batch, workers=workers, progress=progress)
    verify(client, batch, sent, workers=workers)
    result = task_result(sent.done)
    try:
        write_back(frame, the_plan, batch, sent.done, client.base_url, original)
    except Exception as err:  # the writes happened: their result must not be lost
        result.attrs.setdefault(ATTRS_KEY, {})["written_back"] = False
        warnings.warn(
            f"the push was sent (see its result) but the frame could not be updated "
            f"({type(err).__name__}: {err}): load the tiles again before editing further",
            ByocframeWarning,
            stacklevel=2,
        )
    return result


def _require_delete_limit(the_plan: Plan, max_deletes: int | None) -> None:
    """Refuse more deletions than ``max_deletes``, or by default than half the load."""
    count = len(the_plan.deletes)
    if not count:
        return
    loaded = len(the_plan.loaded_ids or [])
    if max_deletes is None:
        limit = max(MIN_DELETE_LIMIT, int(MAX_DELETE_SHARE * loaded))
        why = (
            f"more than {MAX_DELETE_SHARE:.0%} of the {loaded:,} tiles loaded "
            "(byocframe.edits.route.MAX_DELETE_SHARE)"
        )
    else:
        limit, why = max_deletes, f"more than max_deletes={max_deletes}"
    if count > limit:
        raise ValidationError(
            f"this push would delete {count:,} tiles, {why} (e.g. {the_plan.deletes[0]!r}; "
            f"byocframe.changes(frame, deleted=True) lists them): if you mean it, pass "
            f"max_deletes={count}; nothing was sent"
        )


def _require_no_clears(the_plan: Plan) -> None:
    """Refuse a push that would clear the sensing time of a loaded tile that had one."""
    cleared = [u.id for u in the_plan.updates if u.wanted_time == NAT and u.base_time != NAT]
    if cleared:
        raise ValidationError(
            f"this push would clear the sensing time of {len(cleared):,} tile(s) (e.g. "
            f"{cleared[0]!r}: its sensing_time is NaT); a misaligned assignment gives NaT to "
            "every row: if clearing is meant, pass clear_times=True (--clear-times on the "
            "command line); nothing was sent"
        )
