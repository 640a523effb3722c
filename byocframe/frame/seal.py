"""The ids a frame loaded, kept in ``attrs`` and sealed to that load.

A tile frame remembers which tiles it loaded (``attrs["byocframe"]["loaded_ids"]``, one
text) so that a row dropped from the frame is planned as a deletion. The text is sealed
with a digest of the collection, the load number (`byocframe.frame.tokens.load_number`)
and the ids (`ids_seal`): ids added to a file's metadata by hand, ``attrs`` of a load of
other tiles, or rows of two loads joined break the seal, and no deletion is planned from
them. Writing the ids, with what their deletions check, is
`byocframe.frame.deletions.with_loaded_ids`.

Examples
--------
>>> import byocframe
>>> from byocframe.frame.synthetic import synthetic_tiles
>>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
>>> loaded_ids(gdf) == list(gdf.index), sealed_ids(gdf), sealed_ids(gdf.iloc[1:])
(True, True, True)
>>> gdf.attrs["byocframe"]["loaded_ids"] = "another-tile"
>>> sealed_ids(gdf)
False
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from byocframe.frame.digests import ids_digest
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.tokens import LoadedState, loaded_state

__all__ = ["ids_seal", "loaded_ids", "sealed_ids"]


def ids_seal(collection: Any, load: Any, ids: Sequence[str]) -> str:
    """The seal of a load's ids: a digest of the collection, the load number and the ids.

    Examples
    --------
    >>> len(ids_seal("c1", 7, ["a", "b"])), ids_seal("c1", 7, ["a"]) == ids_seal("c1", 8, ["a"])
    (32, False)
    """
    return ids_digest(f"{collection or ''}\0{load}", ids)


def loaded_ids(frame: pd.DataFrame) -> list[str] | None:
    """The ids of the tiles that were loaded, or None when ``attrs`` lost them."""
    text = frame.attrs.get(ATTRS_KEY, {}).get("loaded_ids")
    if not isinstance(text, str):
        return None
    return text.split("\n") if text else []


def sealed_ids(frame: pd.DataFrame, state: LoadedState | None = None) -> bool:
    """Whether the loaded ids in ``attrs`` are those this frame's load recorded.

    The ids are sealed with a digest of the collection, the load and the ids
    (`with_loaded_ids`), and every row with a token must carry that load: ids added
    to a file's metadata by hand, ``attrs`` of a load of other tiles, or rows of two
    such loads joined break the seal, and no deletion is planned from them.
    """
    settings = frame.attrs.get(ATTRS_KEY, {})
    ids = loaded_ids(frame)
    seal, load = settings.get("loaded_ids_seal"), settings.get("load")
    if ids is None or not isinstance(seal, str) or not isinstance(load, int):
        return False
    if seal != ids_seal(settings.get("collection"), load, ids):
        return False
    state = loaded_state(frame) if state is None else state
    return bool((state.load[state.present] == load).all())
