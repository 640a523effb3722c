"""What each row of a tile frame held when it was loaded: the ``loaded`` column.

Every tile row carries one short text token (about 160 characters) recording, at load
time, the collection, the tile id, a digest of the service's base URL, the sensing time, the
read-only fields (path, status, created, ingestion start) and digests of the displayed
``geometry`` and ``tile_geometry``. The loaded cover itself is the ``native_cover``
column. Because the state travels *in the rows*, it survives what pandas does to rows
(filters, ``.drop``, sorts, ``pd.concat`` with new rows, ``copy``) and every file
format that keeps a text column, at no cost to ordinary pandas operations. ``.attrs``
keeps only scalars: the collection, the service, the densify step and the ids that were
loaded (one text, so deleted rows can be found).

Rows with no token are new tiles. The token is opaque on purpose: edit ``sensing_time``
and ``geometry``, never ``loaded``.

Examples
--------
>>> import byocframe
>>> from byocframe.synthetic import synthetic_tiles
>>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
>>> state = loaded_state(gdf)
>>> bool(state.present.all()), int((state.sensing_time == times_us(gdf["sensing_time"])).sum())
(True, 3)
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

from byocframe.records import STATUSES

__all__ = [
    "ATTRS_KEY",
    "COLLECTION_EDITABLE",
    "COLLECTION_READ_ONLY",
    "LOADED",
    "NAT",
    "LoadedState",
    "bounds_digest",
    "collection_state",
    "current_fields",
    "geometry_digest",
    "loaded_collections",
    "loaded_ids",
    "loaded_state",
    "service_digest",
    "stamp",
    "stamp_collections",
    "text_digest",
    "times_us",
]

#: Key in ``DataFrame.attrs`` for the few scalars byocframe keeps about a frame.
ATTRS_KEY = "byocframe"
#: Name of the column holding each row's loaded-state token.
LOADED = "loaded"
#: int64 stand-in for a missing time (NaT).
NAT = np.iinfo(np.int64).min

_VERSION = 1
_PAYLOAD = np.dtype(
    [
        ("version", "<u1"),
        ("status", "<u1"),
        ("spare", "<u2"),
        ("service", "<u8"),
        ("path", "<u8"),
        ("sensing_time", "<i8"),
        ("created", "<i8"),
        ("ingestion_start", "<i8"),
        ("geometry", "<u8"),
        ("tile", "<u8"),
    ]
)
_CHARS = _PAYLOAD.itemsize * 4 // 3  # 60 bytes -> 80 base64 characters, no padding
_STATUS_CODE = {name: i + 1 for i, name in enumerate(STATUSES)}


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
    service, path, geometry, tile : numpy.ndarray of uint64
        Digests of the service base URL, the path, the displayed geometry and the
        displayed tile geometry.
    sensing_time, created, ingestion_start : numpy.ndarray of int64
        Microseconds since the epoch; `NAT` when missing.
    status : numpy.ndarray of uint8
        1 + the position in `byocframe.records.STATUSES`; 0 when missing.
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


def times_us(values: Any) -> np.ndarray:
    """Datetimes as int64 microseconds since the epoch (NaT as `NAT`).

    Examples
    --------
    >>> times_us(pd.to_datetime(["1970-01-01T00:00:01Z", None], utc=True)).tolist()
    [1000000, -9223372036854775808]
    """
    series = pd.to_datetime(pd.Series(values), utc=True)
    return series.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view("int64")


def text_digest(values: Any) -> np.ndarray:
    """Stable 64-bit digests of texts (missing values get 0).

    Values that are not texts are digested as pandas writes them as text.

    Examples
    --------
    >>> a, b, c = text_digest(["x", "x", None])
    >>> bool(a == b), int(c)
    (True, 0)
    """
    texts = np.asarray(values, dtype=object)
    missing = pd.isna(texts)
    if missing.any() or pd.api.types.infer_dtype(texts, skipna=False) != "string":
        texts = pd.Series(texts, dtype=object).fillna("").astype(str).to_numpy(dtype=object)
    # categorize=False: the same digests, without first factorizing the texts
    out = pd.util.hash_array(texts, categorize=False)
    out |= np.uint64(1)  # never 0, which means missing
    out[missing] = 0
    return out


def service_digest(url: str | None) -> int:
    """A 64-bit digest of a base URL (case and trailing slashes ignored; "" gives 0).

    Examples
    --------
    >>> service_digest("https://Example.com/") == service_digest("https://example.com")
    True
    """
    text = (url or "").strip().rstrip("/").lower()
    if not text:
        return 0
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") | 1


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B19E3779F9))


def geometry_digest(geoms: Any) -> np.ndarray:
    """Stable 64-bit digests of geometries, exact to the last bit of every coordinate.

    Two geometries get the same digest when they have the same coordinates in the same
    order and the same parts; missing and empty geometries get 0. Vectorised passes over
    the coordinates (no WKB, no per-row Python), about 65,000 coordinates at a time so
    that the arrays of each pass stay in the CPU cache.

    Examples
    --------
    >>> a, b, c = geometry_digest([shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 1.5), None])
    >>> bool(a != b), int(c)
    (True, 0)
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms), dtype=np.uint64)
    counts = shapely.get_num_coordinates(geoms)  # 0 for missing and empty geometries
    present = np.flatnonzero(counts > 0)
    if not len(present):
        return out
    shown, counts = geoms[present], counts[present]
    ends = np.cumsum(counts)
    sums = np.empty(len(shown), dtype=np.uint64)
    start = 0
    with np.errstate(over="ignore"):
        while start < len(shown):
            # whole geometries, about _CHUNK coordinates (at least one geometry)
            before = int(ends[start - 1]) if start else 0
            stop = max(start + 1, int(np.searchsorted(ends, before + _CHUNK, side="right")))
            sums[start:stop] = _coordinate_sums(shown[start:stop], counts[start:stop])
            start = stop
        parts = shapely.get_num_geometries(shown).astype(np.uint64)
        kind = shapely.get_type_id(shown).astype(np.uint64)
        sums ^= counts.astype(np.uint64) * _MIX[0] + parts * _MIX[1] + kind * _MIX[2]
    out[present] = sums | np.uint64(1)
    return out


#: Coordinates per pass of `geometry_digest` (1 MB of them).
_CHUNK = 1 << 16


def _coordinate_sums(geoms: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The position-weighted sums of the mixed coordinate bits of geometries.

    Each geometry has at least one coordinate; the arithmetic wraps in uint64.
    """
    bits = np.ascontiguousarray(shapely.get_coordinates(geoms)).view(np.uint64)
    mixed = bits[:, 0] * _MIX[0]
    mixed ^= bits[:, 1] * _MIX[1]
    starts = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    # sum(mixed * position inside the geometry), without a per-point gather:
    # sum(mixed * position in the pass) - start * sum(mixed)
    plain = np.add.reduceat(mixed, starts)
    weighted = np.arange(len(mixed), dtype=np.uint64)
    weighted *= mixed
    summed = np.add.reduceat(weighted, starts)
    return plain + (summed - starts.astype(np.uint64) * plain) * _MIX[2]


def bounds_digest(geoms: Any) -> np.ndarray:
    """Stable 64-bit digests of the bounds and point counts of geometries (0: missing).

    Cheaper than `geometry_digest`; used for the read-only ``tile_geometry``, which is
    never sent, so telling an edit there is only a courtesy.
    """
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    values = np.empty((len(geoms), 5))
    values[:, :4] = shapely.bounds(geoms)  # NaN for missing and empty geometries
    values[:, 4] = shapely.get_num_coordinates(geoms)
    bits = np.nan_to_num(values, copy=False).view(np.uint64)
    with np.errstate(over="ignore"):
        out = bits * np.array(
            [
                0x9E3779B97F4A7C15,
                0xC2B2AE3D27D4EB4F,
                0x165667B19E3779F9,
                0x27D4EB2F165667C5,
                0x94D049BB133111EB,
            ],
            dtype=np.uint64,
        )
        digest = out[:, 0] ^ out[:, 1] ^ out[:, 2] ^ out[:, 3] ^ out[:, 4]
    digest |= np.uint64(1)
    digest[~present] = 0
    return digest


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
    payload["tile"] = bounds_digest(_column_or_none(frame, "tile_geometry"))
    return payload


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
    """``<collection>:<tile id>:<80 base64 characters>`` per row."""
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
) -> None:
    """Record in ``frame[LOADED]`` what the rows hold now, as loaded from ``service``.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame; changed in place.
    collection, service : str
        Where the rows came from ("" when unknown, e.g. from saved records).
    rows : array-like of int, optional
        Positions of the rows to stamp; by default every row, which also resets the
        ids remembered as loaded (``attrs["byocframe"]["loaded_ids"]``).
    """
    whole = rows is None
    positions = np.arange(len(frame)) if whole else np.asarray(rows, dtype=int)
    part = frame.iloc[positions]
    payload = current_fields(part)
    payload["service"] = service_digest(service)
    tokens = _encode(collection, [str(i) for i in part.index], payload)
    if LOADED not in frame.columns:
        frame[LOADED] = pd.array([None] * len(frame), dtype=pd.StringDtype(na_value=np.nan))
    column = frame.columns.get_loc(LOADED)
    if whole:
        frame[LOADED] = pd.array(tokens, dtype=pd.StringDtype(na_value=np.nan))
    elif len(positions):
        frame.iloc[positions, column] = tokens
    settings = dict(frame.attrs.get(ATTRS_KEY, {}))
    settings.update(collection=collection, service=service)
    if whole:
        settings["loaded_ids"] = "\n".join(str(i) for i in frame.index)
    frame.attrs[ATTRS_KEY] = settings


def loaded_state(frame: pd.DataFrame) -> LoadedState:
    """Decode the ``loaded`` column (rows without a token are marked not present).

    Raises
    ------
    ValueError
        When a token is malformed (someone edited the ``loaded`` column).
    """
    n = len(frame)
    tokens = (
        frame[LOADED].to_numpy(dtype=object)
        if LOADED in frame.columns
        else np.full(n, None, dtype=object)
    )
    given = ~pd.isna(tokens)
    texts = tokens[given]
    if len(texts) and pd.api.types.infer_dtype(texts, skipna=False) != "string":
        texts = pd.Series(texts, dtype=object).astype(str).to_numpy(dtype=object)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    long = lengths > _CHARS
    present = given.copy()
    present[given] = long
    payload = np.zeros(n, dtype=_PAYLOAD)
    payload["sensing_time"] = payload["created"] = payload["ingestion_start"] = NAT
    collection = np.full(n, "", dtype=object)
    tile_id = np.full(n, None, dtype=object)
    if long.any():
        try:
            decoded, collection[present], tile_id[present] = _parse(texts[long], lengths[long])
        except ValueError as err:
            raise ValueError(f"the {LOADED!r} column was edited: {err}") from err
        if (decoded["version"] != _VERSION).any():
            raise ValueError(f"the {LOADED!r} column was edited or is from another version")
        payload[present] = decoded
    bad = given & ~present
    if bad.any():
        raise ValueError(f"the {LOADED!r} column was edited (row {int(np.flatnonzero(bad)[0])})")
    return LoadedState(
        present=present,
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
    )


def _parse(texts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The payloads, collections and tile ids of tokens longer than `_CHARS`.

    A token is ``<head>:<payload>``; the head splits at its first ":" into the
    collection and the tile id. Tokens of one length, in ASCII, are read as one block of
    bytes (the usual case: one collection, tile ids that are UUIDs); a head that does not
    start with the first token's collection is split on its own.
    """
    n = len(texts)
    collection = np.empty(n, dtype=object)
    tile_id = np.empty(n, dtype=object)
    joined = "".join(texts)
    width = int(lengths[0])
    if not joined.isascii() or (lengths != width).any():
        body = "".join([t[-_CHARS:] for t in texts])
        chars = np.frombuffer(body.encode("ascii"), dtype=np.uint8).reshape(n, _CHARS)
        split = np.arange(n)
    else:
        chars = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(n, width)
        name, colon, _ = texts[0][: -_CHARS - 1].partition(":")
        prefix = f"{name}{colon}"
        skip = len(prefix)
        collection[:] = name
        tile_id[:] = [t[skip : -_CHARS - 1] for t in texts]
        starts = (chars[:, :skip] == np.frombuffer(prefix.encode(), dtype=np.uint8)).all(axis=1)
        split = np.flatnonzero(~starts) if colon else np.arange(n)
        chars = chars[:, -_CHARS:]
    for i in split:
        collection[i], _, tile_id[i] = texts[i][: -_CHARS - 1].partition(":")
    return _decode(chars), collection, tile_id


def _decode(chars: np.ndarray) -> np.ndarray:
    """Payload records from rows of `_CHARS` URL-safe base64 characters (uint8).

    Raises
    ------
    ValueError
        When the characters are not the base64 of whole payloads.
    """
    raw = base64.urlsafe_b64decode(np.ascontiguousarray(chars).tobytes())
    if len(raw) != len(chars) * _PAYLOAD.itemsize:
        raise ValueError("a token's payload is not base64")
    return np.frombuffer(raw, dtype=_PAYLOAD)


def loaded_ids(frame: pd.DataFrame) -> list[str] | None:
    """The ids of the tiles that were loaded, or None when ``attrs`` lost them."""
    text = frame.attrs.get(ATTRS_KEY, {}).get("loaded_ids")
    if not isinstance(text, str):
        return None
    return text.split("\n") if text else []


#: Collection fields `push` can change, and those it refuses to.
COLLECTION_EDITABLE = ("name", "no_data", "bands")
COLLECTION_READ_ONLY = ("s3_bucket", "created", "account_id", "user_id")


def collection_state(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """What each collection row holds now, as JSON-able values (bands as canonical JSON).

    Examples
    --------
    >>> import byocframe
    >>> frame = byocframe.collections_from_records([{"id": "c1", "name": "n", "s3Bucket": "b"}])
    >>> collection_state(frame)["c1"]["name"]
    'n'
    """
    from byocframe.records import loads

    out: dict[str, dict[str, Any]] = {}
    created = times_us(frame["created"]) if "created" in frame.columns else None
    for pos, cid in enumerate(frame.index):
        row = frame.iloc[pos]
        additional = loads(row.get("additional_data")) or {}
        values: dict[str, Any] = {
            "name": _plain(row.get("name")),
            "no_data": _plain(row.get("no_data")),
            "bands": _canonical(additional.get("bands")),
            "s3_bucket": _plain(row.get("s3_bucket")),
            "created": None if created is None or created[pos] == NAT else int(created[pos]),
            "account_id": _plain(row.get("account_id")),
            "user_id": _plain(row.get("user_id")),
        }
        out[str(cid)] = values
    return out


def _plain(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _canonical(value: Any) -> str | None:
    import json

    return None if value is None else json.dumps(value, sort_keys=True)


def stamp_collections(
    frame: pd.DataFrame, *, service: str, state: dict[str, dict[str, Any]] | None = None
) -> None:
    """Record in ``attrs`` (one JSON text) what each collection row holds now.

    ``state`` replaces what is recorded (e.g. after a partial push: the loaded values
    of the collections that were not written).
    """
    import json

    settings = dict(frame.attrs.get(ATTRS_KEY, {}))
    recorded = collection_state(frame) if state is None else state
    settings.update(service=service, loaded=json.dumps(recorded))
    frame.attrs[ATTRS_KEY] = settings


def loaded_collections(frame: pd.DataFrame) -> dict[str, dict[str, Any]] | None:
    """What `stamp_collections` recorded, or None."""
    import json

    text = frame.attrs.get(ATTRS_KEY, {}).get("loaded")
    return json.loads(text) if isinstance(text, str) else None
