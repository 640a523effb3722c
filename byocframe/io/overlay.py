"""A table without ``loaded`` tokens, laid over the collection as it is now: `overlay_edits`.

People build tables by hand, or keep a few columns of a listing for a person to edit
(``write_file(gdf[["path", "sensing_time", "geometry"]])``): such a table has lost what
each row held when it was loaded. `byocframe push FILE` lays it over a fresh listing
and pushes the differences. What the table's metadata still says (which tiles it
listed, whether that was the whole collection, how its covers were drawn, what each
tile held then: `byocframe.frame.deletions.delete_checks`) keeps the push from deleting
tiles it never listed, from rewriting covers it only drew otherwise, and from undoing
what another editor changed since.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.exceptions import ValidationError
from byocframe.frame.deletions import (
    CHECK_FLAGS,
    DeleteChecks,
    checks_now,
    delete_checks,
    fold_time,
    recorded_checks,
    with_loaded_ids,
)
from byocframe.frame.native import native_geometries
from byocframe.frame.records import ATTRS_KEY, times_us
from byocframe.frame.seal import loaded_ids
from byocframe.frame.settings import drawing
from byocframe.frame.tokens import OTHER_READ_ONLY, status_codes
from byocframe.geo.geometry import reproject

__all__ = ["overlay_edits"]

_OVERLAID = ("path", "status", "created", "ingestion_start", "native_cover", *OTHER_READ_ONLY)
#: Of those, the ones an ingestion (or a reingest) does not change.
_KEPT = ("path", "created")


def _as_drawn(current: gpd.GeoDataFrame, rows: pd.DataFrame, settings: dict[str, Any]) -> Any:
    """Which of the table's covers are the server's covers drawn as the table's were.

    A table from a load drawn with other settings (``densify=20_000``, say) shows the
    same covers with other vertices; laid over a listing drawn with the defaults, every
    one would read as an edit. None when the table was drawn as the listing is, or does
    not say how.
    """
    if "densify" not in settings and "tolerance" not in settings:
        return None
    theirs = drawing(settings)
    if theirs == drawing(current.attrs.get(ATTRS_KEY, {})) or not len(rows):
        return None
    native = native_geometries(current.loc[rows.index], "native_cover")
    codes = current.loc[rows.index, "native_crs"].to_numpy(dtype=object)
    has = ~shapely.is_missing(native) & pd.notna(codes)
    out = np.zeros(len(rows), dtype=bool)
    if has.any():
        target = current.crs.to_string() if current.crs is not None else "EPSG:4326"
        redrawn = reproject(native[has], codes[has], target, **theirs)
        table = np.asarray(rows.geometry.array)[has]
        out[has] = shapely.equals_exact(table, redrawn, tolerance=1e-7)
    return out


def _since_listed(
    current: pd.DataFrame,
    rows: pd.DataFrame,
    times: pd.Series | None,
    recorded: dict[str, Any],
    settings: dict[str, Any],
) -> list[str]:
    """The tiles whose sensing time changed since the table was listed and it left alone.

    Refuses a table that would undo a change made on the server since it was listed: a
    time it edited too, or a cover other than the server's now. Without what the
    listing recorded (``recorded``: a table with no byocframe metadata, or from before
    these were kept), nothing is known of the tiles' past and nothing is refused; a row
    whose tile the listing did not record (a row pasted in from another load) is let
    through as such, and the others are still checked.
    """
    if not recorded:
        return []
    has = np.array([str(i) in recorded for i in rows.index], dtype=bool)
    if not has.any():
        return []
    rows = rows[has]
    times = None if times is None else times[has]
    ids = [str(i) for i in rows.index]
    now = checks_now(current, ids)
    if now is None:
        return []
    listed = np.array([recorded[i] for i in ids], dtype=now.dtype)
    when = settings.get("listed_at") or "it was listed"
    keep: list[str] = []
    moved = now["sensing_time"] != listed["sensing_time"]
    if times is not None and moved.any():
        # the table holds the time as listed
        left = fold_time(times_us(times)) == listed["sensing_time"]
        server = times_us(current.loc[rows.index, "sensing_time"])
        undone = moved & ~left & (times_us(times) != server)
        if undone.any():
            tid = ids[int(np.flatnonzero(undone)[0])]
            raise ValidationError(
                f"tile {tid}: its sensing time changed on the server since this table was "
                f"listed ({when}), and the table holds another: load the tiles again and "
                "make the edit there (nothing was sent)"
            )
        keep = [ids[k] for k in np.flatnonzero(moved & left)]
    redrawn = now["native"] != listed["native"]
    if redrawn.any():
        at = np.flatnonzero(redrawn)
        table = rows.geometry.array[at]
        server_now = current.geometry.loc[rows.index[at]].array
        same = shapely.equals_exact(np.asarray(table), np.asarray(server_now), tolerance=1e-7)
        if not same.all():
            tid = ids[int(at[np.flatnonzero(~same)[0]])]
            raise ValidationError(
                f"tile {tid}: its cover changed on the server since this table was listed "
                f"({when}), and the table holds another: load the tiles again and make the "
                "edit there (nothing was sent)"
            )
    return keep


def _as_the_table_listed(
    now: dict[str, Any], ids: list[str], deleted: pd.Index, table: dict[str, Any]
) -> dict[str, Any]:
    """The listing's attrs (``now``, loaded ``ids``) with the table's record of its deletions.

    A deletion is checked on the server against what the tile held when the *table* was
    listed: one another editor changed since then is a conflict. A tile the table records
    nothing of is flagged unknown, and its deletion refused.
    """
    index = pd.Index(ids, dtype=object)
    checks = np.zeros(len(ids), dtype=DeleteChecks)
    for recorded, which in ((now, index), (table, deleted)):
        found = recorded_checks(recorded)
        at = index.get_indexer(which)
        checks[at] = np.zeros(1, dtype=DeleteChecks)  # nothing recorded of it yet
        checks["flags"][at] = CHECK_FLAGS["unknown"]
        if found is not None:
            known, then = found
            where = known.get_indexer(which)
            hit = where >= 0
            checks[at[hit]] = then[where[hit]]
    return with_loaded_ids(now, ids, checks)


def _ingested_since(
    current: pd.DataFrame, rows: pd.DataFrame, settings: dict[str, Any]
) -> pd.Index:
    """The rows whose tile the service moved on since the table was listed, left alone.

    A tile whose status or ingestion start on the server is no longer what the listing
    recorded, while the table still holds the recorded status (or no status at all),
    was ingested (or reingested) since: the columns its ingestion changes are the
    server's for it, not edits of the table's (`_KEPT`, which it does not change, are
    still compared).
    """
    recorded = delete_checks(settings)
    ids = [str(i) for i in rows.index if str(i) in recorded]
    if not ids:
        return rows.index[:0]
    then = np.array([recorded[i] for i in ids], dtype=DeleteChecks)
    now = checks_now(current, ids)
    moved = (now["status"] != then["status"]) | (now["ingestion_start"] != then["ingestion_start"])
    if "status" in rows.columns:  # a row without a status value holds none either
        given = rows.loc[ids, "status"]
        moved &= (status_codes(given) == then["status"]) | given.isna().to_numpy()
    return pd.Index(ids, dtype=object)[moved]


def _overlay_read_only(frame: pd.DataFrame, rows: pd.DataFrame) -> None:
    """Put ``rows``' values of the `_OVERLAID` columns into ``frame``, in place."""
    at = frame.index.get_indexer(rows.index)
    for name in _OVERLAID:
        if name not in rows.columns or name not in frame.columns:
            continue
        values = frame[name].astype(object).to_numpy(copy=True)
        values[at] = rows[name].astype(object).to_numpy()
        if name in ("created", "ingestion_start"):
            given = pd.Series(values, index=frame.index)
            times = pd.to_datetime(given, utc=True, format="mixed", errors="coerce")
            bad = times.isna() & given.notna()
            if bad.any():
                raise ValidationError(
                    f"tile {bad.idxmax()}: {name} {given[bad].iloc[0]!r} is not a time; "
                    f"restore it as listed (it is read-only), or drop the {name!r} column"
                )
            frame[name] = times
        else:
            frame[name] = pd.Series(values, index=frame.index, dtype=object)


def overlay_edits(client: Any, collection: str, edited: pd.DataFrame) -> tuple[Any, Any]:
    """Lay a table with no ``loaded`` column over the collection as it is now.

    For tables people build by hand: ``sensing_time`` and ``geometry`` of rows whose id
    is in the collection are edits, and so would be the columns the service owns that
    the table holds (``native_crs``, ``status``, ...): laid over the listing, a value
    that differs is refused by name; rows with no known id and a ``path`` are new tiles;
    tiles missing from the table are left out (deleted only with ``delete_missing``),
    and only when the table's metadata says it lists the whole collection: for a table
    of a filtered load only its own loaded tiles, and for a table with no byocframe
    metadata (FlatGeobuf, a file saved again by another tool) none.

    A table written by byocframe from a listing (a column selection that lost
    ``loaded``) records what each tile held then (`byocframe.frame.deletions.
    delete_checks`): a tile whose sensing time changed on the server since keeps the
    server's time where the table still holds the listed one, and a table that holds
    another time for it is refused. A tile whose cover changed on the server since is
    refused unless the table shows the server's cover now: what the listing recorded
    of a cover is a digest of its native geometry, which the table's drawn cover cannot
    be compared with, so a cover the table left alone cannot be told from one it edited
    (finding 134, kept as a refusal: never an edit undone unseen).
    Returns the frame to push and the listing it was compared with (its ``original``).

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=20) as service:
    ...     client, cid = service.client(), service.demo_collection
    ...     table = byocframe.read_tiles(client, cid)[["path", "sensing_time", "geometry"]]
    ...     table.loc[table.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    ...     frame, original = overlay_edits(client, cid, table)
    ...     found = byocframe.changes(frame, original=original, deleted=True)
    >>> found[["field", "action"]].values.tolist()
    [['sensing_time', 'update']]
    """
    from byocframe.io.listing import read_tiles

    current = read_tiles(client, collection, progress=False)
    frame = current.copy()
    if edited.crs is not None and frame.crs is not None and not edited.crs.equals(frame.crs):
        edited = edited.to_crs(frame.crs)
    known = edited.index.notna() & edited.index.isin(frame.index)
    if len(edited) and not known.any() and "path" not in edited.columns:
        raise ValidationError(
            f"not a tile table: none of its {len(edited):,} rows names a tile of collection "
            f"{collection} by its id, and it has no 'path' column for new tiles (write one "
            "with `byocframe tiles COLLECTION -o FILE`, or give new tiles a 'path')"
        )
    rows = edited[known]
    if rows.index.has_duplicates:
        twice = rows.index[rows.index.duplicated()][0]
        raise ValidationError(
            f"tile {twice!r} appears more than once in the table: keep one row per tile "
            "(e.g. table[~table.index.duplicated(keep='last')])"
        )
    settings = edited.attrs.get(ATTRS_KEY, {})
    times = (
        pd.to_datetime(rows["sensing_time"], utc=True, format="mixed")
        if "sensing_time" in rows
        else None
    )
    keep_server = _since_listed(current, rows, times, delete_checks(settings), settings)
    if times is not None:
        times = times.where(
            ~times.index.isin(keep_server), current.loc[times.index, "sensing_time"]
        )
        frame.loc[rows.index, "sensing_time"] = times
    covers = rows.geometry.array
    drawn = _as_drawn(current, rows, settings)
    if drawn is not None:  # the table's covers drawn otherwise than the listing's
        covers = np.where(drawn, np.asarray(current.geometry.loc[rows.index].array), covers)
    frame.loc[rows.index, frame.active_geometry_name] = covers
    moved = _ingested_since(current, rows, settings)
    _overlay_read_only(frame, rows.drop(index=moved))
    # of a tile the service moved on since, the columns its ingestion does not change
    # are still the table's to keep as listed: an edit of its path is refused (finding 211)
    _overlay_read_only(frame, rows.loc[moved, [c for c in _KEPT if c in rows.columns]])
    missing = frame.index.difference(edited.index[known])
    # only the table's own loaded tiles may go: tiles created since it was listed, the
    # tiles outside a filtered load (status, bbox, dates), and every tile when the table
    # does not say what it lists (no byocframe metadata) are missing from it without
    # being meant for deletion
    listed = loaded_ids(edited)
    missing = missing[:0] if listed is None else missing.intersection(pd.Index(listed))
    if len(missing):
        frame.attrs[ATTRS_KEY] = _as_the_table_listed(
            frame.attrs.get(ATTRS_KEY, {}), loaded_ids(frame) or [], missing, settings
        )
    frame = frame.drop(index=missing)
    new = edited[~known]
    gone = new.index[new.index.notna()]
    if len(gone):
        # a tile id the collection no longer holds: deleted since the table was made
        # (or of another collection); creating it again would undo that deletion unseen
        raise ValidationError(
            f"{len(gone)} row(s) of the table name a tile that is not in collection "
            f"{collection} (e.g. {str(gone[0])!r}: deleted since the table was made, or a "
            "tile of another collection?): check COLLECTION; drop those rows, or empty their "
            "id to create them again as new tiles"
        )
    if len(new):
        if "path" not in new.columns:
            raise ValidationError(
                f"{len(new)} row(s) have no known tile id and no 'path' column: give new "
                "tiles a path, or keep the 'id' column of listed tiles"
            )
        extra = gpd.GeoDataFrame(
            {
                "path": new["path"].to_numpy(),
                "sensing_time": pd.to_datetime(new.get("sensing_time"), utc=True),
            },
            geometry=new.geometry.array,
            crs=frame.crs,
        )
        frame = pd.concat([frame, extra])
    return frame, current
