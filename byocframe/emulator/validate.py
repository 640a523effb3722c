"""Request validation of the local BYOC service.

Every request body is checked here, completely, before anything is stored: a request
that fails changes nothing, and what is stored can always be rendered as valid JSON.
The rules follow the real API (``BYOC_API.md`` sections 6-7); a refusal is a 400
`~byocframe.emulator.problems.ApiProblem` whose message starts with the field it is
about. Cover geometries are checked in `byocframe.emulator.covers`.

Examples
--------
>>> new_tile({"path": "t/(BAND).tif", "sensingTime": "2024-06-01T10:00:00+02:00"})
{'path': 't/(BAND).tif', 'sensingTime': '2024-06-01T08:00:00.000Z'}
>>> new_tile({"path": "t", "sensingTime": "soon"})
Traceback (most recent call last):
...
byocframe.emulator.problems.ApiProblem: sensingTime is not an ISO-8601 time: 'soon'
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Mapping
from typing import Any

from byocframe.emulator.covers import read_cover, read_covers
from byocframe.emulator.problems import ApiProblem, bad, is_number, json_integer, shown
from byocframe.geo.crs import GeometryProblem, parse_crs

__all__ = [
    "band_types",
    "check_band_change",
    "collection_update",
    "decode_token",
    "encode_token",
    "manifest_rows",
    "new_collection",
    "new_tile",
    "new_tiles",
    "page_count",
    "parse_body",
    "parse_time",
    "tile_listing",
    "tile_update",
]

MAX_BANDS = 100
#: Deepest JSON nesting accepted (a MultiPolygon is 4 deep inside its tile).
MAX_DEPTH = 32
#: Longest texts: an S3 key is at most 1024 bytes; names and buckets are short.
MAX_PATH = 1024
MAX_NAME = 1024
MAX_BUCKET = 255
MAX_BAND_NAME = 256
#: Integers beyond a signed 64-bit value are refused (the real service is a JVM one).
MAX_INT = 2**63 - 1
STATUSES = ("WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED")
SORTS = frozenset({"created:asc", "created:desc", "path:asc", "path:desc"})
SAMPLE_FORMATS = ("UINT", "INT", "FLOAT")
BIT_DEPTHS = (8, 16, 32)


# ---------------------------------------------------------------------- the body
def parse_body(body: bytes) -> dict[str, Any]:
    """Decode a JSON request body: an object, finite numbers, bounded nesting.

    An empty body is an empty object (reingest and copyTiles send none).

    Examples
    --------
    >>> parse_body(b'{"noData": 1e999}')
    Traceback (most recent call last):
    ...
    byocframe.emulator.problems.ApiProblem: noData must be a finite number, got inf
    """
    if not body.strip():
        return {}
    try:
        value = json.loads(body, parse_int=json_integer)
    except RecursionError:
        raise bad(f"The request body is nested deeper than {MAX_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise bad(f"The request body is not valid JSON ({err}).") from None
    if not isinstance(value, dict):
        raise bad("The request body must be a JSON object.")
    if not _tree_ok(value):
        _check_tree(value)  # finds the problem and names its field
    return value


def _tree_ok(root: dict[str, Any]) -> bool:
    """Whether `_check_tree` accepts ``root`` (fast: no field names are built).

    Examples
    --------
    >>> _tree_ok({"a": [1, 2.5, {"b": None}]}), _tree_ok({"a": [float("nan")]})
    (True, False)
    """
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        items = value.values() if type(value) is dict else value
        if depth >= MAX_DEPTH and items:
            return False  # its items are deeper than MAX_DEPTH
        for item in items:
            kind = type(item)
            if kind is float:
                if not math.isfinite(item):
                    return False
            elif kind is int:
                if not -MAX_INT <= item <= MAX_INT:
                    return False
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif not (kind is str or kind is bool or item is None):
                return False
    return True


def _check_tree(root: dict[str, Any]) -> None:
    """Refuse non-finite numbers, huge integers and deep nesting, naming the field."""
    stack: list[tuple[Any, str, int]] = [(root, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        shown = where if len(where) <= 200 else where[:197] + "..."  # keys can be long
        if depth > MAX_DEPTH:
            raise bad(f"The request body is nested deeper than {MAX_DEPTH} levels at {shown}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise bad(f"{shown} must be a finite number, got {value}")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise bad(f"{shown} is out of range: integers must fit in 64 bits")
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else k, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad(f"{field} is required and must be a non-empty string, got {shown(value)}")
    if len(value) > limit:
        raise bad(f"{field} is {len(value)} characters long; at most {limit} are allowed")
    return value


def _object(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad(f"{field} must be an object, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------------- times
def parse_time(value: Any, field: str) -> str | None:
    """Validate an ISO-8601 time from a request; return it in UTC, milliseconds, ``Z``.

    The year always has four digits (RFC 3339 ``date-fullyear``), also before 1000:
    the answer is the same text whatever the platform's ``strftime`` does.

    Examples
    --------
    >>> parse_time("2024-06-01T12:00:00.123456+02:00", "sensingTime")
    '2024-06-01T10:00:00.123Z'
    >>> parse_time("0999-06-01T00:00:00Z", "sensingTime")
    '0999-06-01T00:00:00.000Z'
    >>> parse_time("0001-01-01T00:00:00+01:00", "t")
    Traceback (most recent call last):
    ...
    byocframe.emulator.problems.ApiProblem: t is out of range in UTC: '0001-01-01T00:00:00+01:00'
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{field} must be an ISO-8601 string, got {shown(value)}")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(f"{field} is not an ISO-8601 time: {shown(value)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        parsed = parsed.astimezone(dt.UTC)
    except OverflowError:
        raise bad(f"{field} is out of range in UTC: {shown(value)}") from None
    # not strftime: glibc writes the year 999 as "999", which is not RFC 3339
    return parsed.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


# ---------------------------------------------------------------------- collections
def _no_data(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if not is_number(value):
        raise bad(f"{field} must be a finite number, got {shown(value)}")
    return value


def _bands(bands: Any) -> dict[str, Any]:
    """Validate ``additionalData.bands``: a map of identifier -> band format."""
    if bands is None:
        return {}
    if not isinstance(bands, Mapping):
        raise bad("additionalData.bands must be an object of band name -> format")
    if len(bands) > MAX_BANDS:
        raise bad(f"additionalData.bands has {len(bands)} bands; at most {MAX_BANDS}")
    out = {}
    for name, spec in bands.items():
        if not (isinstance(name, str) and name.isidentifier() and len(name) <= MAX_BAND_NAME):
            raise bad(f"additionalData.bands: band name {shown(name)} must be an identifier")
        out[name] = _band(name, _object(spec, f"additionalData.bands.{name}"))
    return out


def _band(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    where = f"additionalData.bands.{name}"
    given = {k: v for k, v in spec.items() if v is not None}
    bit_depth, sample_format = _format(given, where, 8)
    out = {
        "bitDepth": bit_depth,
        "sampleFormat": sample_format,
        "source": _text(given.get("source", name), f"{where}.source", MAX_PATH),
        "bandIndex": _count(given.get("bandIndex", 1), f"{where}.bandIndex"),
    }
    no_data = _no_data(given.get("noData"), f"{where}.noData")
    if no_data is not None:
        out["noData"] = no_data
    return out


def _format(spec: Mapping[str, Any], where: str, depth: int) -> tuple[int, str]:
    """``(bitDepth, sampleFormat)`` of a band or a file, checked (defaults: depth, UINT)."""
    bit_depth = spec.get("bitDepth", depth)
    if not isinstance(bit_depth, int) or isinstance(bit_depth, bool) or bit_depth not in BIT_DEPTHS:
        raise bad(f"{where}.bitDepth must be 8, 16 or 32, got {shown(bit_depth)}")
    sample_format = spec.get("sampleFormat", "UINT")
    if not isinstance(sample_format, str) or sample_format not in SAMPLE_FORMATS:
        raise bad(f"{where}.sampleFormat must be UINT, INT or FLOAT, got {shown(sample_format)}")
    return bit_depth, sample_format


def _count(value: Any, where: str) -> int:
    """A band index or a band count: an integer from 1 to `MAX_BANDS`."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_BANDS:
        raise bad(f"{where} must be an integer from 1 to {MAX_BANDS}, got {shown(value)}")
    return value


def new_collection(body: Mapping[str, Any]) -> dict[str, Any]:
    """The writable fields of a collection to create: name, s3Bucket, bands, noData, ...

    Examples
    --------
    >>> new_collection({"name": "c", "s3Bucket": "b", "noData": None, "id": None})
    {'name': 'c', 's3Bucket': 'b', 'bands': {}}
    """
    out: dict[str, Any] = {
        "name": _text(body.get("name"), "name", MAX_NAME),
        "s3Bucket": _text(body.get("s3Bucket"), "s3Bucket", MAX_BUCKET),
    }
    extra = _object(body.get("additionalData"), "additionalData")
    out["bands"] = _bands(extra.get("bands"))
    no_data = _no_data(body.get("noData"), "noData")
    if no_data is not None:
        out["noData"] = no_data
    storage = extra.get("storageIdentifier")
    if storage is not None:
        out["storageIdentifier"] = _text(storage, "additionalData.storageIdentifier", MAX_NAME)
    return out


def collection_update(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a collection PUT changes (absent name/s3Bucket/bands: unchanged).

    ``noData`` is always present: an omitted one is deleted (BYOC_API 6.2).
    """
    out: dict[str, Any] = {"noData": _no_data(body.get("noData"), "noData")}
    for field, limit in (("name", MAX_NAME), ("s3Bucket", MAX_BUCKET)):
        if body.get(field) is not None:
            out[field] = _text(body[field], field, limit)
    extra = _object(body.get("additionalData"), "additionalData")
    if extra.get("bands") is not None:
        out["bands"] = _bands(extra["bands"])
    return out


def check_band_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Once tiles exist, bands may only be renamed or removed (BYOC_API 6.2)."""
    if not new:
        raise bad("additionalData.bands: all bands can only be removed from an empty collection")

    def key(spec: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(spec.get(k) for k in ("source", "bandIndex", "bitDepth", "sampleFormat"))

    remaining = [key(s) for s in old.values()]
    for name, spec in new.items():
        if key(spec) not in remaining:
            raise bad(
                f"additionalData.bands.{name}: once a collection has tiles, bands can only "
                "be renamed or removed, not added or changed"
            )
        remaining.remove(key(spec))


def band_types(bands: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Band name -> (bitDepth, sampleFormat), what copyTiles compares."""
    return {k: (v.get("bitDepth"), v.get("sampleFormat")) for k, v in bands.items()}


# ---------------------------------------------------------------------- tiles
def _path(path: Any) -> str:
    path = _text(path, "path", MAX_PATH)
    if path.startswith("/") or path.endswith("/") or "//" in path:
        raise bad(f"path {shown(path)} must not start or end with '/' or contain '//'")
    return path


def new_tile(body: Mapping[str, Any]) -> dict[str, Any]:
    """The writable fields of a tile to create: path, sensingTime, cover."""
    out: dict[str, Any] = {"path": _path(body.get("path"))}
    if body.get("sensingTime") is not None:
        out["sensingTime"] = parse_time(body["sensingTime"], "sensingTime")
    if body.get("coverGeometry") is not None:
        out["cover"] = read_cover(body["coverGeometry"])
    return out


def new_tiles(bodies: list[Mapping[str, Any]]) -> list[dict[str, Any] | ApiProblem]:
    """`new_tile` of many bodies: each one's fields, or the problem `new_tile` raises.

    The covers are read together (`~byocframe.emulator.covers.read_covers`); a body
    refused for its path or sensing time is refused for that, as `new_tile` checks
    those first.

    Examples
    --------
    >>> good, refused = new_tiles([{"path": "a/(BAND).tif"}, {"path": "/a"}])
    >>> good, refused.status
    ({'path': 'a/(BAND).tif'}, 400)
    """
    out: list[dict[str, Any] | ApiProblem] = []
    with_cover: list[int] = []
    for k, body in enumerate(bodies):
        try:
            fields: dict[str, Any] = {"path": _path(body.get("path"))}
            if body.get("sensingTime") is not None:
                fields["sensingTime"] = parse_time(body["sensingTime"], "sensingTime")
        except ApiProblem as err:
            out.append(err)
            continue
        if body.get("coverGeometry") is not None:
            with_cover.append(k)
        out.append(fields)
    covers = read_covers([bodies[k]["coverGeometry"] for k in with_cover])
    for k, cover in zip(with_cover, covers, strict=True):
        if isinstance(cover, ApiProblem):
            out[k] = cover
        else:
            out[k]["cover"] = cover  # type: ignore[index]
    return out


def tile_update(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a tile PUT changes.

    ``cover`` always (None: back to the bounding box), and ``sensingTime`` when given
    (null clears it). ``path`` and read-only fields are ignored.
    """
    out: dict[str, Any] = {}
    if "sensingTime" in body:
        out["sensingTime"] = parse_time(body["sensingTime"], "sensingTime")
    cover = body.get("coverGeometry")
    out["cover"] = read_cover(cover) if cover is not None else None
    return out


# ---------------------------------------------------------------------- the bucket
def manifest_rows(files: Any) -> list[tuple[Any, ...]]:
    """Validate a virtual-bucket manifest ``{key: {crs, bounds, ...}}``; return its rows.

    A row is ``(key, crs, xmin, ymin, xmax, ymax, resolution, bitDepth, sampleFormat,
    bands)``.
    """
    if not isinstance(files, Mapping):
        raise bad("the manifest must be an object of key -> file description")
    return [_file_row(key, info) for key, info in files.items()]


def _file_row(key: Any, info: Any) -> tuple[Any, ...]:
    if not isinstance(key, str) or not key or len(key) > MAX_PATH:
        raise bad(f"file key {shown(key)} must be a string of 1 to {MAX_PATH} characters")
    where = f"file {key!r}"
    if not isinstance(info, Mapping):
        raise bad(f"{where} must be an object with crs and bounds")
    try:
        crs = parse_crs(str(info["crs"]))
    except KeyError:
        raise bad(f"{where}: crs is required") from None
    except GeometryProblem as err:
        raise bad(f"{where}.crs: {err}") from err
    bounds = info.get("bounds")
    if not (isinstance(bounds, list) and len(bounds) == 4 and all(map(is_number, bounds))):
        raise bad(f"{where}.bounds must be [xmin, ymin, xmax, ymax] numbers, got {shown(bounds)}")
    xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    if xmin >= xmax or ymin >= ymax:
        raise bad(f"{where}.bounds must be [xmin, ymin, xmax, ymax] with min < max")
    resolution = info.get("resolution", 10.0)
    if not is_number(resolution) or resolution <= 0:
        raise bad(f"{where}.resolution must be a positive number, got {shown(resolution)}")
    depth, sample_format = _format(info, where, 16)
    bands = _count(info.get("bands", 1), f"{where}.bands")
    return (key, crs, xmin, ymin, xmax, ymax, float(resolution), depth, sample_format, bands)


# ---------------------------------------------------------------------- listing queries
def encode_token(sort: str, key: int | str) -> str:
    """The opaque ``viewtoken`` of a keyset page: the sort and the last key seen."""
    raw = json.dumps([sort, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, sort: str) -> int | str:
    """The last key of a `encode_token` token, checked against the sort and its type.

    Examples
    --------
    >>> decode_token(encode_token("created:asc", 41), "created:asc")
    41
    >>> decode_token(encode_token("created:asc", {"x": 1}), "created:asc")
    Traceback (most recent call last):
    ...
    byocframe.emulator.problems.ApiProblem: invalid viewtoken 'WyJjcmVhdGVkOmFzYyIseyJ4IjoxfV0'
    """
    invalid = bad(f"invalid viewtoken {shown(token)}")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise invalid from None
    if not (isinstance(decoded, list) and len(decoded) == 2 and isinstance(decoded[0], str)):
        raise invalid
    token_sort, key = decoded
    if token_sort != sort:
        raise bad(f"viewtoken {shown(token)} belongs to sort={token_sort}, not sort={sort}")
    if sort.startswith("created"):
        if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key <= MAX_INT:
            raise invalid
    elif not isinstance(key, str):
        raise invalid
    return key


def page_count(text: str | None) -> int:
    """The ``count`` of a listing: 1 to 100, default 100, larger values clamped.

    Examples
    --------
    >>> page_count(None), page_count("500"), page_count("3")
    (100, 100, 3)
    """
    if text is None or text == "":
        return 100
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise bad(f"count must be an integer from 1 to 100, got {shown(text)}")
    count = int(text)
    if count < 1:
        raise bad(f"count must be an integer from 1 to 100, got {count}")
    return min(count, 100)


def tile_listing(query: Mapping[str, str]) -> dict[str, Any]:
    """``sort``, ``path`` and ``status`` of a tile listing, checked."""
    sort = query.get("sort") or "created:asc"
    if sort not in SORTS:
        raise bad(f"sort must be one of {sorted(SORTS)}, got {shown(sort)}")
    status = query.get("status") or None
    if status is not None and status not in STATUSES:
        raise bad(f"status must be one of {list(STATUSES)}, got {shown(status)}")
    return {"sort": sort, "path": query.get("path"), "status": status}
