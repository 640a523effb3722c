"""What each row of a tile frame held when it was loaded, stamped in one go.

A loaded tile frame records its own state in two places: each row's ``loaded`` token
(`byocframe.frame.tokens`: digests of what the row held, which survive what pandas does
to rows and every file format that keeps a text column) and, in ``.attrs``, the ids that
were loaded, sealed to the load (`byocframe.frame.seal`), with what each one's deletion
checks on the server (`byocframe.frame.deletions`). `stamp` writes both. The names of
those modules stay importable from here.

Examples
--------
>>> import byocframe
>>> from byocframe.frame.synthetic import synthetic_tiles
>>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
>>> state = loaded_state(gdf)
>>> bool(state.present.all()), int((state.sensing_time == times_us(gdf["sensing_time"])).sum())
(True, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from byocframe.frame.deletions import (
    CHECK_FLAGS,
    LOADED_KEYS,
    DeleteChecks,
    checks_now,
    delete_checks,
    token_checks,
    with_loaded_ids,
)
from byocframe.frame.digests import geometry_digest, service_digest, text_digest
from byocframe.frame.records import ATTRS_KEY, NAT, times_us
from byocframe.frame.seal import loaded_ids, sealed_ids
from byocframe.frame.settings import Drawing, drawing, json_safe, saved_settings
from byocframe.frame.tokens import (
    LOADED,
    OTHER_READ_ONLY,
    LoadedState,
    OldTokenError,
    current_fields,
    encode_tokens,
    load_number,
    loaded_state,
    other_digests,
    own_tokens,
    require_current,
    wkb_digest,
)

__all__ = [
    "ATTRS_KEY",
    "CHECK_FLAGS",
    "LOADED",
    "LOADED_KEYS",
    "NAT",
    "OTHER_READ_ONLY",
    "DeleteChecks",
    "Drawing",
    "LoadedState",
    "OldTokenError",
    "checks_now",
    "current_fields",
    "delete_checks",
    "drawing",
    "geometry_digest",
    "json_safe",
    "load_number",
    "loaded_ids",
    "loaded_state",
    "other_digests",
    "own_tokens",
    "require_current",
    "saved_settings",
    "sealed_ids",
    "service_digest",
    "stamp",
    "text_digest",
    "times_us",
    "with_loaded_ids",
    "wkb_digest",
]


def stamp(
    frame: pd.DataFrame,
    *,
    collection: str,
    service: str,
    rows: Any = None,
) -> np.ndarray:
    """Record in ``frame[LOADED]`` what the rows hold now, as loaded from ``service``.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame; changed in place.
    collection, service : str
        Where the rows came from ("" when unknown, e.g. from saved records).
    rows : array-like of int, optional
        Positions of the rows to stamp; by default every row, which also resets the
        ids remembered as loaded (``attrs["byocframe"]["loaded_ids"]``) and what their
        deletions check (`delete_checks`).

    Returns
    -------
    numpy.ndarray
        The stamped rows' `DeleteChecks`, in their order (for a loader that stamps
        batch by batch and records the loaded ids itself).
    """
    whole = rows is None
    positions = np.arange(len(frame)) if whole else np.asarray(rows, dtype=int)
    part = frame.iloc[positions]
    payload = current_fields(part)
    payload["service"] = service_digest(service)
    settings = dict(frame.attrs.get(ATTRS_KEY, {}))
    load = settings.get("load")
    if whole or not isinstance(load, int) or not 0 < load < 1 << 24:
        # names this load: the same listing loaded twice gives the same frame
        load = load_number(collection, service, _texts(frame.index))
    payload["load"] = np.frombuffer(load.to_bytes(3, "little"), dtype=np.uint8)
    tokens = encode_tokens(collection, _texts(part.index), payload)
    if LOADED not in frame.columns:
        frame[LOADED] = pd.array([None] * len(frame), dtype=pd.StringDtype(na_value=np.nan))
    column = frame.columns.get_loc(LOADED)
    if whole:
        frame[LOADED] = pd.array(tokens, dtype=pd.StringDtype(na_value=np.nan))
    elif len(positions):
        frame.iloc[positions, column] = tokens
    settings.update(collection=collection, service=service, load=load)
    checks = token_checks(payload)
    if whole:
        settings = with_loaded_ids(settings, _texts(frame.index), checks)
    frame.attrs[ATTRS_KEY] = settings
    return checks


def _texts(index: pd.Index) -> list[str]:
    """The labels as text (an Arrow-backed index is slow to iterate item by item)."""
    return [str(i) for i in index.to_numpy(dtype=object)]


#: Moved to `byocframe.frame.collection_state` (December 2026); still importable from here.
_MOVED = frozenset(
    {
        "COLLECTION_EDITABLE",
        "COLLECTION_READ_ONLY",
        "collection_state",
        "loaded_collections",
        "stamp_collections",
    }
)


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        from byocframe.frame import collection_state

        return getattr(collection_state, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
