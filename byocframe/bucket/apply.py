"""Carry out a `byocframe.bucket.reconcile.reconcile` plan: create, reingest, delete.

`apply_plan` sends what the plan holds and nothing else, and only what it can check:
rows it could not carry out as written, tiles the frame lacks, creates the candidates
lack and deletions from a listing of another bucket than the collection's are refused
before anything is sent; each deletion reads its tile first (`byocframe.edits.delete_checks`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import pandas as pd

from byocframe.bucket.access import Bucket, open_bucket
from byocframe.bucket.adding import add_tiles
from byocframe.bucket.evidence import same_bucket
from byocframe.bucket.paths import SameFiles, key_spellings
from byocframe.exceptions import BucketError, ValidationError
from byocframe.frame.records import ATTRS_KEY
from byocframe.typing import AnyClient, ClientLike, S3Like

__all__ = ["HEAD_WORKERS", "apply_plan"]

#: Most HEAD requests `apply_plan` keeps in flight at once when it looks for the files of
#: the plan's deletions again, each on a connection of the S3 client's pool (16 in a
#: client byocframe makes, as `byocframe.read_bucket`'s ``workers``); never more than
#: that pool holds (a boto3 client given with a smaller pool would open and discard
#: connections beyond it, logging "Connection pool is full"). Set it to 1
#: (``byocframe.bucket.apply.HEAD_WORKERS = 1``) for one request at a time.
HEAD_WORKERS = 16


def apply_plan(
    plan: pd.DataFrame,
    tiles: gpd.GeoDataFrame,
    client: AnyClient,
    *,
    candidates: gpd.GeoDataFrame | None = None,
    s3: S3Like | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    r"""Carry out a `byocframe.reconcile` plan: create, reingest and delete tiles.

    Creates and deletes go through `byocframe.push` (safe under faults); tiles
    are deleted only where the plan says ``delete`` (``reconcile(delete=True)``).
    ``candidates`` (from `read_bucket` with the pattern) give new tiles their sensing
    times and covers; without them new tiles get the path only.

    Before anything is sent, the plan is checked against ``tiles`` (the frame it was
    made from: each row's id, path and, for a deletion, its ``loaded`` token) and a
    deletion against the collection's own bucket; then the files a deletion found gone
    are looked for again (one HEAD each, with ``s3``, a boto3 client, or one from the
    environment at the listing's endpoint): a tile whose files are back is kept, with
    outcome ``conflict``. Each tile is read once more just before it is deleted.

    Returns
    -------
    DataFrame
        One row per request, as `byocframe.push` returns.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.emulator.cogs import write_cog
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_cog(f"{folder}/t/2024-06-01/B01.tif")
    >>> with byocframe.local_service(s3=True) as service:
    ...     _ = service.s3.upload_folder(folder, "doc-apply-plan")
    ...     client = service.client()
    ...     cid = client.create_collection({"name": "d", "s3Bucket": "doc-apply-plan"})["id"]
    ...     tiles = byocframe.read_tiles(client, cid, progress=False)
    ...     files = byocframe.read_bucket(
    ...         "s3://doc-apply-plan", s3=service.s3.client(), progress=False)
    ...     pattern = r"t/(?P<sensing_time>[\d-]+)/(BAND)\.tif"
    ...     plan = byocframe.reconcile(tiles, files, pattern=pattern)
    ...     result = apply_plan(plan, tiles, client, progress=False)
    ...     statuses = [t["status"] for t in client.iter_tiles(cid)]
    >>> plan["action"].tolist(), result["outcome"].tolist(), statuses
    (['create'], ['ok'], ['INGESTED'])
    """
    from byocframe.client.api import resolve_client
    from byocframe.edits.ingestion import reingest
    from byocframe.edits.route import push

    client = resolve_client(client)
    _require_plan_rows(plan)
    create = plan[plan["action"] == "create"]
    drop = plan.loc[plan["action"] == "delete", "id"].dropna()
    again = plan.loc[plan["action"] == "reingest", "id"].dropna()
    missing = [tid for tid in [*drop, *again] if tid not in tiles.index]
    if missing:
        raise ValidationError(
            f"the plan names tile {missing[0]}, which tiles does not hold: pass the tiles "
            "frame the plan was made from"
        )
    pool = candidates if candidates is not None else _bare(create, tiles)
    lacking = sorted(set(create["path"]) - set(pool["path"]))
    if lacking:
        raise ValidationError(
            f"the plan creates {lacking[0]!r}, which candidates lack: pass candidates "
            "from the listing the plan was made from (read_bucket with its pattern)"
        )
    _require_rows_of_tiles(plan, tiles)
    results = []
    if len(drop):
        _require_listing_of_collection(plan, tiles, client)
        back = _files_back(plan, s3)
        if back:  # its files are in the bucket again: not deleted
            results.append(_kept(back))
            drop = drop[~drop.isin(list(back))]
    if len(create) or len(drop):
        # only what the plan holds: the new rows alone, so no other row's edits (a draft
        # in ``tiles``) are sent, and of the loaded tiles missing from it, the plan's
        # deletions only, each checked against its row as loaded (``original``) first
        if len(create):
            frame = add_tiles(tiles, pool[pool["path"].isin(create["path"])]).iloc[len(tiles) :]
        else:
            frame = tiles.iloc[:0]
        frame.attrs = copy.deepcopy(tiles.attrs)  # the push writes back into its own
        results.append(
            push(
                frame,
                client,
                delete_missing=bool(len(drop)),
                delete_only=list(drop),
                original=tiles,
                progress=progress,
            )
        )
    if len(again):
        results.append(reingest(tiles.loc[list(again)], client, progress=progress))
    return pd.concat(results) if results else pd.DataFrame()


#: What a plan row may ask for.
_ACTIONS = frozenset({"create", "delete", "reingest", "none"})


def _require_plan_rows(plan: pd.DataFrame) -> None:
    """Refuse rows `apply_plan` could not carry out as written (e.g. edited by hand)."""
    needed = ["action", "id", "path"]
    if "action" in plan.columns and (plan["action"] == "delete").any():
        needed.append("files")  # a deletion's files are looked for again before it is sent
    missing = [c for c in needed if c not in plan.columns]
    if missing:
        raise ValidationError(
            f"the plan has no {missing[0]!r} column: pass the frame reconcile() returned"
        )
    files = plan["files"] if "files" in plan.columns else pd.Series(None, index=plan.index)
    for action, tid, path, listed in zip(
        plan["action"], plan["id"], plan["path"], files, strict=True
    ):
        if action not in _ACTIONS:
            raise ValidationError(
                f"the plan asks for {action!r} (path {path!r}); actions are create, delete, "
                "reingest and none"
            )
        if action in ("delete", "reingest") and (tid is None or pd.isna(tid)):
            raise ValidationError(
                f"a {action} row of the plan names no tile id (path {path!r}, files "
                f"{listed!r}): only tiles can be deleted or reingested; give the row an id "
                "or set its action to none"
            )
        if action == "create" and not isinstance(path, str):
            raise ValidationError("a create row of the plan has no path: give it one or drop it")


def _require_listing_of_collection(
    plan: pd.DataFrame, tiles: pd.DataFrame, client: ClientLike
) -> None:
    """Refuse deletions planned from a listing of another bucket than the collection's.

    ``reconcile`` checks the listing against the ``s3_bucket`` it is given; here the
    collection itself says which bucket is its own.
    """
    record = plan.attrs.get("byocframe") or {}
    listed = record.get("s3_bucket")
    if record.get("kind") != "plan" or not listed:
        raise ValidationError(
            "the plan does not record the bucket listing its deletions come from (its "
            "attrs were lost): make it again with reconcile(..., delete=True)"
        )
    cid = (tiles.attrs.get(ATTRS_KEY) or {}).get("collection")
    if not cid:
        raise ValidationError(
            "tiles does not say which collection it was loaded from, so the plan's "
            "bucket cannot be checked: load it with byocframe.read_tiles()"
        )
    collection = client.get_collection(cid)
    s3_bucket = str(collection.get("s3Bucket") or "")
    bands = (collection.get("additionalData") or {}).get("bands") or {}
    sources = {str(n): str(b.get("source") or n) for n, b in bands.items()}
    if "sources" in record and not _same_names(record["sources"], sources):
        raise ValidationError(
            f"the plan named the files by bands {record['sources']} (band: source), but "
            f"collection {cid}'s bands are {sources}: reconcile again with "
            "bands=collection['additionalData']['bands']"
        )
    if not same_bucket(str(listed), s3_bucket):
        raise ValidationError(
            f"the plan's deletions come from a listing of {record.get('listing')}, not of "
            f"collection {cid}'s bucket {s3_bucket}: list s3://{s3_bucket}/ and plan again"
        )


def _bare(create: pd.DataFrame, tiles: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"path": create["path"].to_numpy(), "sensing_time": pd.NaT},
        geometry=gpd.GeoSeries([None] * len(create), crs=tiles.crs),
    )


def _require_rows_of_tiles(plan: pd.DataFrame, tiles: pd.DataFrame) -> None:
    """Refuse a plan whose rows do not name the tiles of ``tiles`` as they were planned.

    A delete or reingest row's path must be its tile's (ids shifted against paths would
    act on tiles nobody read about); a deletion's tile must hold the ``loaded`` token it
    had when planned (a frame loaded again since may show a tile reingested meanwhile);
    a create must not be for a path a tile already holds (the create would be skipped).
    """
    held = tiles["path"].astype(object)
    for action, tid, path in zip(plan["action"], plan["id"], plan["path"], strict=True):
        if action in ("delete", "reingest") and str(held.loc[tid]) != str(path):
            raise ValidationError(
                f"the plan's {action} row names tile {tid} with path {path!r}, but that "
                f"tile's path is {held.loc[tid]!r}: make the plan again with reconcile()"
            )
    record = plan.attrs.get("byocframe") or {}
    tokens = record.get("loaded") or {}
    loaded = tiles["loaded"] if "loaded" in tiles.columns else None
    for tid in plan.loc[plan["action"] == "delete", "id"].dropna():
        now = None if loaded is None else loaded.loc[tid]
        if str(tid) in tokens and tokens[str(tid)] != str(now):
            raise ValidationError(
                f"tile {tid} was loaded again since the plan was made (its row is not the "
                "one the plan compared with the bucket): make the plan again with reconcile()"
            )
    names = SameFiles(held.dropna().astype(str))
    for path in plan.loc[plan["action"] == "create", "path"]:
        if path in names:
            raise ValidationError(
                f"the plan creates {path!r}, a path a tile of tiles holds (any extension): "
                "delete that tile first, then reconcile again to create it"
            )


def _files_back(plan: pd.DataFrame, s3: S3Like | None) -> dict[str, str]:
    """The deleted tiles whose gone files are in the bucket again: id -> one such file."""
    record = plan.attrs.get("byocframe") or {}
    rows = plan[(plan["action"] == "delete") & plan["id"].notna()]
    wanted = [(tid, list(files)) for tid, files in zip(rows["id"], rows["files"], strict=True)]
    if not any(files for _, files in wanted):
        return {}  # duplicate paths: nothing to look for
    endpoint = record.get("endpoint_url")  # where the listing was read
    # the listing's own URL (its prefix: a user may list only there), at the endpoint of
    # the client given, which must be the listing's
    url = str(record.get("listing") or f"s3://{record['s3_bucket']}")
    bucket = open_bucket(url, endpoint_url=None if s3 is not None else endpoint, client=s3)
    _require_listing_endpoint(bucket, endpoint)
    back: dict[str, str] = {}
    try:
        if not bucket.exists():
            raise ValidationError(
                f"{bucket.where} does not answer as a bucket: pass s3= the boto3 client the "
                "bucket was listed with"
            )
        # one tile's spellings one after the other (the first found ends them), the
        # tiles side by side on the S3 client's pooled connections
        workers = min(HEAD_WORKERS, bucket.pool_size or HEAD_WORKERS)
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            for (tid, _), found in zip(wanted, pool.map(_first_back(bucket), wanted), strict=True):
                if found is not None:
                    back[str(tid)] = found
        finally:
            pool.shutdown(cancel_futures=True)  # after an error, no more HEADs
    except BucketError as err:
        raise ValidationError(
            f"the files of the plan's deletions could not be looked for again ({err}): pass "
            "s3= the boto3 client the bucket was listed with"
        ) from err
    return back


def _first_back(bucket: Bucket) -> Callable[[tuple[str, list[str]]], str | None]:
    """For a tile and its gone files: the first spelling of one that the bucket holds."""

    def first(wanted: tuple[str, list[str]]) -> str | None:
        spellings = (k for key in wanted[1] for k in key_spellings(key))
        return next((key for key in spellings if bucket.head(key) is not None), None)

    return first


def _same_names(planned: Mapping[str, str], current: Mapping[str, str]) -> bool:
    """Whether two band -> source maps name every band's file alike.

    No bands at all names each file after its band (the source defaults to the name).

    Examples
    --------
    >>> _same_names({}, {"B01": "B01"}), _same_names({}, {"RED": "B04"})
    (True, False)
    """

    def source(bands: Mapping[str, str], band: str) -> str | None:
        return bands.get(band, band if not bands else None)

    names = set(planned) | set(current)
    return all(source(planned, n) == source(current, n) for n in names)


def _require_listing_endpoint(bucket: Bucket, listed_at: str | None) -> None:
    """Refuse to look for files at another S3 endpoint than the listing's.

    ``bucket`` is opened with the client given, or at ``listed_at``: its endpoint is then
    the client's own (a boto3 client's ``meta.endpoint_url``).
    """
    here = bucket.endpoint
    if listed_at and here and here.rstrip("/") != str(listed_at).rstrip("/"):
        raise ValidationError(
            f"s3= reads {here}, but the plan's listing was read at {listed_at}: pass the "
            "boto3 client the bucket was listed with"
        )


def _kept(back: Mapping[str, str]) -> pd.DataFrame:
    """Result rows for the deletions not sent because their files are back."""
    return pd.DataFrame(
        {
            "action": "delete",
            "outcome": "conflict",
            "status_code": None,
            "message": [
                f"not deleted: its file {key} is in the bucket again since the listing; "
                "reconcile again"
                for key in back.values()
            ],
        },
        index=pd.Index(list(back), name="id"),
    )
