"""What a tile held when it was loaded, checked again on the server before it is deleted.

A deletion is planned from a frame: a `reconcile` plan deletes the tiles whose files
were gone, `push(delete_missing=True)` the rows dropped. Another editor may have changed
the tile since (put its files back and reingested it, say): deleting it then deletes
something nobody looked at. So each delete first reads the tile and is refused as a
conflict when its path, status, ingestion start, sensing time, cover or additional
data (its ``filesMetadata``) are no longer what the tile held when it was loaded: as the row's
``loaded`` token recorded it where the push has the row (``original=``, which
`byocframe.bucket.reconcile.apply_plan` always passes), else as the load recorded it
in the frame's ``attrs`` beside the loaded ids (`byocframe.frame.deletions.delete_checks`:
32 bits of each, so a dropped row and a frame saved to a file are checked too).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from byocframe.frame.deletions import CHECK_FLAGS, delete_checks, fold_time
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.tokens import (
    OTHER_READ_ONLY,
    LoadedState,
    loaded_state,
    other_digests,
    status_codes,
)

__all__ = ["AsLoaded", "as_loaded"]

_ADDITIONAL = OTHER_READ_ONLY.index("additional_data")
#: Status codes of a tile its ingestion has not finished (`byocframe.frame.tokens`).
_PENDING = frozenset(status_codes(pd.Series(["WAITING", "QUEUED", "INGESTING"])).tolist())


_UNKNOWN: Any = object()  # no additional data as loaded: compared by digest
_TIMES = frozenset({"ingestion_start", "sensing_time"})


@dataclass(frozen=True)
class AsLoaded:
    """The digests of one tile's service-owned fields, as its row was loaded.

    Examples
    --------
    >>> import byocframe
    >>> record = {"id": "3f1e6e0a-1b2c-4d5e-8f90-0123456789ab", "path": "a/(BAND).tif",
    ...           "status": "INGESTED", "ingestionStart": "2024-06-01T00:00:00Z"}
    >>> loaded = as_loaded(byocframe.tiles_from_records([record]), [record["id"]])
    >>> check = loaded[record["id"]]
    >>> check.changed(record), check.changed({**record, "status": "FAILED"})
    ([], ['status'])
    """

    path: int
    status: int
    ingestion_start: int
    additional: int | None  # None: a version-2 token, which kept no digest of it
    #: The additional data as loaded, parsed (when the row still held it as loaded): the
    #: server's is compared by value, so keys in another order or 580 as 580.0 are the same
    additional_data: Any = _UNKNOWN
    #: Bits of the digests and times kept: 64 from a row's token, 32 from what a frame's
    #: attrs recorded of a dropped row (`DeleteChecks`: see `short`)
    bits: int = 64
    #: The sensing time and the native cover's digest (None: not checked)
    sensing_time: int | None = None
    native: int | None = None
    #: Nothing is known of the tile as loaded: its deletion is refused
    unknown: bool = False
    #: Created by this client: status, ingestion start and additional data are the
    #: service's own since (its ingestion), not compared
    created: bool = False

    def agrees(self, other: AsLoaded) -> bool:
        """Whether two records of a tile describe the same state (to 32 bits).

        `byocframe.edits.diff` keeps a row's own record (it compares the additional data
        by value) where it agrees with what the frame's attrs recorded, and the attrs'
        record where a push renewed it since.

        Examples
        --------
        >>> a = AsLoaded(path=7, status=1, ingestion_start=5, additional=3)
        >>> a.agrees(a), a.agrees(AsLoaded(path=7, status=2, ingestion_start=5, additional=3))
        (True, False)
        """
        fields = ("path", "ingestion_start", "sensing_time", "native", "additional")
        return (
            not (self.unknown or other.unknown or self.created or other.created)
            and self.status == other.status
            and all(self.short(name) == other.short(name) for name in fields)
        )

    def short(self, name: str, value: int | None = _UNKNOWN) -> int | None:
        """A field (or ``value``, as the full 64 bits of it) as a 32-bit record keeps it.

        Digests keep their low 32 bits, times are folded by
        `byocframe.frame.deletions.fold_time`; a record of 32 bits is kept as it is.

        Examples
        --------
        >>> AsLoaded(path=2**40 + 7, status=1, ingestion_start=5, additional=3).short("path")
        7
        """
        if value is _UNKNOWN:
            value = getattr(self, name)
            if self.bits == 32:
                return value
        if value is None:
            return None
        if name in _TIMES:
            return int(fold_time(int(value))[0])
        return int(value) & 0xFFFFFFFF

    def changed(self, record: Mapping[str, Any]) -> list[str]:
        """The fields of the server's ``record`` that differ from the tile as loaded."""
        from byocframe.frame.convert import tiles_from_records

        if self.unknown:
            return ["state (what it held when loaded is not recorded)"]
        now = loaded_state(tiles_from_records([record], errors="warn"))

        def moved(name: str, value: int) -> bool:
            kept = getattr(self, name)
            return (value if self.bits == 64 else self.short(name, value)) != kept

        out = []
        same_start = not moved("ingestion_start", int(now.ingestion_start[0]))
        # loaded before its ingestion ran, which nobody started again since: its status
        # and files metadata are that ingestion's
        pending = not self.created and self.status in _PENDING and same_start
        if moved("path", int(now.path[0])):
            out.append("path")
        if not (self.created or pending) and int(now.status[0]) != self.status:
            out.append("status")
        if not self.created and not same_start:
            out.append("ingestion start")
        if self.sensing_time is not None and moved("sensing_time", int(now.sensing_time[0])):
            out.append("sensing time")
        # a cover is compared even for a pending tile: one it gained since may be another
        # editor's (finding 191), so a tile its ingestion gave a cover is refused, safely
        if self.native is not None and moved("native", int(now.native[0])):
            out.append("cover")
        if self.created or pending:
            pass
        elif self.additional_data is not _UNKNOWN:
            if (record.get("additionalData") or None) != (self.additional_data or None):
                out.append("additional data (filesMetadata)")
        elif self.additional is not None and int(now.others[0, _ADDITIONAL]) != self.additional:
            out.append("additional data (filesMetadata)")
        return out


def as_loaded(frame: pd.DataFrame, ids: Iterable[str]) -> dict[str, AsLoaded]:
    """`AsLoaded` of each of ``ids`` as ``frame`` was loaded.

    From the row with the id's own ``loaded`` token, else (a row dropped since) from
    what the load recorded in ``frame.attrs`` (`byocframe.frame.deletions.delete_checks`).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> sorted(as_loaded(gdf, [gdf.index[0], "not-loaded"])) == [gdf.index[0]]
    True
    """
    ids = [str(t) for t in ids]
    out: dict[str, AsLoaded] = {}
    if "loaded" in frame.columns:
        state = loaded_state(frame)
        out = _of_state(state, ids)
        if out and "additional_data" in frame.columns:
            _add_values(frame, state, out)
    rest = [t for t in ids if t not in out]
    if rest:  # rows dropped since the load: what the load recorded of them in attrs
        recorded = delete_checks(frame.attrs.get(ATTRS_KEY, {}))
        for tid in rest:
            check = recorded.get(tid)
            if check is not None:
                flags = int(check["flags"])
                out[tid] = AsLoaded(
                    path=int(check["path"]),
                    status=int(check["status"]),
                    ingestion_start=int(check["ingestion_start"]),
                    additional=int(check["additional"]),
                    bits=32,
                    sensing_time=int(check["sensing_time"]),
                    native=None if flags & CHECK_FLAGS["cover_written"] else int(check["native"]),
                    unknown=bool(flags & CHECK_FLAGS["unknown"]),
                    created=bool(flags & CHECK_FLAGS["created"]),
                )
    return out


def _add_values(frame: pd.DataFrame, state: LoadedState, out: dict[str, AsLoaded]) -> None:
    """Give each check the row's additional data, parsed, where it is still as loaded."""
    position = {str(tid): pos for pos, tid in enumerate(state.tile_id) if str(tid) in out}
    rows = np.array(sorted(position.values()), dtype=np.int64)
    digests = other_digests(frame.iloc[rows])[:, _ADDITIONAL]
    for pos, digest in zip(rows.tolist(), digests.tolist(), strict=True):
        tid = str(state.tile_id[pos])
        check = out[tid]
        if check.additional is None or int(digest) != check.additional:
            continue  # edited since, or a version-2 token: the digest decides
        text = frame["additional_data"].iat[pos]
        try:
            value = json.loads(text) if isinstance(text, str) and text else None
        except ValueError:
            continue
        out[tid] = dataclasses.replace(check, additional_data=value)


def _of_state(state: LoadedState, ids: Iterable[str]) -> dict[str, AsLoaded]:
    row_of = {
        str(tid): pos
        for pos, (tid, present) in enumerate(zip(state.tile_id, state.present, strict=True))
        if present and tid is not None
    }
    out: dict[str, AsLoaded] = {}
    for tid in ids:
        pos = row_of.get(str(tid))
        if pos is None:
            continue
        out[str(tid)] = AsLoaded(
            path=int(state.path[pos]),
            status=int(state.status[pos]),
            ingestion_start=int(state.ingestion_start[pos]),
            additional=int(state.others[pos, _ADDITIONAL]) if state.version[pos] >= 3 else None,
            sensing_time=int(state.sensing_time[pos]),
            native=int(state.native[pos]) if state.version[pos] >= 3 else None,
        )
    return out
