"""The ``loaded`` token: what each row of a tile frame held when it was loaded.

Every tile row carries one short text token (about 220 characters) recording, at load
time, the collection, the tile id, a digest of the service's base URL, the sensing time, the
read-only fields (path, status, created, ingestion start), exact digests
(`byocframe.frame.digests`) of the displayed ``geometry``, the ``tile_geometry`` and the
``native_cover``, and 32-bit digests of every other column the service owns
(`OTHER_READ_ONLY`: ``native_crs``, ``additional_data``, ...), so an edit of any of them
is refused rather than lost. This module is the token's codec: the payload's layout, its
versions, and the writing (`encode_tokens`) and reading (`loaded_state`) of the column.
Writing a whole frame's tokens and its sealed ids is `byocframe.frame.snapshot.stamp`.

Rows with no token are new tiles. The token is opaque on purpose: edit ``sensing_time``
and ``geometry``, never ``loaded``.

Examples
--------
>>> import byocframe
>>> from byocframe.frame.records import times_us
>>> from byocframe.frame.synthetic import synthetic_tiles
>>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
>>> state = loaded_state(gdf)
>>> bool(state.present.all()), int((state.sensing_time == times_us(gdf["sensing_time"])).sum())
(True, 3)
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from byocframe.frame.canonical import canonical_text
from byocframe.frame.digests import blob_digest, geometry_digest, ids_digest, text_digest
from byocframe.frame.native import native_blobs
from byocframe.frame.records import NAT, STATUSES, times_us

__all__ = [
    "LOADED",
    "OTHER_READ_ONLY",
    "TOKEN_VERSION",
    "LoadedState",
    "OldTokenError",
    "current_fields",
    "encode_tokens",
    "load_number",
    "loaded_state",
    "other_digests",
    "own_tokens",
    "require_current",
    "status_codes",
    "wkb_digest",
]

#: Name of the column holding each row's loaded-state token.
LOADED = "loaded"
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
TOKEN_VERSION = 3
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
    payload["version"] = TOKEN_VERSION
    payload["status"] = status_codes(frame["status"])
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


def status_codes(status: pd.Series) -> np.ndarray:
    """1 + the position of each status in `STATUSES` (0: missing or unknown).

    How a token and a delete check hold a tile's status.

    Examples
    --------
    >>> status_codes(pd.Series(["WAITING", "INGESTED", None])).tolist()
    [1, 4, 0]
    """
    if isinstance(status.dtype, pd.CategoricalDtype):
        # one look-up per category; code -1 (missing) takes the appended 0
        known = [_STATUS_CODE.get(c, 0) if isinstance(c, str) else 0 for c in status.cat.categories]
        return np.array([*known, 0], dtype=np.uint8)[status.cat.codes.to_numpy()]
    values = status.astype(object).to_numpy()
    return np.array(
        [_STATUS_CODE.get(s, 0) if isinstance(s, str) else 0 for s in values], dtype=np.uint8
    )


def encode_tokens(collection: str, ids: Sequence[Any], payload: np.ndarray) -> list[str]:
    """``<collection>:<tile id>:<148 base64 characters>`` per row.

    ``payload`` holds one `current_fields` record per id, with its ``service`` and
    ``load`` set.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(1, seed=1))
    >>> token = encode_tokens("c1", ["t1"], current_fields(gdf))[0]
    >>> token[:6], len(token)
    ('c1:t1:', 154)
    """
    text = base64.urlsafe_b64encode(payload.tobytes()).decode("ascii")
    return [
        f"{collection}:{tid}:{text[i * _CHARS : (i + 1) * _CHARS]}" for i, tid in enumerate(ids)
    ]


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
    old = np.flatnonzero(state.present & (state.version < TOKEN_VERSION))
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
    if (decoded["version"] != (TOKEN_VERSION if layout is _PAYLOAD else 2)).any():
        raise ValueError("a token is of another version than its length says")
    if layout is _PAYLOAD:
        return decoded
    out = np.zeros(len(decoded), dtype=_PAYLOAD)
    for field in _V2_FIELDS:
        out[field[0]] = decoded[field[0]]
    return out
