"""Catalog search requests: reading the parameters (GET or POST) and the ``fields`` rules.

One `SearchQuery` serves ``/search`` (GET and POST) and ``/collections/{id}/items``;
it validates every parameter the Sentinel Hub Catalog documents (see
``shared/CATALOG_API.md`` sections 4.7 and 7) and says what is wrong in one line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from byocframe.emulator.filters import FilterProblem, read_filter, time_micros
from byocframe.emulator.limits import Limits
from byocframe.emulator.problems import ApiProblem, read_json, shown

__all__ = ["DEFAULT_FIELDS", "SearchQuery", "apply_fields", "collection_uuid"]

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
#: What ``fields: {}`` returns [Sentinel Hub Catalog docs]; note: no ``stac_version``.
DEFAULT_FIELDS = ("id", "type", "geometry", "bbox", "links", "assets", "properties.datetime")
MAX_LIMIT = 100
#: A full RFC 3339 date-time, as STAC API's ``datetime`` requires: a date alone (or a time
#: without its offset) is a 400, not an instant at midnight that matches almost nothing.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def problem(message: str) -> ApiProblem:
    """A 400 answer of the Catalog."""
    return ApiProblem(400, "BAD_REQUEST", message)


def collection_uuid(catalog_id: str) -> str:
    """The BYOC collection id inside a Catalog id ``byoc-<uuid>`` (400 for anything else).

    Examples
    --------
    >>> collection_uuid("byoc-4a0ad2ba-3b1d-4e5a-9c3e-2b7d7c3c1e11")
    '4a0ad2ba-3b1d-4e5a-9c3e-2b7d7c3c1e11'
    """
    if not isinstance(catalog_id, str) or not catalog_id.startswith("byoc-"):
        raise problem(
            f"collection {catalog_id!r} is not a BYOC collection; write it as byoc-<collection id>"
        )
    cid = catalog_id[len("byoc-") :]
    if not _UUID.match(cid):
        raise problem(f"collection {catalog_id!r}: {cid!r} is not a collection id (a UUID)")
    return cid


@dataclass
class SearchQuery:
    """A validated search: what to match, how many to return, which fields to keep."""

    collection: str
    ids: list[str] | None = None
    area: Any = None
    interval: tuple[int | None, int | None] | None = None
    filter: tuple[str, list[Any]] | None = None
    distinct: str | None = None
    limit: int = 10
    next: int = 0
    fields: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """What identifies the result list (everything but the offset and fields).

        The page size is part of it: searches that differ only in ``limit`` page
        through lists of their own (a client paging with one size is not shifted by a
        first page of another size made meanwhile); identical searches share one.
        """
        area = None if self.area is None else shapely.to_wkt(self.area)
        return json.dumps(
            [
                self.collection,
                self.ids,
                area,
                self.interval,
                self.filter,
                self.distinct,
                self.limit,
            ],
            default=str,
        )

    @classmethod
    def parse(
        cls,
        params: Mapping[str, Any],
        *,
        get: bool,
        collection: str | None = None,
        limits: Limits | None = None,
    ) -> SearchQuery:
        """Read a POST body (``get=False``) or GET query parameters.

        ``collection`` is the id from an ``/items`` path; then ``collections`` is ignored.
        ``limits`` bound the ``filter`` and ``intersects`` (`Limits` defaults).
        """
        limits = limits or Limits()
        if collection is None:
            collection = _one_collection(params.get("collections"), get)
        query = cls(collection=collection_uuid(collection), raw=dict(params))
        query.ids = _ids(params.get("ids"), get)
        bbox, intersects = params.get("bbox"), params.get("intersects")
        if bbox is not None and intersects is not None:
            raise problem("give bbox or intersects, not both")
        if bbox is not None:
            query.area = _bbox_area(_numbers(bbox, get, "bbox"))
        elif intersects is not None:
            query.area = _geometry(intersects, get, limits)
        if params.get("datetime") not in (None, ""):
            query.interval = _interval(params["datetime"])
        query.filter = _filter(params.get("filter"), params.get("filter-lang"), limits)
        distinct = params.get("distinct")
        if distinct not in (None, "", "date"):
            raise problem(f"distinct={distinct!r} is not supported for BYOC; only 'date' is")
        query.distinct = distinct or None
        query.limit = _integer(params.get("limit"), "limit", 10, low=1)
        query.limit = min(query.limit, MAX_LIMIT)
        query.next = _integer(params.get("next"), "next", 0, low=0)
        query.fields = _fields(params.get("fields"), get)
        _check_fields(query.fields, limits)
        return query


def _one_collection(value: Any, get: bool) -> str:
    names = value.split(",") if get and isinstance(value, str) else value
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        raise problem(f"collections must hold exactly one collection id, got {value!r}")
    return names[0]


def _ids(value: Any, get: bool) -> list[str] | None:
    if value is None:
        return None
    ids = value.split(",") if get and isinstance(value, str) else value
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise problem(f"ids must be a list of item ids, got {value!r}")
    return ids


def _numbers(value: Any, get: bool, name: str) -> list[float]:
    try:
        numbers = [float(v) for v in (value.split(",") if get else value)]
    except (TypeError, ValueError, AttributeError, OverflowError):  # 10**400: no float
        raise problem(f"{name} must be 4 or 6 finite numbers, got {shown(value)}") from None
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) for n in numbers):
        raise problem(f"{name} must be 4 or 6 finite numbers, got {shown(value)}")
    return numbers


def _bbox_area(numbers: list[float]) -> Any:
    """The lon/lat geometry of a bbox; west > east means it crosses the antimeridian."""
    if len(numbers) == 6:  # [w, s, zmin, e, n, zmax]
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    w, s, e, n = numbers
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
        raise problem(
            f"bbox {numbers} must be [west, south, east, north] in degrees with south <= north"
        )
    if w > e:
        return shapely.MultiPolygon([_box(w, s, 180.0, n), _box(-180.0, s, e, n)])
    return _box(w, s, e, n)


def _box(w: float, s: float, e: float, n: float) -> Any:
    """A box, a line or a point: STAC allows degenerate boxes."""
    if w == e and s == n:
        return shapely.Point(w, s)
    if w == e or s == n:
        return shapely.LineString([(w, s), (e, n)])
    return shapely.box(w, s, e, n)


def _geometry(value: Any, get: bool, limits: Limits) -> Any:
    deeper = f"nested deeper than max_json_depth={limits.max_json_depth}"
    try:
        body = read_json(value, deeper) if get and isinstance(value, str) else value
    except ValueError as err:
        raise problem(f"intersects must be a GeoJSON geometry ({err})") from None
    _check_parts(body, limits)
    try:
        geom = shapely.geometry.shape({k: v for k, v in body.items() if k != "crs"})
    except (
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        OverflowError,  # an integer coordinate no float holds
        shapely.errors.GEOSException,
    ) as err:
        raise problem(f"intersects must be a GeoJSON geometry ({err})") from None
    if geom.is_empty:
        raise problem("intersects is an empty geometry")
    if not np.isfinite(shapely.get_coordinates(geom, include_z=bool(shapely.has_z(geom)))).all():
        # an infinite corner matched nothing (or everything) without a word
        raise problem("intersects has a coordinate that is not a finite number")
    return geom


def _check_parts(body: Any, limits: Limits) -> None:
    """Count the parts of a GeoJSON geometry before it is built (each costs SQL terms)."""
    if not isinstance(body, Mapping):
        return  # shapely's error names the problem
    kind = body.get("type")
    members = body.get("geometries") if kind == "GeometryCollection" else body.get("coordinates")
    multi = kind in ("MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection")
    parts = len(members) if multi and isinstance(members, list) else 1
    if parts > limits.max_intersects_parts:
        raise problem(
            f"intersects has {parts} parts, more than max_intersects_parts="
            f"{limits.max_intersects_parts}; merge them or search part by part"
        )


def _interval(value: Any) -> tuple[int | None, int | None]:
    """An instant, a closed interval ``a/b`` or an open one (``a/..``, ``../b``, ``a/``)."""
    if not isinstance(value, str):
        raise problem(f"datetime must be a string, got {value!r}")
    start, slash, end = value.partition("/")
    ends = [start, end] if slash else [start]
    for text in ends:
        if text not in ("", "..") and not _DATE_TIME.fullmatch(text.strip()):
            raise problem(
                f"datetime {value!r}: {text!r} is not an RFC 3339 date-time; expected "
                "2024-06-01T00:00:00Z, an interval a/b, or a/.. and ../b (a whole day: "
                "2024-06-01T00:00:00Z/2024-06-01T23:59:59Z)"
            )
    try:
        if not slash:
            instant = time_micros(value)
            return instant, instant
        low = None if start in ("", "..") else time_micros(start)
        high = None if end in ("", "..") else time_micros(end)
    except FilterProblem as err:
        raise problem(f"datetime {value!r}: {err}") from None
    if low is None and high is None:
        raise problem(f"datetime {value!r}: only one end of an interval may be open")
    if low is not None and high is not None and low > high:
        raise problem(f"datetime {value!r}: the start is after the end")
    return low, high


def _filter(value: Any, lang: Any, limits: Limits) -> tuple[str, list[Any]] | None:
    if value is None or value == "":
        return None  # sentinelhub-py sends filter-lang on every search, filter or not
    try:
        return read_filter(value, lang, limits)
    except FilterProblem as err:
        raise problem(f"filter {shown(value)}: {err}") from None


def _integer(value: Any, name: str, default: int, *, low: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(value)
        if isinstance(value, float | bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError, OverflowError):  # int(1e999) overflows
        raise problem(f"{name} must be an integer, got {value!r}") from None
    if number < low:
        raise problem(f"{name} must be at least {low}, got {number}")
    return number


def _fields(value: Any, get: bool) -> dict[str, Any] | None:
    if value is None:
        return None
    if get:  # "id,-geometry": names to include, names after '-' to exclude
        names = [n.strip() for n in str(value).split(",") if n.strip()]
        include = [n.lstrip("+") for n in names if not n.startswith("-")]
        exclude = [n[1:] for n in names if n.startswith("-")]
        return {"include": include or None, "exclude": exclude or None}
    if not isinstance(value, Mapping):
        raise problem(f"fields must be an object with include and exclude lists, got {value!r}")
    for key in ("include", "exclude"):
        listed = value.get(key)
        if listed is not None and (
            not isinstance(listed, list) or not all(isinstance(n, str) for n in listed)
        ):
            raise problem(f"fields.{key} must be a list of field names (texts)")
    return {"include": value.get("include"), "exclude": value.get("exclude")}


def _check_fields(fields: Mapping[str, Any] | None, limits: Limits) -> None:
    """Refuse more ``fields`` names than `Limits.max_fields` (each costs a walk an item)."""
    if fields is None:
        return
    names = len(fields.get("include") or ()) + len(fields.get("exclude") or ())
    if names > limits.max_fields:
        raise problem(
            f"fields lists {names} names, more than max_fields={limits.max_fields}; "
            "ask for fewer (or for the default set)"
        )


def apply_fields(item: dict[str, Any], fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """Trim an item by the Sentinel Hub ``fields`` rules (not quite the STAC extension's).

    No ``fields``: everything. Both lists empty: the default set. Only ``include``:
    default set and those. Only ``exclude``: default set without those. Both given
    (even an empty ``exclude``): exactly include minus exclude.

    Examples
    --------
    >>> item = {"id": "a", "type": "Feature", "properties": {"datetime": "t", "proj:epsg": 1}}
    >>> apply_fields(item, {"include": ["properties.proj:epsg"], "exclude": []})
    {'properties': {'proj:epsg': 1}}
    >>> apply_fields(item, {})
    {'id': 'a', 'type': 'Feature', 'properties': {'datetime': 't'}}
    """
    if fields is None:
        return item
    include, exclude = fields.get("include"), fields.get("exclude")
    if include and exclude is not None:
        chosen = list(include)
    elif include:
        chosen = [*DEFAULT_FIELDS, *include]
    else:
        chosen = list(DEFAULT_FIELDS)
    out: dict[str, Any] = {}
    for path in chosen:
        _copy(item, out, path.split("."))
    for path in exclude or ():
        _drop(out, path.split("."))
    return out


def _copy(source: Any, target: dict[str, Any], keys: list[str]) -> None:
    head, rest = keys[0], keys[1:]
    if not isinstance(source, Mapping) or head not in source:
        return  # a path without a value is skipped
    if not rest:
        target[head] = source[head]
        return
    inner = target.setdefault(head, {})
    if isinstance(inner, dict):
        _copy(source[head], inner, rest)
        if not inner:
            target.pop(head)


def _drop(target: dict[str, Any], keys: list[str]) -> None:
    if len(keys) == 1:
        target.pop(keys[0], None)
    elif isinstance(target.get(keys[0]), dict):
        _drop(target[keys[0]], keys[1:])
