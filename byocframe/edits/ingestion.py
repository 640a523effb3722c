"""Send tiles back to ingestion and wait for it: `reingest`, `wait_for_ingestion`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import pandas as pd

from byocframe.client.api import Client, resolve_client
from byocframe.exceptions import ByocframeError, ValidationError
from byocframe.frame.convert import tiles_from_records
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.tokens import loaded_state
from byocframe.geo.crs import WGS84
from byocframe.ids import CollectionLike, check_id
from byocframe.progress import ProgressBar
from byocframe.typing import AnyClient, CrsLike

__all__ = ["IngestionTimeout", "reingest", "wait_for_ingestion"]


class IngestionTimeout(ByocframeError, TimeoutError):
    """Tiles were still being ingested when `wait_for_ingestion` gave up.

    Attributes
    ----------
    pending : list of str
        The ids of the tiles still in progress.
    """

    def __init__(self, message: str, pending: list[str]):
        super().__init__(message)
        self.pending = pending


def _collection_of(frame: pd.DataFrame) -> str:
    cid = frame.attrs.get(ATTRS_KEY, {}).get("collection")
    if not cid and "loaded" in frame.columns and len(frame):
        state = loaded_state(frame)
        named = [c for c in state.collection[state.present] if c]
        cid = named[0] if named else None
    if not cid:
        raise ValidationError(
            "the frame does not say which collection it belongs to; load it "
            "with byocframe.read_tiles()"
        )
    return str(cid)


def reingest(
    frame: pd.DataFrame, client: AnyClient, *, workers: int = 8, progress: bool | None = None
) -> pd.DataFrame:
    """Send every tile of the frame (e.g. the FAILED ones) back to ingestion.

    Returns
    -------
    pandas.DataFrame
        Indexed by tile id: ``action`` (``reingest``), ``outcome`` (``ok`` or
        ``failed``), ``status_code`` and ``message``.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=200) as service:
    ...     client = service.client()
    ...     gdf = byocframe.read_tiles(client, service.demo_collection, status="FAILED")
    ...     result = reingest(gdf, client)
    >>> set(result["outcome"])
    {'ok'}
    """
    from byocframe.edits.tasks import Action, Task, run_tasks, task_result

    client = resolve_client(client)
    cid = _collection_of(frame)
    unnamed = [pos for pos, tid in enumerate(frame.index) if not isinstance(tid, str)]
    if unnamed:
        raise ValidationError(
            f"row {unnamed[0]} has no tile id (a new row not pushed yet?): push it first, "
            "or leave it out"
        )
    for tid in frame.index:
        check_id(tid, "tile")
    tasks = [Task(Action.REINGEST, tid, _reingester(client, cid, str(tid))) for tid in frame.index]
    return task_result(run_tasks(tasks, workers, progress, "reingesting"))


def _reingester(client: Client, cid: str, tid: str) -> Callable[[], Any]:
    from byocframe.edits.tasks import Outcome, Result

    def run() -> Outcome:
        client.reingest_tile(cid, tid)
        return Outcome(Result.OK, 204)

    return run


def wait_for_ingestion(
    client: AnyClient,
    collection: CollectionLike,
    ids: Iterable[str],
    *,
    timeout: float = 600.0,
    poll: float = 2.0,
    progress: bool | None = None,
    crs: CrsLike = WGS84,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> gpd.GeoDataFrame:
    """Poll tiles until each is INGESTED or FAILED; return them as a GeoDataFrame.

    Parameters
    ----------
    client : Client, sentinelhub-py SHConfig or SentinelHubBYOC
    collection : str, dict or sentinelhub-py ``ByocCollection``
        The collection or its id.
    ids : iterable of str
        The tiles to wait for.
    timeout, poll : float
        Seconds to wait in all, and between polls.
    progress : bool, optional
        A progress bar (tqdm); by default when interactive.
    crs : str or pyproj.CRS
        CRS of the returned frame.
    sleep, clock : callable
        How to wait and tell the time (tests pass fakes).

    Raises
    ------
    IngestionTimeout
        Naming the tiles still in progress after ``timeout`` seconds.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=50) as service:
    ...     client = service.client()
    ...     tile = client.create_tile(service.demo_collection, {"path": "new/(BAND).tif"})
    ...     done = wait_for_ingestion(client, service.demo_collection, [tile["id"]], poll=0.1)
    >>> done["status"].tolist(), done["failed_ingestion_cause"].str[:16].tolist()
    (['FAILED'], ['File s3://byocfr'])
    """
    client = resolve_client(client)
    pending = list(dict.fromkeys(str(i) for i in ids))
    final: dict[str, dict[str, Any]] = {}
    deadline = clock() + timeout
    with (
        ThreadPoolExecutor(max_workers=8) as pool,
        ProgressBar(len(pending), progress, "ingesting") as bar,
    ):
        while pending:
            records = list(pool.map(lambda t: client.get_tile(collection, t), pending))
            still = []
            for tid, record in zip(pending, records, strict=True):
                if record.get("status") in ("INGESTED", "FAILED"):
                    final[tid] = record
                else:
                    still.append(tid)
            bar.update(len(pending) - len(still))
            pending = still
            if pending and clock() > deadline:
                raise IngestionTimeout(
                    f"{len(pending)} tile(s) still in ingestion after {timeout:g} s: "
                    + ", ".join(pending[:10])
                    + "; wait longer (timeout=) or check the service",
                    pending,
                )
            if pending:
                sleep(poll)
    return tiles_from_records(list(final.values()), crs=crs)
