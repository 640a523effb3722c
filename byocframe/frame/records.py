"""Records <-> rows: the one camelCase <-> snake_case table, datetimes and nested fields.

The wire speaks camelCase (``sensingTime``); frames speak snake_case (``sensing_time``).
`WIRE_TO_COLUMN` is the only place where the two spellings meet.
"""

from __future__ import annotations

import datetime as dt
import json
import numbers
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "ATTRS_KEY",
    "COLLECTION_FIELDS",
    "NAT",
    "STATUSES",
    "TILE_FIELDS",
    "WIRE_TO_COLUMN",
    "as_record",
    "as_records",
    "format_datetimes",
    "format_micros",
    "parse_datetimes",
    "times_us",
    "zoneless_times",
]

#: Key in ``DataFrame.attrs`` for the few scalars byocframe keeps about a frame.
ATTRS_KEY = "byocframe"
#: int64 stand-in for a missing time (NaT) in microseconds (`times_us`).
NAT = np.iinfo(np.int64).min


def times_us(values: Any) -> np.ndarray:
    """Datetimes as int64 microseconds since the epoch (NaT as `NAT`).

    Examples
    --------
    >>> times_us(pd.to_datetime(["1970-01-01T00:00:01Z", None], utc=True)).tolist()
    [1000000, -9223372036854775808]
    >>> times_us(["1970-01-01 00:00:01+00:00", "1970-01-01T00:00:02Z"]).tolist()
    [1000000, 2000000]
    """
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        series = pd.to_datetime(series, utc=True)
    else:  # texts: each in its own ISO spelling ('...Z' beside '... +00:00')
        series = pd.to_datetime(series, utc=True, format="mixed")
    return series.dt.as_unit("us").to_numpy(dtype="datetime64[us]").view("int64")


#: Every wire name byocframe knows, with its frame column name.
WIRE_TO_COLUMN: dict[str, str] = {
    # tiles and collections
    "id": "id",
    "created": "created",
    "additionalData": "additional_data",
    # tiles
    "path": "path",
    "status": "status",
    "sensingTime": "sensing_time",
    "ingestionStart": "ingestion_start",
    "coverGeometry": "cover_geometry",
    "tileGeometry": "tile_geometry",
    # tile additionalData members, flattened into columns
    "minMetersPerPixel": "min_meters_per_pixel",
    "maxMetersPerPixel": "max_meters_per_pixel",
    "failedIngestionCause": "failed_ingestion_cause",
    "warnings": "warnings",
    "hasAddedPoints": "has_added_points",
    # collections
    "accountId": "account_id",
    "userId": "user_id",
    "name": "name",
    "s3Bucket": "s3_bucket",
    "isConfigured": "is_configured",
    "requiresMetadataUpdate": "requires_metadata_update",
    "noData": "no_data",
    # collection additionalData members, flattened into columns
    "hasSensingTimes": "has_sensing_times",
    "fromSensingTime": "from_sensing_time",
    "toSensingTime": "to_sensing_time",
    "storageIdentifier": "storage_identifier",
}
COLUMN_TO_WIRE: dict[str, str] = {v: k for k, v in WIRE_TO_COLUMN.items()}

#: The tile statuses, in lifecycle order (BYOC_API 7.4).
STATUSES = ("WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED")

#: Top-level tile fields with a column of their own; anything else goes to ``other_data``.
TILE_FIELDS = (
    "id",
    "path",
    "status",
    "sensingTime",
    "created",
    "ingestionStart",
    "coverGeometry",
    "tileGeometry",
    "additionalData",
)
TILE_DATETIMES = ("sensingTime", "created", "ingestionStart")
TILE_FLAT_ADDITIONAL = (
    "minMetersPerPixel",
    "maxMetersPerPixel",
    "failedIngestionCause",
    "warnings",
    "hasAddedPoints",
)

COLLECTION_FIELDS = (
    "id",
    "name",
    "s3Bucket",
    "created",
    "accountId",
    "userId",
    "isConfigured",
    "requiresMetadataUpdate",
    "noData",
    "additionalData",
)
COLLECTION_FLAT_ADDITIONAL = (
    "maxMetersPerPixel",
    "hasSensingTimes",
    "fromSensingTime",
    "toSensingTime",
    "storageIdentifier",
)


def as_record(obj: Any, kind: str = "tile") -> Mapping[str, Any]:
    """Return an API-shaped dict for a dict or a sentinelhub-py dataclass.

    sentinelhub-py is not imported: any object with a ``to_dict()`` method (``ByocTile``,
    ``ByocCollection``) is converted with it, which also keeps unknown fields.

    Examples
    --------
    >>> as_record({"id": "a", "path": "p"})["path"]
    'p'
    """
    if isinstance(obj, Mapping):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        record = _drop_none(to_dict())
        # a ByocCollection serialises its empty catch-all literally (BYOC_API 6.3)
        if record.get("otherData") == {}:
            record = {k: v for k, v in record.items() if k != "otherData"}
        return record
    raise TypeError(
        f"each {kind} must be a dict or a sentinelhub-py Byoc{kind.title()}, "
        f"got {type(obj).__name__}"
    )


def as_records(records: Any, kind: str = "tile") -> list[Mapping[str, Any]]:
    """Return many records (a list or an iterator of them) as API-shaped dicts.

    One record given where many are taken (a dict from ``next(byoc.iter_tiles(...))``,
    one ``ByocTile``) is a `TypeError` that says to pass a list: iterating over a dict
    would read its keys as records.

    Examples
    --------
    >>> [r["path"] for r in as_records(iter([{"id": "a", "path": "p"}]))]
    ['p']
    >>> as_records({"id": "a", "path": "p"})
    Traceback (most recent call last):
    ...
    TypeError: many tiles are taken (a list or an iterator), got one tile (a dict): pass [tile]
    """
    one = isinstance(records, Mapping) or (
        callable(getattr(records, "to_dict", None)) and not hasattr(records, "__iter__")
    )
    if one:
        raise TypeError(
            f"many {kind}s are taken (a list or an iterator), got one {kind} "
            f"(a {type(records).__name__}): pass [{kind}]"
        )
    if records is None or isinstance(records, str | bytes):
        raise TypeError(
            f"many {kind}s are taken (a list or an iterator of dicts or sentinelhub-py "
            f"Byoc{kind.title()}s), got {type(records).__name__}"
        )
    return [as_record(r, kind) for r in records]


def _drop_none(value: Any) -> Any:
    """Remove None members at any depth: in a dataclass's dict they mean "not set"."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def parse_datetimes(values: Iterable[Any]) -> pd.Series:
    """Parse ISO-8601 strings (or datetimes) into tz-aware UTC, missing -> NaT.

    Zone-less strings are taken as UTC, which is what the service means by them.

    Examples
    --------
    >>> times = parse_datetimes(["2019-11-27T00:00:00.000", "2021-01-01T10:00:00+02:00", None])
    >>> [str(t) for t in times]
    ['2019-11-27 00:00:00+00:00', '2021-01-01 08:00:00+00:00', 'NaT']
    """
    parsed = pd.to_datetime(pd.Series(list(values), dtype=object), utc=True, format="ISO8601")
    return parsed.dt.as_unit("us")


#: A text that ends in a time of day and a zone: ``Z``, ``UTC``, ``GMT`` or an offset
#: (``+05:30``, ``+0530``, ``-03``), as pandas reads them. A date alone ("2024-06-01")
#: ends in what looks like an offset ("-01") but has no time of day, so no zone.
_ZONED_TEXT = re.compile(r"[Tt ]\d\d?(?:[:.,]?\d)*\s*(?:[Zz]|UTC|GMT|[+-]\d\d?(?::?\d\d)?)$")


def zoneless_times(values: Any) -> np.ndarray:
    """Which values are times without a time zone, one bool per value.

    A zone-less time could be UTC or a local wall-clock time (a spreadsheet keeps no
    zone): reading it as UTC would move it by the zone's offset, so callers refuse it.
    Missing values, and values that are no time at all, are not zone-less. Texts are
    judged by one regular expression over the column; only the texts without a zone are
    parsed, to tell a zone-less time from text that is no time.

    Parameters
    ----------
    values : pandas.Series or array-like
        Datetimes (with or without a zone), texts, datetime objects, dates or numbers
        (pandas reads a number as nanoseconds since the epoch, in no zone).

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> texts = ["2024-06-01T10:00:00+05:30", "2024-06-01T10:00:00", "2024-06-01", None, "Z?"]
    >>> zoneless_times(texts).tolist()
    [False, True, True, False, False]
    >>> zoneless_times(pd.to_datetime(["2024-06-01T10:00Z"])).tolist()
    [False]
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    dtype = series.dtype
    out = np.zeros(len(series), dtype=bool)
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_bool_dtype(dtype):
        return out
    present = series.notna().to_numpy(dtype=bool)
    if pd.api.types.is_datetime64_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return present
    rows = np.flatnonzero(present)
    items = series.to_numpy(dtype=object)[rows]
    texts = np.fromiter((isinstance(v, str) for v in items), dtype=bool, count=len(items))
    if texts.any():
        out[rows[texts]] = _zoneless_texts(items[texts])
    for k in np.flatnonzero(~texts).tolist():
        out[rows[k]] = _zoneless_value(items[k])
    return out


def _zoneless_texts(texts: np.ndarray) -> np.ndarray:
    """`zoneless_times` of texts: those without a zone that still read as a time."""
    column = pd.Series(texts, dtype=object).str.strip()
    out = ~column.str.contains(_ZONED_TEXT).to_numpy(dtype=bool)
    if out.any():
        rest = column[out]
        # ISO 8601 first (one fast pass); what it cannot read, pandas' other spellings
        parsed = pd.to_datetime(rest, utc=True, errors="coerce", format="ISO8601")
        again = parsed.isna().to_numpy(dtype=bool)
        if again.any():
            later = pd.to_datetime(rest[again], utc=True, errors="coerce", format="mixed")
            parsed = parsed.where(~again, later)
        out[out] = parsed.notna().to_numpy(dtype=bool)
    return out


def _zoneless_value(value: Any) -> bool:
    """`zoneless_times` of one value that is not a text."""
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, dt.datetime):  # also pd.Timestamp
        return value.tzinfo is None
    return isinstance(value, dt.date | np.datetime64 | numbers.Real)


def format_datetimes(values: pd.Series) -> list[str | None]:
    """Format UTC datetimes the way the service writes them (``Z``, ms or us precision).

    Examples
    --------
    >>> format_datetimes(parse_datetimes(["2019-11-27T00:00:00Z", "2023-03-16T12:56:22.205845Z"]))
    ['2019-11-27T00:00:00Z', '2023-03-16T12:56:22.205845Z']
    """
    utc = pd.Series(pd.to_datetime(values, utc=True)).dt.tz_localize(None).dt.as_unit("us")
    micros = utc.to_numpy(dtype="datetime64[us]")
    missing = np.isnat(micros).tolist()
    # whole seconds as numpy writes them (floored, as datetime does), then the fraction
    seconds = np.datetime_as_string(micros.astype("datetime64[s]"), unit="s").tolist()
    fraction = (micros.view(np.int64) % 1_000_000).tolist()
    return [
        None if gone else f"{text}{_fraction(part)}Z"
        for text, part, gone in zip(seconds, fraction, missing, strict=True)
    ]


def _fraction(micros: int) -> str:
    """The fraction of a second as written: milliseconds, microseconds or nothing."""
    if not micros:
        return ""
    return f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def format_micros(micros: int) -> str:
    """Format int64 microseconds since the epoch as `format_datetimes` does, cheaply.

    Examples
    --------
    >>> format_micros(1_678_971_382_205_845), format_micros(0)
    ('2023-03-16T12:56:22.205845Z', '1970-01-01T00:00:00Z')
    """
    return _format(_EPOCH + dt.timedelta(microseconds=int(micros)))


def _format(when: dt.datetime) -> str:
    text = when.isoformat(timespec="seconds")[:19]
    if when.microsecond:
        frac = f"{when.microsecond:06d}"
        text += "." + (frac[:3] if frac.endswith("000") else frac)
    return text + "Z"


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> str | None:
    """Serialise a nested field to compact JSON text (None stays None)."""
    if value is None:
        return None
    return _ENCODER.encode(value)


def loads(text: Any) -> Any:
    """Inverse of `dumps`; NaN / None give None."""
    if text is None or text is pd.NA or (isinstance(text, float) and pd.isna(text)):
        return None
    return json.loads(text)


def bands_summary(bands: Mapping[str, Any] | None) -> str | None:
    """Summarise a collection's band map for a table cell.

    Examples
    --------
    >>> bands = {"B02": {"bitDepth": 16}, "B03": {"bitDepth": 16}, "dataMask": {"bitDepth": 8}}
    >>> bands_summary(bands)
    'B02, B03 (UINT16); dataMask (UINT8)'
    """
    if not bands:
        return None
    groups: dict[str, list[str]] = {}
    for name, spec in bands.items():
        spec = spec or {}
        kind = f"{spec.get('sampleFormat') or 'UINT'}{spec.get('bitDepth') or 8}"
        groups.setdefault(kind, []).append(name)
    return "; ".join(f"{', '.join(names)} ({kind})" for kind, names in groups.items())
