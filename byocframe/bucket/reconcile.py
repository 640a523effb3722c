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

import json
import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.bucket.checks import check
from byocframe.bucket.evidence import deletion_scope

# moved to byocframe.bucket.outlines; still importable from here
from byocframe.bucket.outlines import trace_covers
from byocframe.bucket.rules import DEFAULT_RULES, RULES, RuleSet
from byocframe.bucket.tiles import assign_tiles, compile_pattern, group_tiles
from byocframe.exceptions import ValidationError

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
    tiles: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *, covers: Any = None
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
    existing = set(tiles["path"].dropna().map(_normal))
    keep = ~candidates["path"].map(_normal).isin(existing).to_numpy()
    keep &= ~candidates["path"].map(_normal).duplicated().to_numpy()
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
        The collection's ``additionalData.bands`` (band name -> ``source``).
    delete : bool
        Plan deletion of tiles whose files are gone and of duplicate paths (otherwise
        they are reported with action ``none``). Needs ``s3_bucket`` and ``files`` as
        `read_bucket` returned it, from a listing of that bucket that is not empty.
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
        ``unlisted`` (a tile whose files are outside the listing), ``unused-file``),
        tile ``id``, ``path``, the ``files`` concerned, ``detail``.

    Raises
    ------
    ValidationError
        ``files`` lists another bucket than ``s3_bucket``; ``pattern`` matches no listed
        key; ``delete=True`` on a listing that cannot prove a file gone (no
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
    if pattern is not None:
        _require_match(files, pattern)
    etags = dict(zip(files["key"], files["etag"], strict=True))
    sources = {str(n): str(s.get("source") or n) for n, s in (bands or {}).items()}
    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    seen: dict[str, Any] = {}
    order = tiles.sort_values("created") if "created" in tiles else tiles
    for tid, path, status, meta in zip(
        order.index, order["path"], order["status"], _metadata(order), strict=True
    ):
        keys = {band: _key(str(path), sources.get(band, band), etags) for band in meta}
        used.update(keys.values())
        # the files of tiles never ingested (no filesMetadata) are in use too
        used.update(_key(str(path), source, etags) for source in sources.values())
        normal = _normal(path)
        if normal in seen:
            rows.append(
                _plan_row(
                    "delete" if delete else "none",
                    "duplicate-path",
                    tid,
                    path,
                    [],
                    f"same path as tile {seen[normal]}",
                )
            )
            continue
        seen[normal] = tid
        if scope is not None and not all(map(scope.covers, keys.values())):
            # the listing did not look where its files are: their absence proves nothing
            outside = sorted(k for k in keys.values() if not scope.covers(k))
            detail = f"its files are outside the listing of {scope.url}"
            rows.append(_plan_row("none", "unlisted", tid, path, outside, detail))
            continue
        gone = sorted(k for k in keys.values() if k not in etags)
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
        changed = sorted(
            k
            for b, k in keys.items()
            # a folder lists no ETags: nothing to compare, so nothing proven stale
            if _etag(etags[k]) and _etag(etags[k]) != _etag(meta[b].get("etag"))
        )
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
    if pattern is not None:
        tiled = assign_tiles(files, pattern)
        tile_of = tiled["tile"].map(lambda t: _normal(t) if isinstance(t, str) else None)
        used.update(tiled.loc[tile_of.isin(list(seen)).to_numpy(), "key"])
    unused = files[~files["key"].isin(used)]
    if pattern is not None and len(unused):
        assigned = assign_tiles(unused, pattern).dropna(subset=["tile"])
        by_tile = assigned.groupby(assigned["tile"].map(_normal))["key"].agg(sorted)
        bands_of = assigned.groupby(assigned["tile"].map(_normal))["band"].agg(list)
        candidates = group_tiles(unused, pattern)
        for path in candidates["path"]:
            if _normal(path) in seen:
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
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


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
    if "(BAND)" in path:
        return path.replace("(BAND)", source)
    base = f"{path.rstrip('/')}/{source}"
    return next(
        (base + e for e in (".tif", ".tiff", ".TIF", ".TIFF", "") if base + e in etags), base
    )


def _etag(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip('"')


def apply_plan(
    plan: pd.DataFrame,
    tiles: gpd.GeoDataFrame,
    client: Any,
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
    from byocframe.edits.ingestion import reingest
    from byocframe.edits.route import push

    frame = tiles
    create = plan[plan["action"] == "create"]
    if len(create):
        pool = candidates if candidates is not None else _bare(create, tiles)
        frame = add_tiles(tiles, pool[pool["path"].isin(create["path"])])
    drop = plan.loc[plan["action"] == "delete", "id"].dropna()
    if len(drop):
        frame = frame.drop(index=list(drop))
        frame.attrs = tiles.attrs
    results = []
    if len(create) or len(drop):
        # the plan's deletions only: ``tiles`` may be a filtered part of a load, whose
        # other tiles are missing from it without being meant for deletion
        results.append(
            push(
                frame,
                client,
                delete_missing=bool(len(drop)),
                delete_only=list(drop),
                progress=progress,
            )
        )
    again = plan.loc[plan["action"] == "reingest", "id"].dropna()
    if len(again):
        results.append(reingest(tiles.loc[list(again)], client, progress=progress))
    return pd.concat(results) if results else pd.DataFrame()


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
