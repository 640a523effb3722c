"""What each row of a tile frame held when it was loaded: the ``loaded`` column.

Every tile row carries one short text token (about 220 characters) recording, at load
time, the collection, the tile id, a digest of the service's base URL, the sensing time, the
read-only fields (path, status, created, ingestion start), exact digests
(`byocframe.frame.digests`) of the displayed ``geometry``, the ``tile_geometry`` and the
``native_cover``, and 32-bit digests of every other column the service owns
(`OTHER_READ_ONLY`: ``native_crs``, ``additional_data``, ...), so an edit of any of them
is refused rather than lost. The loaded cover itself is the ``native_cover`` column, which is
therefore read-only: an edit there is refused, not sent. Because the state travels *in
the rows*, it survives what pandas does to rows
(filters, ``.drop``, sorts, ``pd.concat`` with new rows, ``copy``) and every file
format that keeps a text column, at no cost to ordinary pandas operations. ``.attrs``
keeps only scalars: the collection, the service, the densify step and the ids that were
loaded (one text, sealed with a digest, so deleted rows can be found and a list edited
by hand plans no deletion).

Rows with no token are new tiles. The token is opaque on purpose: edit ``sensing_time``
and ``geometry``, never ``loaded``.

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

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from byocframe.frame.canonical import canonical_text
from byocframe.frame.digests import (
    blob_digest,
    geometry_digest,
    ids_digest,
    service_digest,
    text_digest,
)
from byocframe.frame.native import native_blobs
from byocframe.frame.records import ATTRS_KEY, NAT, STATUSES, times_us
from byocframe.frame.settings import Drawing, drawing, json_safe, saved_settings

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

#: Name of the column holding each row's loaded-state token.
LOADED = "loaded"
#: The ``attrs`` settings that describe a whole load (`with_loaded_ids`): a part of the
#: frame written or read on its own (a partition, some row groups) leaves them out.
LOADED_KEYS = ("loaded_ids", "loaded_ids_seal", "loaded_checks", "loaded_checks_seal")
#: The other columns of a tile frame that the service owns: an edit of one is refused, so
#: each row's token keeps a 32-bit digest of each (`other_digests`), in this order.
OTHER_READ_ONLY = (
    "native_crs",
    "native_tile",
    "additional_data",
    "other_data",
    "geometry_source",
    "min_meters_per_pixel",
    "max_meters_per_pixel",
    "failed_ingestion_cause",
    "warnings",
    "has_added_points",
)

#: Version 3 (byocframe 0.3): version 2 plus digests of the `OTHER_READ_ONLY` columns;
#: ``native`` digests the WKB bytes of ``native_cover`` (`wkb_digest`), not its geometry.
#: Version 2 (0.2) had exact XXH3 digests (`byocframe.frame.digests`) and a digest of
#: ``native_cover``; version 1 summed coordinate bits, which missed sign flips.
_VERSION = 3
_V2_FIELDS = [
    ("version", "<u1"),
    ("status", "<u1"),
    ("load", "<u1", (3,)),  # which load stamped the row (see `stamp`)
    ("service", "<u8"),
    ("path", "<u8"),
    ("sensing_time", "<i8"),
    ("created", "<i8"),
    ("ingestion_start", "<i8"),
    ("geometry", "<u8"),
    ("tile", "<u8"),
    ("native", "<u8"),
]
_V2_PAYLOAD = np.dtype(_V2_FIELDS)
_PAYLOAD = np.dtype(
    [
        *_V2_FIELDS,
        ("others", "<u4", (len(OTHER_READ_ONLY),)),
        ("reserved", "<u2"),  # zero; pads the payload to whole base64 characters
    ]
)
_CHARS = _PAYLOAD.itemsize * 4 // 3  # 111 bytes -> 148 base64 characters, no padding
#: Characters of a version-2 payload (69 bytes): read, but refused for a push.
_V2_CHARS = _V2_PAYLOAD.itemsize * 4 // 3
#: Characters of a version-1 payload (60 bytes), told apart to say "reload".
_OLD_CHARS = 80
_STATUS_CODE = {name: i + 1 for i, name in enumerate(STATUSES)}
#: Per loaded id, what a deletion reads again on the server before it deletes the tile
#: (`byocframe.edits.delete_checks`), kept in ``attrs`` so a row dropped from the frame
#: still has it: the low 32 bits of the path's digest, the ingestion start, the sensing
#: time and the native cover's digest, the additional data's 32-bit digest and the
#: status code, and `CHECK_FLAGS` (22 bytes, 30 base64 characters).
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


class OldTokenError(ValueError):
    """A ``loaded`` token written by an earlier byocframe, whose digests are not trusted."""


@dataclass(frozen=True)
class LoadedState:
    """The decoded ``loaded`` tokens of a frame, one entry per row.

    Attributes
    ----------
    present : numpy.ndarray of bool
        Whether the row has a token (False: a new row).
    collection, tile_id : numpy.ndarray of object
        The collection id each row was loaded from ("" when unknown), and the row's own
        tile id (None for new rows).
    service, path, geometry, tile, native : numpy.ndarray of uint64
        Digests of the service base URL, the path, the displayed geometry, the
        displayed tile geometry (`byocframe.frame.digests`) and the WKB bytes of
        ``native_cover`` (`wkb_digest`; version 2 digested its geometry).
    sensing_time, created, ingestion_start : numpy.ndarray of int64
        Microseconds since the epoch; `NAT` when missing.
    status : numpy.ndarray of uint8
        1 + the position in `byocframe.frame.records.STATUSES`; 0 when missing.
    load : numpy.ndarray of uint32
        The load that stamped the row (24 bits of a digest of the collection, service
        and ids loaded; ``attrs`` ``"load"``).
    others : numpy.ndarray of uint32, shape (n, len(OTHER_READ_ONLY))
        32-bit digests of the other read-only columns (`other_digests`); 0 in rows whose
        token is of version 2, which did not keep them.
    version : numpy.ndarray of uint8
        The token's format version (0 for new rows).
    """

    present: np.ndarray
    collection: np.ndarray
    tile_id: np.ndarray
    service: np.ndarray
    path: np.ndarray
    sensing_time: np.ndarray
    created: np.ndarray
    ingestion_start: np.ndarray
    status: np.ndarray
    geometry: np.ndarray
    tile: np.ndarray
    native: np.ndarray
    load: np.ndarray
    others: np.ndarray
    version: np.ndarray


def _column_or_none(frame: pd.DataFrame, name: str) -> Any:
    return frame[name].array if name in frame.columns else [None] * len(frame)


def current_fields(frame: pd.DataFrame) -> np.ndarray:
    """The token payload for what the rows hold now (service digest left 0)."""
    payload = np.zeros(len(frame), dtype=_PAYLOAD)
    payload["version"] = _VERSION
    payload["status"] = _status_codes(frame["status"])
    payload["path"] = text_digest(frame["path"].to_numpy(dtype=object))
    for name in ("sensing_time", "created", "ingestion_start"):
        payload[name] = times_us(frame[name]) if name in frame.columns else NAT
    payload["geometry"] = geometry_digest(frame.geometry.array)
    payload["tile"] = geometry_digest(_column_or_none(frame, "tile_geometry"))
    payload["native"] = wkb_digest(frame, "native_cover")
    payload["others"] = other_digests(frame)
    return payload


def other_digests(frame: pd.DataFrame) -> np.ndarray:
    """32-bit digests of the `OTHER_READ_ONLY` columns, one row per frame row.

    A missing value (or a column the frame does not have) gives 0, any other value a
    digest that is never 0. Values are digested as canonical texts, so a file format
    that brings a column back in another dtype (numbers as float64, flags as 0/1,
    categories as text) gives the same digests; ``native_tile`` is digested as the WKB
    bytes the frame keeps (`byocframe.frame.native.native_blobs`).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    >>> before = other_digests(gdf)
    >>> gdf.loc[gdf.index[0], "native_crs"] = "EPSG:32602"
    >>> (other_digests(gdf) != before).nonzero()
    (array([0]), array([0]))
    """
    out = np.zeros((len(frame), len(OTHER_READ_ONLY)), dtype=np.uint32)
    for k, name in enumerate(OTHER_READ_ONLY):
        if name not in frame.columns or not len(frame):
            continue
        if name == "native_tile":
            digests = wkb_digest(frame, name)
        else:
            column = frame[name]
            try:
                codes, uniques = pd.factorize(column, use_na_sentinel=True)
            except TypeError:  # dicts or lists (someone parsed the JSON to look inside)
                texts = [canonical_text(name, v) for v in column.to_numpy(dtype=object)]
                codes, uniques = pd.factorize(np.array(texts, dtype=object), use_na_sentinel=True)
            else:
                texts = [canonical_text(name, u) for u in np.asarray(uniques, dtype=object)]
                uniques = np.array(texts, dtype=object)
            digests = np.append(text_digest(uniques), np.uint64(0))[codes]
        # both halves of the 64 bits; a present value is never 0
        folded = ((digests >> np.uint64(32)) ^ digests) & np.uint64(0xFFFF_FFFF)
        folded[(folded == 0) & (digests != 0)] = 1
        out[:, k] = folded.astype(np.uint32)
    return out


def wkb_digest(frame: pd.DataFrame, column: str) -> np.ndarray:
    """XXH3-64 digests of a native column's WKB bytes, each distinct blob digested once.

    Exact: any change of a coordinate's bits changes the bytes. The bytes are those
    the frame keeps (`byocframe.frame.native.native_blobs`), written by one encoder, so
    an unedited geometry keeps its bytes through files and copies; nothing is decoded.
    Missing values (or no such column) give 0.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    >>> a = wkb_digest(gdf, "native_cover")
    >>> import shapely
    >>> from byocframe.frame.native import native_geometries, put_native
    >>> cover = native_geometries(gdf, "native_cover")[0]
    >>> put_native(gdf, [0], "native_cover", [shapely.transform(cover, lambda xy: xy + 1e-9)])
    >>> (wkb_digest(gdf, "native_cover") != a).tolist()
    [True, False]
    """
    codes, uniques = pd.factorize(native_blobs(frame, column), use_na_sentinel=True)
    digests = np.append(blob_digest(np.asarray(uniques, dtype=object)), np.uint64(0))
    return digests[codes]


def _status_codes(status: pd.Series) -> np.ndarray:
    """1 + the position of each status in `STATUSES` (0: missing or unknown)."""
    if isinstance(status.dtype, pd.CategoricalDtype):
        # one look-up per category; code -1 (missing) takes the appended 0
        known = [_STATUS_CODE.get(c, 0) if isinstance(c, str) else 0 for c in status.cat.categories]
        return np.array([*known, 0], dtype=np.uint8)[status.cat.codes.to_numpy()]
    values = status.astype(object).to_numpy()
    return np.array(
        [_STATUS_CODE.get(s, 0) if isinstance(s, str) else 0 for s in values], dtype=np.uint8
    )


def _encode(collection: str, ids: Sequence[Any], payload: np.ndarray) -> list[str]:
    """``<collection>:<tile id>:<148 base64 characters>`` per row."""
    text = base64.urlsafe_b64encode(payload.tobytes()).decode("ascii")
    return [
        f"{collection}:{tid}:{text[i * _CHARS : (i + 1) * _CHARS]}" for i, tid in enumerate(ids)
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
    tokens = _encode(collection, _texts(part.index), payload)
    if LOADED not in frame.columns:
        frame[LOADED] = pd.array([None] * len(frame), dtype=pd.StringDtype(na_value=np.nan))
    column = frame.columns.get_loc(LOADED)
    if whole:
        frame[LOADED] = pd.array(tokens, dtype=pd.StringDtype(na_value=np.nan))
    elif len(positions):
        frame.iloc[positions, column] = tokens
    settings.update(collection=collection, service=service, load=load)
    checks = _checks_of(payload)
    if whole:
        settings = with_loaded_ids(settings, _texts(frame.index), checks)
    frame.attrs[ATTRS_KEY] = settings
    return checks


def _texts(index: pd.Index) -> list[str]:
    """The labels as text (an Arrow-backed index is slow to iterate item by item)."""
    return [str(i) for i in index.to_numpy(dtype=object)]


def load_number(collection: str, service: str, ids: Sequence[str]) -> int:
    """The number `stamp` gives a load of ``ids`` (24 bits, never 0).

    It names the load: the same listing loaded twice gives the same frame. A loader
    that stamps rows batch by batch (`byocframe.write_listing`) sets it in ``attrs``
    first.

    Examples
    --------
    >>> 0 < load_number("c1", "http://localhost", ["a", "b"]) < 1 << 24
    True
    """
    return int(ids_digest(f"{collection}\0{service}", ids)[:6], 16) | 1


def loaded_state(frame: pd.DataFrame) -> LoadedState:
    """Decode the ``loaded`` column (rows without a token are marked not present).

    Tokens of version 2 are read (their ``others`` are 0); `require_current` tells
    whether a frame's tokens can back a push.

    Raises
    ------
    OldTokenError
        When a token was written by byocframe 0.1 (version 1), whose geometry digest
        missed some edits: the frame must be loaded again.
    ValueError
        When a token is malformed (someone edited the ``loaded`` column).
    """
    n = len(frame)
    tokens = (
        frame[LOADED].to_numpy(dtype=object)
        if LOADED in frame.columns
        else np.full(n, None, dtype=object)
    )
    given = ~np.asarray(pd.isna(tokens), dtype=bool)
    texts = tokens[given]
    if len(texts) and pd.api.types.infer_dtype(texts, skipna=False) != "string":
        texts = pd.Series(texts, dtype=object).astype(str).to_numpy(dtype=object)
    payload = np.zeros(n, dtype=_PAYLOAD)
    payload["sensing_time"] = payload["created"] = payload["ingestion_start"] = NAT
    collection = np.full(n, "", dtype=object)
    tile_id = np.full(n, None, dtype=object)
    if len(texts):
        rows = np.flatnonzero(given)
        try:
            decoded, collection[given], tile_id[given] = _parse(texts, rows)
        except OldTokenError:
            raise
        except ValueError as err:
            raise ValueError(f"the {LOADED!r} column was edited ({err})") from err
        payload[given] = decoded
    return LoadedState(
        present=given,
        collection=collection,
        tile_id=tile_id,
        service=payload["service"].copy(),
        path=payload["path"].copy(),
        sensing_time=payload["sensing_time"].copy(),
        created=payload["created"].copy(),
        ingestion_start=payload["ingestion_start"].copy(),
        status=payload["status"].copy(),
        geometry=payload["geometry"].copy(),
        tile=payload["tile"].copy(),
        native=payload["native"].copy(),
        load=payload["load"].astype(np.uint32) @ np.array([1, 1 << 8, 1 << 16], np.uint32),
        others=payload["others"].copy(),
        version=payload["version"].copy(),
    )


def own_tokens(frame: pd.DataFrame) -> tuple[LoadedState | None, np.ndarray]:
    """The decoded tokens, and which rows carry a readable token of their own tile id.

    A frame whose ``loaded`` column cannot be read (edited, or from byocframe 0.1) gives
    None and no row: callers then compare what the rows hold instead of trusting tokens.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> _, own = own_tokens(gdf.set_axis(["x", *gdf.index[1:]]))
    >>> own.tolist()
    [False, True, True]
    """
    try:
        state = loaded_state(frame)
    except ValueError:
        return None, np.zeros(len(frame), dtype=bool)
    return state, state.present & (state.tile_id == frame.index.to_numpy(dtype=object))


def require_current(state: LoadedState) -> None:
    """Refuse tokens of version 2, which do not say what the other read-only columns held.

    Raises
    ------
    OldTokenError
        When a row's token is of version 2 (byocframe 0.2): an edit of ``native_crs``,
        ``additional_data`` or another read-only column would be neither sent nor refused.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> require_current(loaded_state(byocframe.tiles_from_records(synthetic_tiles(2, seed=1))))
    """
    old = np.flatnonzero(state.present & (state.version < _VERSION))
    if len(old):
        raise OldTokenError(
            f"the {LOADED!r} column of {len(old)} rows (first: row {old[0]}) was written by "
            "byocframe 0.2, which did not record the read-only columns (native_crs, "
            "additional_data, ...), so an edit there could not be seen: load the tiles again "
            "with byocframe.read_tiles() and redo the edits"
        )


_COLON = ord(":")


def _parse(texts: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The payloads, collections and tile ids of tokens (``rows``: their frame positions).

    A token is ``<head>:<payload>``; the head splits at its first ":" into the
    collection and the tile id. Tokens of one length, in ASCII, are read as one block of
    bytes (the usual case: one collection, tile ids that are UUIDs, one version); a head
    that does not start with the first token's collection is split on its own, and
    tokens of several lengths are read one by one.
    """
    n = len(texts)
    collection = np.empty(n, dtype=object)
    tile_id = np.empty(n, dtype=object)
    joined = "".join(texts)
    width = len(texts[0])
    body = 0
    if joined.isascii() and len(joined) == n * width:
        chars = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(n, width)
        for size in (_CHARS, _V2_CHARS):
            if width > size and (chars[:, -size - 1] == _COLON).all():
                body = size
                break
    if body:
        try:
            decoded = _decode(chars[:, -body:])
        except ValueError:  # e.g. a version-2 head with a ":" where a v3 body would start
            body = 0
    if not body:
        out = np.zeros(n, dtype=_PAYLOAD)
        for i, text in enumerate(texts):
            head, colon, tail = text.rpartition(":")
            if colon and len(tail) == _OLD_CHARS:
                raise OldTokenError(
                    f"the {LOADED!r} column was written by byocframe 0.1 (row {rows[i]}), "
                    "whose digest of covers missed some edits (sign flips): load the "
                    "tiles again with byocframe.read_tiles() and redo the edits"
                )
            if not colon or len(tail) not in (_CHARS, _V2_CHARS):
                raise ValueError(f"row {rows[i]} holds no token")
            one = np.frombuffer(tail.encode("ascii", "replace"), dtype=np.uint8)
            out[i] = _decode(one.reshape(1, -1))[0]
            collection[i], _, tile_id[i] = head.partition(":")
        return out, collection, tile_id
    name, colon, _ = texts[0][: -body - 1].partition(":")
    prefix = f"{name}{colon}"
    skip = len(prefix)
    collection[:] = name
    tile_id[:] = [t[skip : -body - 1] for t in texts]
    starts = (chars[:, :skip] == np.frombuffer(prefix.encode(), dtype=np.uint8)).all(axis=1)
    split = np.flatnonzero(~starts) if colon else np.arange(n)
    for k in split:
        collection[k], _, tile_id[k] = texts[k][: -body - 1].partition(":")
    return decoded, collection, tile_id


def _decode(chars: np.ndarray) -> np.ndarray:
    """Payload records from rows of URL-safe base64 characters (uint8).

    Rows of `_CHARS` characters are version 3; rows of `_V2_CHARS` version 2 (their
    ``others`` left 0).

    Raises
    ------
    ValueError
        When the characters are not the base64 of whole payloads of their version.
    """
    width = chars.shape[1]
    layout = _PAYLOAD if width == _CHARS else _V2_PAYLOAD
    raw = base64.urlsafe_b64decode(np.ascontiguousarray(chars).tobytes())
    if len(raw) != len(chars) * layout.itemsize:
        raise ValueError("a token's payload is not base64")
    decoded = np.frombuffer(raw, dtype=layout)
    if (decoded["version"] != (_VERSION if layout is _PAYLOAD else 2)).any():
        raise ValueError("a token is of another version than its length says")
    if layout is _PAYLOAD:
        return decoded
    out = np.zeros(len(decoded), dtype=_PAYLOAD)
    for field in _V2_FIELDS:
        out[field[0]] = decoded[field[0]]
    return out


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
    if seal != ids_digest(f"{settings.get('collection') or ''}\0{load}", ids):
        return False
    state = loaded_state(frame) if state is None else state
    return bool((state.load[state.present] == load).all())


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
    seal = ids_digest(f"{settings.get('collection') or ''}\0{settings.get('load')}", ids)
    out = {**settings, "loaded_ids": "\n".join(ids), "loaded_ids_seal": seal}
    out.pop("loaded_checks", None)
    out.pop("loaded_checks_seal", None)
    if checks is not None:
        checks = np.ascontiguousarray(checks, dtype=DeleteChecks)
        if len(checks) != len(ids):
            raise ValueError(f"{len(checks)} delete checks for {len(ids)} loaded ids")
        text = base64.b64encode(checks.tobytes()).decode("ascii")
        out["loaded_checks"] = text
        out["loaded_checks_seal"] = ids_digest(seal, [text])
    return out


def delete_checks(settings: Mapping[str, Any]) -> dict[str, np.void]:
    """Each loaded id's `DeleteChecks`, from a frame's byocframe attrs (empty if none).

    Only checks written with the loaded ids they stand beside are read: a list of ids
    or checks edited by hand, or copied from another frame, gives none.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> checks = delete_checks(gdf.attrs["byocframe"])
    >>> sorted(checks) == sorted(gdf.index), int(checks[gdf.index[0]]["status"]) > 0
    (True, True)
    """
    text, seal = settings.get("loaded_checks"), settings.get("loaded_checks_seal")
    ids_text, ids_seal = settings.get("loaded_ids"), settings.get("loaded_ids_seal")
    if not all(isinstance(v, str) for v in (text, seal, ids_text, ids_seal)):
        return {}
    if seal != ids_digest(str(ids_seal), [str(text)]):
        return {}
    ids = str(ids_text).split("\n") if ids_text else []
    expected = ids_digest(f"{settings.get('collection') or ''}\0{settings.get('load')}", ids)
    if ids_seal != expected:
        return {}
    try:
        raw = base64.b64decode(str(text), validate=True)
    except ValueError:
        return {}
    if len(raw) != len(ids) * DeleteChecks.itemsize:
        return {}
    checks = np.frombuffer(raw, dtype=DeleteChecks)
    return dict(zip(ids, checks, strict=True))


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
    rows = np.flatnonzero(state.present & (state.version >= _VERSION))
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


def _checks_of(payload: np.ndarray) -> np.ndarray:
    """`DeleteChecks` of token payloads (`current_fields`)."""
    return _checks({name: payload[name] for name in _CHECKED})


def _checks(fields: Mapping[str, np.ndarray]) -> np.ndarray:
    out = np.zeros(len(fields["path"]), dtype=DeleteChecks)
    for name in ("path", "native"):
        out[name] = np.asarray(fields[name], dtype="<u8") & _LOW32
    for name in ("ingestion_start", "sensing_time"):
        out[name] = np.asarray(fields[name], dtype="<i8").view("<u8") & _LOW32
    out["additional"] = np.asarray(fields["others"])[:, OTHER_READ_ONLY.index("additional_data")]
    out["status"] = fields["status"]
    return out


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
