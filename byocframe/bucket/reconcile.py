"""A collection and its bucket side by side: the plan that puts them in step.

`reconcile` compares a tile frame with a files frame: stale tiles (the bucket's ETag
differs from ``filesMetadata``), tiles whose files are gone, duplicate paths, files no
tile uses, new tiles whose files `byocframe.check` fails. A tile is deleted for its files
only on a listing of the collection's bucket that looked where they would be, and began
after the tiles were loaded (`byocframe.bucket.evidence`).

The plan is carried out by `byocframe.bucket.apply.apply_plan`; new tiles are added by
`byocframe.bucket.adding.add_tiles`, FAILED tiles grouped by
`byocframe.bucket.causes.failure_causes` (all three still importable from here).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# add_tiles, apply_plan, failure_causes and trace_covers moved to modules of their own;
# still importable from here
from byocframe.bucket.adding import add_tiles, is_whole
from byocframe.bucket.apply import apply_plan
from byocframe.bucket.causes import failure_causes
from byocframe.bucket.checks import check
from byocframe.bucket.evidence import ListingScope, deletion_scope
from byocframe.bucket.outlines import trace_covers
from byocframe.bucket.paths import SameFiles, band_key
from byocframe.bucket.rules import DEFAULT_RULES, RuleSet
from byocframe.bucket.tiles import assign_tiles, compile_pattern, group_tiles
from byocframe.exceptions import ValidationError
from byocframe.frame.records import ATTRS_KEY

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
        since), ``unknown-band``, ``partial-load`` (new files, against a ``tiles`` that is
        part of the collection: not created), ``unused-file`` (only against the whole
        collection)), tile ``id``, ``path``, the ``files``
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
    sources = {str(n): str(s.get("source") or n) for n, s in (bands or {}).items()}
    listing = _Listing(
        dict(zip(files["key"], files["etag"], strict=True)), sources, scope, delete, retry_failed
    )
    order = tiles.sort_values("created") if "created" in tiles else tiles
    # every tile existed before the listing began when the tiles were loaded before it;
    # else a tile created or ingested since may have files the listing had passed
    recent = np.zeros(len(order), dtype=bool)
    if scope is not None and not _loaded_before(tiles, scope):
        if delete and not {"created", "ingestion_start"} <= set(tiles.columns):
            raise ValidationError(
                "the bucket was listed before these tiles were loaded, and without their "
                "created and ingestion_start columns a tile added since cannot be told: "
                "keep those columns, or list the bucket again after loading the tiles"
            )
        recent = _after_listing(order, scope)
    rows, used, seen = listing.tile_rows(order, recent)
    rows += _new_rows(files, pattern, used, seen, sources, is_whole(tiles))
    if pattern is not None:
        _flag_failing(rows, files, pattern, bands, rules)
    plan = pd.DataFrame(rows, columns=list(PLAN_COLUMNS))
    if scope is not None:
        plan.attrs["byocframe"] = _record(plan, tiles, scope, sources)
    return plan


def _record(
    plan: pd.DataFrame, tiles: pd.DataFrame, scope: ListingScope, sources: Mapping[str, str]
) -> dict[str, Any]:
    """What `byocframe.apply_plan` checks a plan's deletions against before sending them.

    The listing (bucket, endpoint), the bands' sources the files were named by (the
    collection's must be the same), and the ``loaded`` token of each tile it deletes: a
    frame loaded again since (a tile reingested meanwhile) is not the one compared.
    """
    deleted = plan.loc[plan["action"] == "delete", "id"].dropna()
    tokens = tiles["loaded"] if "loaded" in tiles.columns else None
    return {
        "kind": "plan",
        "listing": scope.url,
        "s3_bucket": scope.s3_bucket,
        "endpoint_url": scope.endpoint_url,
        "sources": dict(sources),
        "loaded": {}
        if tokens is None
        else {str(tid): str(tokens.loc[tid]) for tid in deleted if pd.notna(tokens.loc[tid])},
    }


@dataclass(frozen=True)
class _Listing:
    """What each tile is compared with: the listed keys' ETags, the bands' sources."""

    etags: dict[str, Any]
    sources: dict[str, str]
    scope: ListingScope | None
    delete: bool
    retry_failed: bool

    def tile_rows(
        self, order: pd.DataFrame, recent: np.ndarray
    ) -> tuple[list[dict[str, Any]], set[str], dict[str, Any]]:
        """The plan's rows for the tiles; the keys they use; each path's first tile."""
        rows: list[dict[str, Any]] = []
        used: set[str] = set()
        seen: dict[str, Any] = {}  # a path, exactly as the service keeps it -> its first tile
        for tid, path, status, meta, late in zip(
            order.index, order["path"], order["status"], _metadata(order), recent, strict=True
        ):
            path = str(path)
            named = {
                b: self.sources.get(b, b) for b in meta if not self.sources or b in self.sources
            }
            keys = {band: band_key(path, source, self.etags) for band, source in named.items()}
            used.update(keys.values())
            # the files of tiles never ingested (no filesMetadata) are in use too
            used.update(band_key(path, source, self.etags) for source in self.sources.values())
            if path in seen:
                action = "delete" if self.delete else "none"
                detail = f"same path as tile {seen[path]}"
                rows.append(_plan_row(action, "duplicate-path", tid, path, [], detail))
                continue
            seen[path] = tid
            row = self._judge(tid, path, str(status), meta, named, keys, bool(late))
            if row is not None:
                rows.append(row)
        return rows, used, seen

    def _judge(
        self,
        tid: Any,
        path: str,
        status: str,
        meta: Mapping[str, Any],
        named: Mapping[str, str],
        keys: Mapping[str, str],
        late: bool,
    ) -> dict[str, Any] | None:
        """One tile's row of the plan, or None when it and its files are in step."""
        scope, etags = self.scope, self.etags
        unknown = sorted(str(band) for band in meta if band not in named)
        if unknown:
            detail = (
                f"filesMetadata names band(s) {', '.join(unknown)}, which bands= does not "
                "(renamed?): their files cannot be named, so nothing is concluded"
            )
            return _plan_row("none", "unknown-band", tid, path, [], detail)
        if scope is not None and not all(map(scope.covers, keys.values())):
            # the listing did not look where its files are: their absence proves nothing
            outside = sorted(k for k in keys.values() if not scope.covers(k))
            detail = f"its files are outside the listing of {scope.url}"
            return _plan_row("none", "unlisted", tid, path, outside, detail)
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
            return _plan_row("none", "after-listing", tid, path, gone or changed, detail)
        if gone:
            where = f"listing of {scope.url} at {scope.listed_at}" if scope else "bucket"
            detail = f"{len(gone)} of {len(keys)} files are not in the {where}"
            return _plan_row(
                "delete" if self.delete else "none", "files-gone", tid, path, gone, detail
            )
        if changed:
            detail = "the bucket's ETag differs from filesMetadata"
            return _plan_row("reingest", "stale", tid, path, changed, detail)
        if self.retry_failed and status == "FAILED":
            return _plan_row("reingest", "failed", tid, path, [], "FAILED: try again")
        return None


def _new_rows(
    files: pd.DataFrame,
    pattern: str | None,
    used: set[str],
    seen: Mapping[str, Any],
    sources: Mapping[str, str],
    whole: bool,
) -> list[dict[str, Any]]:
    """The rows of new tiles (``pattern``) and of files no tile uses; ``used`` grows.

    Against part of a collection neither can be told (a tile outside it may use the
    files): new tiles are left alone as ``partial-load``, and no file is called unused.
    """
    rows: list[dict[str, Any]] = []
    # a new tile is not planned where a tile of the same path (any extension) exists
    names = SameFiles(seen)
    if pattern is not None:
        tiled = assign_tiles(files, pattern)
        held = tiled["tile"].map(lambda t: t in names).to_numpy(dtype=bool)
        used.update(tiled.loc[held, "key"])
    unused = files[~files["key"].isin(used)]
    if pattern is not None and len(unused):
        assigned = assign_tiles(unused, pattern).dropna(subset=["tile"])
        by_tile = assigned.groupby(assigned["tile"].map(_normal))["key"].agg(sorted)
        bands_of = assigned.groupby(assigned["tile"].map(_normal))["band"].agg(list)
        candidates = group_tiles(unused, pattern)
        for path in candidates["path"]:
            if path in names:
                continue  # a tile whose band list is not known yet (never ingested)
            members = list(by_tile[_normal(path)])
            used.update(members)
            missing = sorted(set(sources.values()) - set(bands_of[_normal(path)]))
            if missing:  # it would fail ingestion: "File ... not found."
                detail = f"no file for {', '.join(missing)}"
                rows.append(_plan_row("none", "incomplete", None, path, members, detail))
                continue
            if not whole:
                detail = (
                    "tiles is part of the collection: a tile outside it may use these files; "
                    "reconcile all the collection's tiles to create it"
                )
                rows.append(_plan_row("none", "partial-load", None, path, members, detail))
                continue
            rows.append(_plan_row("create", "new", None, path, members, f"{len(members)} files"))
    if not whole:
        return rows
    for key in sorted(set(unused["key"]) - used):
        rows.append(_plan_row("none", "unused-file", None, None, [key], "no tile uses it"))
    return rows


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


def _etag(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip('"')
