"""A collection and its bucket side by side: new tiles, traced covers, stale tiles, causes.

* `add_tiles` appends the bucket's candidate tiles (`byocframe.read_bucket` with a
  pattern) that the collection lacks to a tile frame; `byocframe.push` creates them.
* `reconcile` compares a tile frame with a files frame: stale tiles (the bucket's ETag
  differs from ``filesMetadata``), tiles whose files are gone, duplicate paths, files no
  tile uses, new tiles whose files `byocframe.check` fails; `apply_plan` pushes the plan.
  A tile is deleted for its files only on a listing of the collection's bucket that
  looked where they would be (`byocframe.bucket.evidence`).
* `failure_causes` groups FAILED tiles by the rule their cause names, with the fix.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.bucket.checks import check
from byocframe.bucket.evidence import ListingScope, deletion_scope, same_bucket

# moved to byocframe.bucket.outlines; still importable from here
from byocframe.bucket.outlines import trace_covers
from byocframe.bucket.rules import DEFAULT_RULES, RULES, RuleSet
from byocframe.bucket.tiles import assign_tiles, compile_pattern, group_tiles
from byocframe.exceptions import ValidationError
from byocframe.frame.snapshot import ATTRS_KEY
from byocframe.typing import AnyClient, ClientLike

__all__ = [
    "PLAN_COLUMNS",
    "add_tiles",
    "apply_plan",
    "failure_causes",
    "reconcile",
    "trace_covers",
]

PLAN_COLUMNS = ("action", "reason", "id", "path", "files", "detail")
_TIFF = re.compile(r"\.tiff?$", re.IGNORECASE)


def add_tiles(
    tiles: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, covers: gpd.GeoSeries | None = None
) -> gpd.GeoDataFrame:
    r"""``tiles`` with a new row for each candidate whose path the collection lacks.

    Parameters
    ----------
    tiles : GeoDataFrame
        The collection's tiles, from `byocframe.read_tiles`.
    candidates : GeoDataFrame
        From `byocframe.read_bucket` with a pattern.
    covers : GeoSeries, optional
        Covers for the candidates (from `byocframe.trace_covers`), in any CRS; without
        them the service uses each tile's bounding box.

    Returns
    -------
    GeoDataFrame
        A new frame (the snapshot kept): existing rows, then one row without id per new
        path, with ``sensing_time`` and the cover as ``geometry``. Push it with
        `byocframe.push` to create them.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.bucket.files import files_from_headers, group_tiles
    >>> files = files_from_headers([{"key": f"t/2024-06-0{day}/B01.tif", "crs": "EPSG:32633",
    ...     "xmin": 5e5, "ymin": 5e6, "xmax": 5.1e5, "ymax": 5.01e6} for day in (1, 2)])
    >>> candidates = group_tiles(files, r"t/(?P<sensing_time>[\d-]+)/(BAND)\.tif")
    >>> tiles = byocframe.tiles_from_records([{"id": "t1", "path": "t/2024-06-01/(BAND).tif"}])
    >>> add_tiles(tiles, candidates)["path"].tolist()  # the first exists already
    ['t/2024-06-01/(BAND).tif', 't/2024-06-02/(BAND).tif']
    """
    existing = set(tiles["path"].dropna().map(_stem))
    keep = ~candidates["path"].map(_stem).isin(existing).to_numpy()
    keep &= ~candidates["path"].map(_stem).duplicated().to_numpy()
    new = candidates[keep]
    geometry = np.full(len(new), None, dtype=object)
    if covers is not None:
        aligned = gpd.GeoSeries(covers).loc[new.index]
        if aligned.crs is not None and tiles.crs is not None and aligned.crs != tiles.crs:
            aligned = aligned.to_crs(tiles.crs)
        geometry = aligned.to_numpy()
    rows = gpd.GeoDataFrame(
        {
            "path": new["path"].to_numpy(),
            "sensing_time": pd.to_datetime(new["sensing_time"].to_numpy(), utc=True),
        },
        geometry=gpd.GeoSeries(geometry, crs=tiles.crs),
        index=pd.Index([None] * len(new), name=tiles.index.name, dtype=object),
    )
    out = pd.concat([tiles, rows])
    out.attrs = tiles.attrs
    return out


def _normal(path: Any) -> str:
    return _TIFF.sub(".tif", str(path))


def _metadata(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if "additional_data" not in frame:
        return [{} for _ in range(len(frame))]
    out = []
    for text in frame["additional_data"]:
        data = json.loads(text) if isinstance(text, str) and text else {}
        out.append((data or {}).get("filesMetadata") or {})
    return out


def reconcile(
    tiles: pd.DataFrame,
    files: pd.DataFrame,
    *,
    pattern: str | None = None,
    bands: Mapping[str, Mapping[str, Any]] | None = None,
    delete: bool = False,
    retry_failed: bool = False,
    s3_bucket: str | None = None,
    rules: RuleSet = DEFAULT_RULES,
) -> pd.DataFrame:
    r"""Compare a collection's tiles with its bucket; the plan `apply_plan` carries out.

    Parameters
    ----------
    tiles : DataFrame
        From `byocframe.read_tiles`.
    files : DataFrame
        From `byocframe.read_bucket` (no pattern) of the collection's bucket, or of a
        prefix of it: tiles whose files lie outside the listing are left alone
        (``unlisted``).
    pattern : str, optional
        Groups the files no tile uses into new tiles to create; it must match at least
        one listed key.
    bands : dict, optional
        The collection's ``additionalData.bands`` (band name -> ``source``; ``{}`` for a
        collection without bands, whose files are named after the bands). A band in a
        tile's ``filesMetadata`` that ``bands`` does not name (renamed since) leaves the
        tile alone (``unknown-band``): its file name is not guessed.
    delete : bool
        Plan deletion of tiles whose files are gone and of duplicate paths (otherwise
        they are reported with action ``none``). Needs ``bands``, ``s3_bucket`` and
        ``files`` as `read_bucket` returned it, from a listing of that bucket that is not
        empty.
    retry_failed : bool
        Plan a reingest of every FAILED tile.
    s3_bucket : str, optional
        The collection's ``s3Bucket``: a listing of another bucket is refused.
    rules : RuleSet
        The limits new tiles are checked against (`byocframe.check`).

    Returns
    -------
    DataFrame
        `PLAN_COLUMNS`: ``action`` (``reingest``, ``create``, ``delete``, ``none``),
        ``reason`` (``stale``, ``files-gone``, ``duplicate-path``, ``failed``, ``new``,
        ``incomplete`` (new files lacking a band of ``bands``), ``fails-check`` (new
        files that break a rule ingestion enforces; the rules in ``detail``),
        ``unlisted`` (a tile whose files are outside the listing), ``after-listing`` (a
        tile created or ingested after the listing began: its files may have come
        since), ``unknown-band``, ``unused-file``), tile ``id``, ``path``, the ``files``
        concerned, ``detail``. ``attrs["byocframe"]`` records the listing the plan
        compared with, which `apply_plan` checks against the collection's bucket.

    Raises
    ------
    ValidationError
        ``files`` lists another bucket than ``s3_bucket``; ``pattern`` matches no listed
        key; ``tiles`` holds a tile twice, or edits of a column the plan reads (``path``,
        ``status``, ``additional_data``: what the service holds decides); ``delete=True``
        without ``bands`` or on a listing that cannot prove a file gone (no
        ``s3_bucket``, a local folder, an empty listing, a frame filtered after listing).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.bucket.files import files_from_headers
    >>> tiles = byocframe.tiles_from_records([{"id": "t1", "path": "a/(BAND).tif",
    ...     "status": "INGESTED",
    ...     "additionalData": {"filesMetadata": {"B01": {"etag": '"1"', "headerSize": 800}}}}])
    >>> files = files_from_headers([{"key": "a/B01.tif", "etag": '"2"'},
    ...                             {"key": "b/B01.tif", "etag": '"3"'}])
    >>> reconcile(tiles, files, pattern=r"(?:a|b)/(BAND)\.tif")[["action", "reason", "path"]]
         action reason          path
    0  reingest  stale  a/(BAND).tif
    1    create    new  b/(BAND).tif
    >>> reconcile(tiles, files, delete=True, s3_bucket="b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: files has no record of the listing it came from: ...
    """
    scope = deletion_scope(files, s3_bucket=s3_bucket, delete=delete)
    if delete and bands is None:
        raise ValidationError(
            "delete=True finds each band's file by its source: pass "
            "bands=collection['additionalData']['bands'] ({} for a collection without bands)"
        )
    _require_as_loaded(tiles, delete)
    if pattern is not None:
        _require_match(files, pattern)
    etags = dict(zip(files["key"], files["etag"], strict=True))
    sources = {str(n): str(s.get("source") or n) for n, s in (bands or {}).items()}
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    seen: dict[str, Any] = {}  # a path, exactly as the service keeps it -> its first tile
    order = tiles.sort_values("created") if "created" in tiles else tiles
    # every tile existed before the listing began when the tiles were loaded before it;
    # else a tile created or ingested since may have files the listing had passed
    recent = (
        _after_listing(order, scope)
        if scope is not None and not _loaded_before(tiles, scope)
        else np.zeros(len(order), dtype=bool)
    )
    for tid, path, status, meta, late in zip(
        order.index, order["path"], order["status"], _metadata(order), recent, strict=True
    ):
        path = str(path)
        named = {band: sources.get(band, band) for band in meta if not sources or band in sources}
        keys = {band: _key(path, source, etags) for band, source in named.items()}
        used.update(keys.values())
        # the files of tiles never ingested (no filesMetadata) are in use too
        used.update(_key(path, source, etags) for source in sources.values())
        if path in seen:
            rows.append(
                _plan_row(
                    "delete" if delete else "none",
                    "duplicate-path",
                    tid,
                    path,
                    [],
                    f"same path as tile {seen[path]}",
                )
            )
            continue
        seen[path] = tid
        unknown = sorted(str(band) for band in meta if band not in named)
        if unknown:
            detail = (
                f"filesMetadata names band(s) {', '.join(unknown)}, which bands= does not "
                "(renamed?): their files cannot be named, so nothing is concluded"
            )
            rows.append(_plan_row("none", "unknown-band", tid, path, [], detail))
            continue
        if scope is not None and not all(map(scope.covers, keys.values())):
            # the listing did not look where its files are: their absence proves nothing
            outside = sorted(k for k in keys.values() if not scope.covers(k))
            detail = f"its files are outside the listing of {scope.url}"
            rows.append(_plan_row("none", "unlisted", tid, path, outside, detail))
            continue
        gone = sorted(k for k in keys.values() if k not in etags)
        changed = sorted(
            k
            for b, k in keys.items()
            # a folder lists no ETags: nothing to compare, so nothing proven stale
            if k in etags and _etag(etags[k]) and _etag(etags[k]) != _etag(meta[b].get("etag"))
        )
        if late and (gone or changed):
            # what the listing shows of its files may predate them: concluded nothing
            detail = (
                f"created or ingested after the listing of {scope.url if scope else ''} began "
                f"({_began(scope)}): list the bucket again to compare it"
            )
            rows.append(_plan_row("none", "after-listing", tid, path, gone or changed, detail))
            continue
        if gone:
            rows.append(
                _plan_row(
                    "delete" if delete else "none",
                    "files-gone",
                    tid,
                    path,
                    gone,
                    f"{len(gone)} of {len(keys)} files are not in the "
                    + (f"listing of {scope.url} at {scope.listed_at}" if scope else "bucket"),
                )
            )
            continue
        if changed:
            rows.append(
                _plan_row(
                    "reingest",
                    "stale",
                    tid,
                    path,
                    changed,
                    "the bucket's ETag differs from filesMetadata",
                )
            )
        elif retry_failed and str(status) == "FAILED":
            rows.append(_plan_row("reingest", "failed", tid, path, [], "FAILED: try again"))
    # a new tile is not planned where a tile of the same path (any extension) exists
    stems = {_stem(path) for path in seen}
    if pattern is not None:
        tiled = assign_tiles(files, pattern)
        tile_of = tiled["tile"].map(lambda t: _stem(t) if isinstance(t, str) else None)
        used.update(tiled.loc[tile_of.isin(list(stems)).to_numpy(), "key"])
    unused = files[~files["key"].isin(used)]
    if pattern is not None and len(unused):
        assigned = assign_tiles(unused, pattern).dropna(subset=["tile"])
        by_tile = assigned.groupby(assigned["tile"].map(_normal))["key"].agg(sorted)
        bands_of = assigned.groupby(assigned["tile"].map(_normal))["band"].agg(list)
        candidates = group_tiles(unused, pattern)
        for path in candidates["path"]:
            if _stem(path) in stems:
                continue  # a tile whose band list is not known yet (never ingested)
            members = list(by_tile[_normal(path)])
            used.update(members)
            missing = sorted(set(sources.values()) - set(bands_of[_normal(path)]))
            if missing:  # it would fail ingestion: "File ... not found."
                detail = f"no file for {', '.join(missing)}"
                rows.append(_plan_row("none", "incomplete", None, path, members, detail))
                continue
            rows.append(_plan_row("create", "new", None, path, members, f"{len(members)} files"))
    for key in sorted(set(unused["key"]) - used):
        rows.append(_plan_row("none", "unused-file", None, None, [key], "no tile uses it"))
    if pattern is not None:
        _flag_failing(rows, files, pattern, bands, rules)
    plan = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    if scope is not None:
        plan.attrs["byocframe"] = {
            "kind": "plan",
            "listing": scope.url,
            "s3_bucket": scope.s3_bucket,
        }
    return plan


def _require_as_loaded(tiles: pd.DataFrame, delete: bool) -> None:
    """Refuse a frame holding a tile twice, or edits of the columns a plan is read from.

    A plan compares what the service holds with the bucket: a ``path`` or
    ``additional_data`` edited in the frame (never pushed: they are read-only) would
    decide a deletion the service's own tile does not call for. A frame whose edits
    cannot be read (not indexed by tile id, say) is refused only for deletions.
    """
    if tiles.index.has_duplicates:
        twice = tiles.index[tiles.index.duplicated()][0]
        raise ValidationError(
            f"tiles holds tile {twice} more than once (pd.concat of overlapping loads?): "
            "drop the repeated rows, e.g. tiles[~tiles.index.duplicated()]"
        )
    if "loaded" not in tiles.columns:
        return  # no record of the load: the frame is taken as the service's
    from byocframe.edits.diff import changes

    try:
        found = changes(tiles)
    except ValidationError as err:
        if not delete:
            return  # a report only: nothing is deleted on what it says
        raise ValidationError(
            f"delete=True needs tiles as loaded, to know their paths are the service's: {err}"
        ) from err
    read = found[found["field"].isin(_READ_BY_PLAN) & (found["action"] == "read-only")]
    if len(read):
        first = read.iloc[0]
        raise ValidationError(
            f"tile {first['id']}: {first['field']} was edited in the frame, but the plan "
            "compares the bucket with what the service holds: restore it, or load the "
            "tiles again with byocframe.read_tiles()"
        )


#: The columns of a tile frame that `reconcile` reads.
_READ_BY_PLAN = ("path", "status", "additional_data", "created", "ingestion_start")


def _loaded_before(tiles: pd.DataFrame, scope: ListingScope) -> bool:
    """Whether ``tiles`` were listed from the service before the bucket listing began.

    Both times are this machine's clock (`byocframe.read_tiles` records when its
    listing ended), so no clock of the service is trusted.
    """
    listed = (tiles.attrs.get(ATTRS_KEY) or {}).get("listed_at")
    if not listed or not scope.listed_from:
        return False
    return bool(pd.Timestamp(listed) <= pd.Timestamp(scope.listed_from))


def _after_listing(tiles: pd.DataFrame, scope: ListingScope) -> np.ndarray:
    """Tiles created or ingested (the service's clock) when the listing may have begun."""
    late = np.zeros(len(tiles), dtype=bool)
    since = scope.since
    if since is None:
        return late
    for column in ("created", "ingestion_start"):
        if column in tiles.columns:
            times = pd.to_datetime(tiles[column], utc=True, errors="coerce")
            late |= (times >= since).fillna(False).to_numpy(dtype=bool)
    return late


def _began(scope: ListingScope | None) -> str:
    return (scope.listed_from or scope.listed_at) if scope is not None else ""


def _stem(path: str) -> str:
    """A path without a TIFF extension: the service tries them on a path without one."""
    return _TIFF.sub("", str(path))


def _require_match(files: pd.DataFrame, pattern: str) -> None:
    """Refuse a pattern that matches no listed key: its plan would be silently empty."""
    regex = compile_pattern(pattern)
    keys = files["key"].astype(str)
    if len(keys) and any(regex.fullmatch(key) for key in keys):
        return
    where = (files.attrs.get("byocframe") or {}).get("bucket") or "the listing"
    if not len(keys):
        raise ValidationError(
            f"pattern {pattern!r} has nothing to match: {where} lists no file; check the URL"
        )
    raise ValidationError(
        f"pattern {pattern!r} matches none of the {len(keys)} listed keys (e.g. "
        f"{keys.iloc[0]!r}) of {where}; write it for whole keys, relative to the bucket"
    )


def _flag_failing(
    rows: list[dict[str, Any]],
    files: pd.DataFrame,
    pattern: str,
    bands: Mapping[str, Mapping[str, Any]] | None,
    rules: RuleSet,
) -> None:
    """Turn planned creates whose files break a rule ingestion enforces into ``fails-check``."""
    creates = [row for row in rows if row["action"] == "create"]
    unread = files["header_size"].isna() & files["error"].isna()
    if not creates or unread.any():
        return  # a frame built without headers (files_from_headers): nothing to judge
    # the whole listing is checked: sample types and extensions are judged by the majority
    findings = check(files, pattern=pattern, bands=bands, rules=rules, max_unmatched=1.0)
    errors = findings[(findings["severity"] == "error") & findings["tile"].notna()]
    by_tile = {_normal(tile): group for tile, group in errors.groupby("tile")}
    for row in creates:
        group = by_tile.get(_normal(row["path"]))
        if group is None:
            continue
        names = ", ".join(dict.fromkeys(group["rule"]))
        row.update(
            action="none",
            reason="fails-check",
            detail=f"would fail ingestion ({names}): {group['message'].iloc[0]}",
        )


def _plan_row(
    action: str, reason: str, tid: Any, path: Any, files: list[str], detail: str
) -> dict[str, Any]:
    return {
        "action": action,
        "reason": reason,
        "id": tid,
        "path": path,
        "files": files,
        "detail": detail,
    }


def _key(path: str, source: str, etags: Mapping[str, Any]) -> str:
    """The key of a band's file: a listed spelling when one is, else the plain one.

    A folder path, and a ``(BAND)`` path without an extension (the extension is
    optional, BYOC_API 7.2), may name a file with any TIFF extension.
    """
    if "(BAND)" in path:
        base = path.replace("(BAND)", source)
        if _TIFF.search(base):
            return base
        spellings: tuple[str, ...] = ("", ".tif", ".tiff", ".TIF", ".TIFF")
    else:
        base = f"{path.rstrip('/')}/{source}"
        spellings = (".tif", ".tiff", ".TIF", ".TIFF", "")
    return next((base + e for e in spellings if base + e in etags), base)


def _etag(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip('"')


def apply_plan(
    plan: pd.DataFrame,
    tiles: gpd.GeoDataFrame,
    client: AnyClient,
    *,
    candidates: gpd.GeoDataFrame | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    r"""Carry out a `reconcile` plan: create, reingest and delete tiles.

    Creates and deletes go through `byocframe.push` (safe under faults); tiles
    are deleted only where the plan says ``delete`` (``reconcile(delete=True)``).
    ``candidates`` (from `read_bucket` with the pattern) give new tiles their sensing
    times and covers; without them new tiles get the path only.

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
    ...     plan = reconcile(tiles, files, pattern=r"t/(?P<sensing_time>[\d-]+)/(BAND)\.tif")
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
    if len(drop):
        _require_listing_of_collection(plan, tiles, client)
    results = []
    if len(create) or len(drop):
        # only what the plan holds: the new rows alone, so no other row's edits (a draft
        # in ``tiles``) are sent, and of the loaded tiles missing from it, the plan's
        # deletions only, each checked against its row as loaded (``original``) first
        added = add_tiles(tiles, pool[pool["path"].isin(create["path"])])
        frame = added.iloc[len(tiles) :]
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
    missing = [c for c in ("action", "id", "path") if c not in plan.columns]
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
    s3_bucket = str(client.get_collection(cid).get("s3Bucket") or "")
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


def _cause_patterns() -> list[tuple[str, re.Pattern[str]]]:
    out = []
    for rule in RULES:
        if not rule.service or rule.id == "header":
            continue
        text = re.escape(rule.service)
        out.append((rule.id, re.compile(re.sub(r"\\\{[a-z_]+\\\}", ".+?", text) + "$")))
    return out


def failure_causes(tiles: pd.DataFrame) -> pd.DataFrame:
    """FAILED tiles grouped by the rule their ``failed_ingestion_cause`` names.

    Returns
    -------
    DataFrame
        Indexed by rule (``unknown`` for causes the table does not know, e.g.
        "Unexpected error occurred while ingesting the tile"): ``tiles`` (count),
        ``example`` (a cause as the service wrote it), ``example_path``, ``requirement``
        and ``fix``.

    Examples
    --------
    >>> frame = pd.DataFrame({"path": ["a/(BAND).tif", "b/(BAND).tif"],
    ...     "status": ["FAILED", "FAILED"],
    ...     "failed_ingestion_cause": ["Unsupported CRS EPSG:2056", "Unsupported CRS EPSG:27700"]})
    >>> failure_causes(frame)[["tiles", "example"]].values.tolist()
    [[2, 'Unsupported CRS EPSG:2056']]
    """
    failed = tiles[tiles["status"].astype(object) == "FAILED"]
    patterns = _cause_patterns()
    table = {r.id: r for r in RULES}
    kinds = []
    for cause in failed.get("failed_ingestion_cause", pd.Series(dtype=object)).fillna(""):
        kinds.append(next((rid for rid, rx in patterns if rx.match(str(cause))), "unknown"))
    grouped = pd.DataFrame(
        {"rule": kinds, "cause": failed.get("failed_ingestion_cause"), "path": failed["path"]}
    ).groupby("rule", sort=False)
    rows = []
    for rid, group in grouped:
        rule = table.get(str(rid))
        rows.append(
            {
                "rule": rid,
                "tiles": len(group),
                "example": group["cause"].iloc[0],
                "example_path": group["path"].iloc[0],
                "requirement": rule.requirement if rule else "see the cause",
                "fix": rule.fix_for() if rule else "run byocframe.check() on the tile's files",
            }
        )
    columns = ["rule", "tiles", "example", "example_path", "requirement", "fix"]
    return (
        pd.DataFrame(rows, columns=columns).set_index("rule").sort_values("tiles", ascending=False)
    )
