"""What a deletion of a loaded tile checks on the server first, as recorded at load.

Per loaded id, a deletion reads the tile again on the server and compares a few fields
with what was loaded (`byocframe.edits.delete_checks`). Those fields are kept twice: in
each row's token (`byocframe.frame.tokens`), and for every loaded id in ``attrs`` as one
text of `DeleteChecks` sealed with the ids (`with_loaded_ids`), so a row dropped from the
frame still has them. `checks_now` reads the newest of the two.

Examples
--------
>>> import byocframe
>>> from byocframe.frame.synthetic import synthetic_tiles
>>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
>>> checks = checks_now(gdf.iloc[:1], list(gdf.index))
>>> (checks["flags"] == 0).all(), (checks["status"] > 0).all()
(np.True_, np.True_)
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from byocframe.frame.digests import ids_digest
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.seal import ids_seal
from byocframe.frame.tokens import LOADED, OTHER_READ_ONLY, TOKEN_VERSION, loaded_state

__all__ = [
    "CHECK_FLAGS",
    "LOADED_KEYS",
    "TIME_MODULUS",
    "DeleteChecks",
    "checks_now",
    "delete_checks",
    "fold_time",
    "recorded_checks",
    "token_checks",
    "with_loaded_ids",
]

#: The ``attrs`` settings that describe a whole load (`with_loaded_ids`): a part of the
#: frame written or read on its own (a partition, some row groups) leaves them out.
LOADED_KEYS = ("loaded_ids", "loaded_ids_seal", "loaded_checks", "loaded_checks_seal")
#: Per loaded id, what a deletion reads again on the server before it deletes the tile
#: (`byocframe.edits.delete_checks`), kept in ``attrs`` so a row dropped from the frame
#: still has it: the low 32 bits of the path's and the native cover's digests, the
#: ingestion start and the sensing time folded to 32 bits (`fold_time`), the additional
#: data's 32-bit digest and the status code, and `CHECK_FLAGS` (22 bytes, 30 base64
#: characters).
DeleteChecks = np.dtype(
    [
        ("path", "<u4"),
        ("ingestion_start", "<u4"),
        ("sensing_time", "<u4"),
        ("native", "<u4"),
        ("additional", "<u4"),
        ("status", "u1"),
        ("flags", "u1"),
    ]
)
#: ``flags`` of a `DeleteChecks`: nothing is known of the tile as loaded (its deletion is
#: refused); its cover was written by this client (the service keeps its own rounding
#: of it: not compared); it was created by this client and is ingested by the service
#: since (status, ingestion start and additional data are the service's: not compared).
CHECK_FLAGS = {"unknown": 1, "cover_written": 2, "created": 4}
_LOW32 = np.uint64(0xFFFFFFFF)
#: The largest prime below 2**32: a time is kept as its microseconds modulo this
#: (`fold_time`), so two times are taken as equal only 4,294.967291 s apart or a multiple of
#: that; a change by a round amount (a second, an hour, 2**26 s, a year) is never one.
TIME_MODULUS = 4_294_967_291
#: Written into the seal of the checks: records of another layout (times kept as their
#: low 32 bits, before 2026-12-07) are then read as none, and a deletion they would
#: have checked is refused instead of compared with values of another meaning.
_LAYOUT = "delete-checks/2: times modulo 4294967291"


def fold_time(us: np.ndarray | Sequence[int] | int) -> np.ndarray:
    """Microseconds since the epoch, folded to the 32 bits a `DeleteChecks` keeps.

    The remainder modulo `TIME_MODULUS`, a prime: unlike the low 32 bits (which miss a
    change by 2**26 s, finding 144), no shift by whole seconds shorter than 136 years maps
    a time onto the same value. A missing time (NaT) folds like any other integer.

    Examples
    --------
    >>> t = 1_700_000_000 * 10**6
    >>> later = t + 2**26 * 10**6
    >>> bool(fold_time(t)[0] == fold_time(later)[0]), fold_time([t])[0] < 2**32
    (False, np.True_)
    """
    values = np.atleast_1d(np.asarray(us, dtype="<i8"))
    return np.mod(values, TIME_MODULUS).astype("<u4")


def with_loaded_ids(
    settings: dict[str, Any], ids: Sequence[str], checks: np.ndarray | None = None
) -> dict[str, Any]:
    """``settings`` (a frame's byocframe attrs) with these loaded ids, sealed.

    ``checks`` are the ids' `DeleteChecks`, in the same order; without them the
    settings keep none, and a deletion of a dropped row is then checked only against
    ``original=`` (see `byocframe.edits.delete_checks`).

    Examples
    --------
    >>> settings = with_loaded_ids({"collection": "c1"}, ["a", "b"])
    >>> settings["loaded_ids"].split(), len(settings["loaded_ids_seal"])
    (['a', 'b'], 32)
    """
    ids = [str(i) for i in ids]
    seal = ids_seal(settings.get("collection"), settings.get("load"), ids)
    out = {**settings, "loaded_ids": "\n".join(ids), "loaded_ids_seal": seal}
    out.pop("loaded_checks", None)
    out.pop("loaded_checks_seal", None)
    if checks is not None:
        checks = np.ascontiguousarray(checks, dtype=DeleteChecks)
        if len(checks) != len(ids):
            raise ValueError(f"{len(checks)} delete checks for {len(ids)} loaded ids")
        text = base64.b64encode(checks.tobytes()).decode("ascii")
        out["loaded_checks"] = text
        out["loaded_checks_seal"] = ids_digest(seal, [_LAYOUT, text])
    return out


def delete_checks(settings: Mapping[str, Any]) -> dict[str, np.void]:
    """Each loaded id's `DeleteChecks`, from a frame's byocframe attrs (empty if none).

    Only checks written with the loaded ids they stand beside are read: a list of ids
    or checks edited by hand, or copied from another frame, gives none. The same as
    `recorded_checks`, by id.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> checks = delete_checks(gdf.attrs["byocframe"])
    >>> sorted(checks) == sorted(gdf.index), int(checks[gdf.index[0]]["status"]) > 0
    (True, True)
    """
    found = recorded_checks(settings)
    return {} if found is None else dict(zip(found[0], found[1], strict=True))


def recorded_checks(settings: Mapping[str, Any]) -> tuple[pd.Index, np.ndarray] | None:
    """The loaded ids and their `DeleteChecks` (read-only, in that order), or None.

    As `delete_checks`, without a Python object per id: for the writers that renew the
    record of a whole load.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> ids, checks = recorded_checks(gdf.attrs["byocframe"])
    >>> list(ids) == list(gdf.index), len(checks)
    (True, 3)
    """
    text, seal = settings.get("loaded_checks"), settings.get("loaded_checks_seal")
    ids_text, sealed = settings.get("loaded_ids"), settings.get("loaded_ids_seal")
    if not all(isinstance(v, str) for v in (text, seal, ids_text, sealed)):
        return None
    if seal != ids_digest(str(sealed), [_LAYOUT, str(text)]):
        return None
    ids = str(ids_text).split("\n") if ids_text else []
    if sealed != ids_seal(settings.get("collection"), settings.get("load"), ids):
        return None
    try:
        raw = base64.b64decode(str(text), validate=True)
    except ValueError:
        return None
    if len(raw) != len(ids) * DeleteChecks.itemsize:
        return None
    return pd.Index(ids, dtype=object), np.frombuffer(raw, dtype=DeleteChecks)


def checks_now(
    frame: pd.DataFrame, ids: Sequence[str], original: pd.DataFrame | None = None
) -> np.ndarray:
    """`DeleteChecks` of ``ids``, from the newest record of each there is.

    A row's own token in ``frame``, else what ``frame``'s attrs recorded, else the same
    two of ``original`` (the frame as loaded, when ``frame`` lost its attrs); an id with
    none of them is flagged ``unknown``, and its deletion is refused rather than sent
    unchecked. A writer that changes which ids are loaded (the push's write-back)
    records these with them (`with_loaded_ids`).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> kept = checks_now(gdf.iloc[1:], list(gdf.index))
    >>> kept.tobytes() == checks_now(gdf, list(gdf.index)).tobytes()
    True
    >>> int(checks_now(gdf, ["not-loaded"])[0]["flags"]) == CHECK_FLAGS["unknown"]
    True
    """
    wanted = pd.Index([str(t) for t in ids], dtype=object)
    out = np.zeros(len(wanted), dtype=DeleteChecks)
    found = np.zeros(len(wanted), dtype=bool)
    for source in (frame, original):
        if source is None or found.all():
            continue
        _from_tokens(source, wanted, out, found)
        if not found.all():
            recorded = delete_checks(source.attrs.get(ATTRS_KEY, {}))
            for k in np.flatnonzero(~found).tolist():
                check = recorded.get(wanted[k])
                if check is not None:
                    out[k], found[k] = check, True
    out["flags"][~found] = CHECK_FLAGS["unknown"]
    return out


def _from_tokens(frame: pd.DataFrame, wanted: pd.Index, out: np.ndarray, found: np.ndarray) -> None:
    """Fill ``out`` where ``frame`` has a row with its own token of a wanted id not found."""
    if LOADED not in frame.columns:
        return
    state = loaded_state(frame)
    rows = np.flatnonzero(state.present & (state.version >= TOKEN_VERSION))
    if not len(rows):
        return
    own = pd.Index(state.tile_id[rows].astype(str), dtype=object)
    keep = ~own.duplicated(keep="first")
    own, rows = own[keep], rows[keep]
    where = own.get_indexer(wanted)
    hit = (where >= 0) & ~found
    picked = rows[where[hit]]
    out[hit] = _checks({name: getattr(state, name)[picked] for name in _CHECKED})
    found |= hit


_CHECKED = ("path", "ingestion_start", "sensing_time", "native", "others", "status")


def token_checks(payload: np.ndarray) -> np.ndarray:
    """`DeleteChecks` of token payloads (`byocframe.frame.tokens.current_fields`).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> from byocframe.frame.tokens import current_fields
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    >>> token_checks(current_fields(gdf)).tobytes() == checks_now(gdf, list(gdf.index)).tobytes()
    True
    """
    return _checks({name: payload[name] for name in _CHECKED})


def _checks(fields: Mapping[str, np.ndarray]) -> np.ndarray:
    out = np.zeros(len(fields["path"]), dtype=DeleteChecks)
    for name in ("path", "native"):
        out[name] = np.asarray(fields[name], dtype="<u8") & _LOW32
    for name in ("ingestion_start", "sensing_time"):
        out[name] = fold_time(np.asarray(fields[name], dtype="<i8"))
    out["additional"] = np.asarray(fields["others"])[:, OTHER_READ_ONLY.index("additional_data")]
    out["status"] = fields["status"]
    return out
