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

    Examples
    --------
    >>> a, b, c = text_digest(["x", "x", None])
    >>> bool(a == b), int(c)
    (True, 0)
    """
    series = pd.Series(np.asarray(values, dtype=object))
    missing = series.isna().to_numpy()
    out = pd.util.hash_array(series.fillna("").astype(str).to_numpy(dtype=object))
    out = out | np.uint64(1)  # never 0, which means missing
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
    order and the same parts; missing and empty geometries get 0. One vectorised pass over the
    coordinates (no WKB, no per-row Python).

    Examples
    --------
    >>> a, b, c = geometry_digest([shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 1.5), None])
    >>> bool(a != b), int(c)
    (True, 0)
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms), dtype=np.uint64)
    present = ~shapely.is_missing(geoms)
    present[present] = ~shapely.is_empty(geoms[present])  # empty shows nothing: as missing
    if not present.any():
        return out
    shown = geoms[present]
    xy = shapely.get_coordinates(shown)
    counts = shapely.get_num_coordinates(shown)
    sums = np.zeros(len(shown), dtype=np.uint64)
    nonempty = counts > 0
    with np.errstate(over="ignore"):
        if len(xy):
            bits = np.ascontiguousarray(xy).view(np.uint64)
            mixed = bits[:, 0] * _MIX[0] ^ bits[:, 1] * _MIX[1]
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[nonempty]
            # sum(mixed * position inside the geometry), without a per-point gather:
            # sum(mixed * global position) - start * sum(mixed), in wrapping uint64
            plain = np.add.reduceat(mixed, starts)
            weighted = np.add.reduceat(mixed * np.arange(len(mixed), dtype=np.uint64), starts)
            sums[nonempty] = plain + (weighted - starts.astype(np.uint64) * plain) * _MIX[2]
        parts = shapely.get_num_geometries(shown).astype(np.uint64)
        kind = shapely.get_type_id(shown).astype(np.uint64)
        sums ^= counts.astype(np.uint64) * _MIX[0] + parts * _MIX[1] + kind * _MIX[2]
    out[present] = sums | np.uint64(1)
    return out


def bounds_digest(geoms: Any) -> np.ndarray:
    """Stable 64-bit digests of the bounds and point counts of geometries (0: missing).

    Cheaper than `geometry_digest`; used for the read-only ``tile_geometry``, which is
    never sent, so telling an edit there is only a courtesy.
    """
    geoms = np.asarray(geoms, dtype=object)
    values = np.zeros((len(geoms), 5))
    present = ~shapely.is_missing(geoms)
    values[present, :4] = shapely.bounds(geoms[present])
    values[present, 4] = shapely.get_num_coordinates(geoms[present])
    bits = np.nan_to_num(values).view(np.uint64)
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
        digest = np.bitwise_xor.reduce(out, axis=1) | np.uint64(1)
    digest[~present] = 0
    return digest


def _column_or_none(frame: pd.DataFrame, name: str) -> Any:
    return frame[name].array if name in frame.columns else [None] * len(frame)


def current_fields(frame: pd.DataFrame) -> np.ndarray:
    """The token payload for what the rows hold now (service digest left 0)."""
    payload = np.zeros(len(frame), dtype=_PAYLOAD)
    payload["version"] = _VERSION
    status = frame["status"].astype(object).to_numpy()
    payload["status"] = [_STATUS_CODE.get(s, 0) if isinstance(s, str) else 0 for s in status]
    payload["path"] = text_digest(frame["path"].to_numpy(dtype=object))
    for name in ("sensing_time", "created", "ingestion_start"):
        payload[name] = times_us(frame[name]) if name in frame.columns else NAT
    payload["geometry"] = geometry_digest(frame.geometry.array)
    payload["tile"] = bounds_digest(_column_or_none(frame, "tile_geometry"))
    return payload


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
        pd.Series(frame[LOADED].to_numpy(dtype=object), dtype=object)
        if LOADED in frame.columns
        else pd.Series([None] * n, dtype=object)
    )
    present = tokens.notna().to_numpy() & (tokens.astype(str).str.len() > _CHARS).to_numpy()
    bad = tokens.notna().to_numpy() & ~present
    payload = np.zeros(n, dtype=_PAYLOAD)
    payload["sensing_time"] = payload["created"] = payload["ingestion_start"] = NAT
    collection = np.full(n, "", dtype=object)
    tile_id = np.full(n, None, dtype=object)
    if present.any():
        texts = tokens[present].astype(str)
        body = "".join(texts.str[-_CHARS:].tolist())
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
            decoded = np.frombuffer(raw, dtype=_PAYLOAD)
        except ValueError as err:
            raise ValueError(f"the {LOADED!r} column was edited: {err}") from err
        if len(decoded) != present.sum() or (decoded["version"] != _VERSION).any():
            raise ValueError(f"the {LOADED!r} column was edited or is from another version")
        payload[present] = decoded
        heads = texts.str[: -_CHARS - 1].str.partition(":")
        collection[present] = heads[0].to_numpy(dtype=object)
        tile_id[present] = heads[2].to_numpy(dtype=object)
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
