"""What a push would send, without sending it: `dry_run_result`, `estimate_requests`."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from byocframe.edits.batch import Batch
from byocframe.edits.plans import Plan
from byocframe.edits.tasks import Action, Done, NewRow, Outcome, Result, task_result
from byocframe.frame.records import ATTRS_KEY, format_datetimes
from byocframe.typing import ClientLike

__all__ = ["PLAN_RATES", "dry_run_result", "estimate_requests"]

#: Sentinel Hub plans allow this many requests a minute (the estimate's range when no
#: rate is set).
PLAN_RATES = (300, 1200)


def dry_run_result(the_plan: Plan, batch: Batch, client: ClientLike) -> pd.DataFrame:
    """What would be sent: one row per tile, each field's change, and the cost.

    The cost is in ``result.attrs["byocframe"]["summary"]``.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.edits.batch import prepare
    >>> from byocframe.edits.diff import plan
    >>> with byocframe.local_service(demo=True, demo_tiles=5) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection)
    ...     gdf.loc[gdf.index[:1], "sensing_time"] += pd.Timedelta(hours=1)
    ...     the_plan = plan(gdf)
    ...     result = dry_run_result(the_plan, prepare(the_plan, gdf, client), client)
    >>> result["message"].str.startswith("would update: sensing_time: ").tolist()
    [True]
    """
    diffs: dict[Any, list[str]] = {}
    for row in the_plan.changes.itertuples():
        if row.field == "geometry":
            text = "geometry edited"
        elif row.action == "delete":
            text = "delete"
        else:
            text = f"{row.field}: {_show(row.old)} -> {_show(row.new)}"
        diffs.setdefault(row.id, []).append(text)
    news = iter(
        c for c in the_plan.changes.itertuples() if c.action == "create" and c.field == "path"
    )
    keys: list[tuple[Action, str | NewRow]] = [(Action.UPDATE, u.id) for u in batch.updates]
    keys += [(Action.CREATE, NewRow(c.position)) for c in batch.creates]
    keys += [(Action.DELETE, tid) for tid in batch.deletes]
    outcomes = []
    for action, key in keys:
        if action == Action.CREATE:
            message = f"would create {next(news).new}"
        else:
            message = f"would {action}: " + "; ".join(diffs.get(key, []))
        outcomes.append(Done(action, key, Outcome(Result.would(action), message=message)))
    result = task_result(outcomes)
    loaded = len(batch.loaded) if batch.loaded is not None else None
    requests = estimate_requests(the_plan, batch.force, loaded, batch.page)
    result.attrs[ATTRS_KEY] = {"summary": _summary(the_plan, requests, client)}
    return result


def _show(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "none"
    if isinstance(value, pd.Timestamp):
        return format_datetimes(pd.Series([value]))[0] or "none"
    return str(value)


def estimate_requests(
    the_plan: Plan, force: bool, loaded: int | None, page: int | None = None
) -> int:
    """Requests a push of this plan makes when nothing fails (checks, writes, verify).

    ``loaded``: the collection's size when the frame was loaded whole (else None);
    ``page``: the checks read the listing, this many tiles a page, instead of each tile.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.edits.diff import plan
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(300, seed=1))
    >>> gdf.loc[gdf.index[:200], "sensing_time"] += pd.Timedelta(hours=1)
    >>> estimate_requests(plan(gdf), False, None), estimate_requests(plan(gdf), False, 300, 32)
    (600, 213)
    """
    updates = len(the_plan.updates)
    if force:
        checks = 0
    elif page is not None and loaded is not None:
        checks = min(updates, math.ceil(loaded / page))
    else:
        checks = updates
    verify = updates if loaded is None else min(updates, math.ceil(loaded / 100))
    # a deletion reads its tile first when it has a check, or when the push creates tiles
    looked_up = sum(1 for t in the_plan.deletes if the_plan.creates or t in the_plan.delete_checks)
    return updates + checks + verify + len(the_plan.creates) + len(the_plan.deletes) + looked_up


def _summary(the_plan: Plan, requests: int, client: ClientLike) -> str:
    counts = (
        f"would update {len(the_plan.updates):,} / would create {len(the_plan.creates):,} / "
        f"would delete {len(the_plan.deletes):,}"
    )
    rate = client.requests_per_minute
    if rate:
        minutes = requests / float(rate)
        timing = f"about {_duration(minutes * 60)} at {float(rate):,.0f} requests a minute"
    else:
        low, high = PLAN_RATES
        timing = (
            f"{_duration(requests / high * 60)} to {_duration(requests / low * 60)} at "
            f"{low:,} to {high:,} requests a minute (set requests_per_minute for your plan)"
        )
    return f"{counts}: {requests:,} requests, {timing}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
