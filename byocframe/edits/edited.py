"""Read an edited tile frame: which rows were loaded, from where, and what they held.

The first stage of `byocframe.edits.diff.plan` and `byocframe.edits.route.push`: `read_edited`
decodes the ``loaded`` tokens (`byocframe.frame.snapshot`), lets rows that lost theirs take
``original``'s (`adopt_tokens`, on a copy), and refuses, in one line each, a frame whose
rows cannot be matched with what was loaded: missing columns, unreadable times, rows not
indexed by their tile id, tile ids without a token, repeated tiles, and rows of several
collections or services. Nothing is compared here, and the caller's frame is never
changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.exceptions import ValidationError
from byocframe.frame.records import ATTRS_KEY, zoneless_times
from byocframe.frame.seal import loaded_ids, sealed_ids
from byocframe.frame.tokens import (
    LOADED,
    LoadedState,
    OldTokenError,
    current_fields,
    loaded_state,
    require_current,
)

__all__ = ["REQUIRED", "TILE_ID", "EditedFrame", "adopt_tokens", "check_rows", "read_edited"]

#: What a BYOC tile id looks like: a row with such an index and no token was loaded.
TILE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
#: Columns a tile frame needs for its edits to be found.
REQUIRED = ("path", "status", "sensing_time", "native_cover", "native_crs", "native_tile")


@dataclass(frozen=True)
class EditedFrame:
    """A tile frame as `read_edited` read it.

    Attributes
    ----------
    frame : GeoDataFrame
        The frame; a copy when rows took ``original``'s tokens (``adopted``).
    state : LoadedState
        Its decoded ``loaded`` tokens.
    settings : dict
        Its byocframe attrs over ``original``'s (a value the frame lost is ``original``'s).
    original : GeoDataFrame or None
        The frame as loaded, when given.
    collection : str
        The one collection its rows came from ("" when unknown).
    service : int
        The digest of the one service they came from (0 when unknown).
    adopted : bool
        Whether rows took ``original``'s tokens.
    now : numpy.ndarray
        What the loaded rows (``state.present``) hold now, as token payloads
        (`byocframe.frame.tokens.current_fields`), to compare with ``state``.
    loaded_ids : list of str or None
        The ids remembered as loaded (``original``'s when given), None when lost.
    sealed : bool
        Whether those ids match their seal (`byocframe.frame.seal.sealed_ids`), so
        deletions may be planned from them; only looked at when asked for (``ids``).
    """

    frame: pd.DataFrame
    state: LoadedState
    settings: dict[str, Any]
    original: pd.DataFrame | None
    collection: str
    service: int
    adopted: bool
    now: np.ndarray
    loaded_ids: list[str] | None
    sealed: bool


def adopt_tokens(
    frame: pd.DataFrame, original: pd.DataFrame, *, inplace: bool = False
) -> pd.DataFrame:
    """Give rows that lost their ``loaded`` token the one ``original`` has for their id.

    Returns ``frame`` itself when no row lost its token, else a copy (``inplace``: the
    frame, changed).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> bare = gdf.drop(columns="loaded")
    >>> adopt_tokens(bare, gdf)["loaded"].equals(gdf["loaded"]), "loaded" in bare
    (True, False)
    """
    if LOADED not in original.columns:
        raise ValidationError(
            "original= has no 'loaded' column: pass the frame as byocframe.read_tiles() returned it"
        )
    tokens = pd.Series(original[LOADED].to_numpy(dtype=object), index=original.index)
    tokens = tokens[~tokens.index.duplicated()]
    current = (
        pd.Series(frame[LOADED].to_numpy(dtype=object), index=frame.index)
        if LOADED in frame.columns
        else pd.Series([None] * len(frame), index=frame.index, dtype=object)
    )
    lost = current.isna().to_numpy() & frame.index.isin(tokens.index)
    if not lost.any():
        return frame
    if not inplace:
        frame = frame.copy()
    filled = current.to_numpy(dtype=object, copy=True)
    filled[lost] = tokens.reindex(frame.index[lost]).to_numpy(dtype=object)
    frame[LOADED] = pd.array(filled, dtype=pd.StringDtype(na_value=np.nan))
    return frame


def read_edited(
    frame: pd.DataFrame,
    *,
    original: pd.DataFrame | None = None,
    collection: str | None = None,
    ids: bool = False,
) -> EditedFrame:
    """Read what each row of ``frame`` was loaded as, refusing frames that cannot say.

    ``ids``: also check that the ids remembered as loaded can be trusted (``sealed``),
    for a plan that looks for deleted rows.

    Raises
    ------
    ValidationError
        When the frame cannot say what was loaded (no ``loaded`` column, or tokens
        edited or from byocframe 0.1 or 0.2), its rows cannot be matched with their tokens, or
        they come from several collections or services.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> edited = read_edited(gdf, collection="c1")
    >>> edited.collection, bool(edited.state.present.all()), edited.frame is gdf
    ('c1', True, True)
    """
    given = frame
    _require_columns_once(frame)
    if original is not None:
        frame = adopt_tokens(frame, original)
    if LOADED not in frame.columns:
        raise ValidationError(
            "this frame does not say what was loaded (no 'loaded' column): load it with "
            "byocframe.read_tiles() or byocframe.read_file(), or pass original=<the frame "
            "as loaded>"
        )
    try:
        state = loaded_state(frame)
        require_current(state)
    except OldTokenError as err:
        raise ValidationError(f"{err} (nothing was sent)") from err
    except ValueError as err:
        raise ValidationError(f"{err}: reload the tiles with byocframe.read_tiles()") from err
    settings = dict(original.attrs.get(ATTRS_KEY, {})) if original is not None else {}
    settings.update({k: v for k, v in frame.attrs.get(ATTRS_KEY, {}).items() if v is not None})
    known: set[str] = set()
    if not state.present.all():  # only rows without a token are looked up
        known = set(loaded_ids(frame) or []) | set(
            (loaded_ids(original) or []) if original is not None else []
        )
    check_rows(frame, state, pd.Index(frame.index.astype(object)), known)
    cids = set(state.collection[state.present]) - {""}
    if collection:
        cids.add(collection)
    elif not cids and settings.get("collection"):
        cids.add(str(settings["collection"]))
    if len(cids) > 1:
        raise ValidationError(
            f"the frame mixes tiles of {len(cids)} collections ({', '.join(sorted(cids))}): "
            "push each collection's rows on their own"
        )
    services = {int(s) for s in np.unique(state.service[state.present]) if s}
    if len(services) > 1:
        raise ValidationError(
            f"the frame mixes tiles loaded from {len(services)} services: push each "
            "service's rows with a client for that service"
        )
    present = np.flatnonzero(state.present)
    _require_geometries(frame)
    source = original if original is not None else frame
    return EditedFrame(
        frame=frame,
        state=state,
        settings=settings,
        original=original,
        collection=next(iter(cids), ""),
        service=next(iter(services), 0),
        adopted=frame is not given,
        now=current_fields(frame if len(present) == len(frame) else frame.iloc[present]),
        loaded_ids=loaded_ids(source),
        sealed=ids
        and sealed_ids(source, state if original is None else None)
        and (original is None or _rows_of_load(state, original)),
    )


def _rows_of_load(state: LoadedState, original: pd.DataFrame) -> bool:
    """Whether every row with a token carries ``original``'s load.

    ``original`` lends its list of loaded ids only to rows of its own load: the rows of
    another load (a filtered one: bbox, status, dates) would see every tile outside
    their filter as dropped.
    """
    load = original.attrs.get(ATTRS_KEY, {}).get("load")
    return isinstance(load, int) and bool((state.load[state.present] == load).all())


def check_rows(
    frame: pd.DataFrame, state: LoadedState, ids: pd.Index, known: set[str] | None = None
) -> None:
    """Refuse frames whose rows cannot be matched with what was loaded, in one line."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"the frame lacks the column(s) {', '.join(missing)}: edit the frame that "
            "byocframe.read_tiles() or byocframe.read_file() gave (select columns only "
            "to look at them)"
        )
    for name in ("sensing_time", "created", "ingestion_start"):
        naive = zoneless_times(frame[name]) if name in frame.columns else np.zeros(0, bool)
        if naive.any():
            at = int(np.argmax(naive))
            raise ValidationError(
                f"{name} has a time without a time zone (row {ids[at]!r}: "
                f"{frame[name].iloc[at]!r}): the times it held were UTC; if these are UTC "
                f"still, frame[{name!r}] = pd.to_datetime(frame[{name!r}]).dt.tz_localize("
                "'UTC') (local times: tz_localize(<their zone>) instead)"
            )
    for name in ("sensing_time", "created", "ingestion_start"):
        if name in frame.columns and not isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            values = frame[name]
            parsed = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
            bad = np.flatnonzero(parsed.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                raise ValidationError(
                    f"{name}: row {ids[bad[0]]!r} holds {values.iloc[bad[0]]!r}, which is "
                    f"not a time ({len(bad)} such row(s)); write ISO 8601, e.g. "
                    "2024-06-01T10:00:00Z"
                )
    present = state.present
    named = ids if present.all() else ids[present]
    here = named.to_numpy(dtype=object)
    as_text = True  # whether the loaded rows' index values are their tile ids as they are
    if present.any():
        tokens = state.tile_id[present]
        try:
            wrong = np.flatnonzero(tokens != here)
        except TypeError:  # pd.NA in the index, say
            wrong = np.arange(len(here))
        if len(wrong):  # an index of numbers, say: compare the text of those
            as_text = False
            wrong = wrong[[str(here[i]) != tokens[i] for i in wrong]]
        if len(wrong):
            first = int(np.flatnonzero(present)[wrong[0]])
            hint = (
                "call .set_index('id')"
                if "id" in frame.columns
                else "keep the tile ids as the index"
            )
            raise ValidationError(
                f"{len(wrong)} row(s) are not indexed by their tile id (row {first} is "
                f"{ids[first]!r} but was loaded as tile {state.tile_id[first]!r}): {hint}"
            )
    strays = [
        i
        for i in ids[~present]
        if isinstance(i, str) and (i in (known or set()) or TILE_ID.fullmatch(i))
    ]
    if strays:
        raise ValidationError(
            f"{len(strays)} row(s) have a tile id but no 'loaded' value (e.g. {strays[0]!r}): "
            "a new tile has no id yet (leave its index empty), and a loaded tile keeps its "
            "'loaded' value (edit the row instead of replacing it)"
        )
    # a set of texts finds repeats faster than the Index, which then names the first
    if (not as_text or len(set(here)) < len(here)) and named.has_duplicates:
        twice = named[named.duplicated()][0]
        raise ValidationError(
            f"tile {twice!r} appears more than once: keep one row per tile "
            "(e.g. frame[~frame.index.duplicated()])"
        )


def _require_columns_once(frame: pd.DataFrame) -> None:
    """Refuse a frame whose columns repeat a name, or whose covers are not its geometry.

    ``pd.concat(axis=1)`` of fixed times gives two ``sensing_time`` columns; after
    ``set_geometry("tile_geometry")`` (to look at the tiles' outlines) the outlines
    would be taken for the covers and an edit of ``geometry`` would go unseen; a frame
    whose cover column was dropped has no covers to compare.
    """
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):
        raise ValidationError(
            f"the frame holds the column {twice[0]!r} more than once: keep one (e.g. "
            "frame.loc[:, ~frame.columns.duplicated(keep='last')] keeps the last)"
        )
    if not isinstance(frame, gpd.GeoDataFrame):
        return
    active = frame.active_geometry_name
    if active is None or active not in frame.columns:
        raise ValidationError(
            f"the frame has no cover column ({active or 'geometry'!r} was dropped): edit "
            "the frame byocframe.read_tiles() or byocframe.read_file() gave, or pass "
            "original=<the frame as loaded> with the covers"
        )
    if active == "tile_geometry" or (active != "geometry" and "geometry" in frame.columns):
        raise ValidationError(
            f"the frame's active geometry is {active!r}, not the covers ('geometry'): call "
            "frame.set_geometry('geometry') before changes() or push()"
        )


def _require_geometries(frame: pd.DataFrame) -> None:
    """Refuse a ``tile_geometry`` column that holds no geometries, naming where it went.

    geopandas or pandas reading a file byocframe wrote (``gpd.read_file`` of a GPKG)
    leave the second geometry column as text or bytes.
    """
    if "tile_geometry" not in frame.columns:
        return
    values = np.asarray(frame["tile_geometry"].array, dtype=object)
    wrong = np.flatnonzero(~(shapely.is_geometry(values) | pd.isna(values)))
    if len(wrong):
        kind = type(values[wrong[0]]).__name__
        raise ValidationError(
            f"column 'tile_geometry' holds {kind} values, not geometries "
            "(a file of byocframe's read with geopandas or pandas?): read it with "
            "byocframe.read_file, or drop the column"
        )
