"""Find tiles through the Sentinel Hub Catalog API instead of listing a whole collection.

The Catalog (STAC API 1.0.0, ``/api/v1/catalog/1.0.0``) answers "which tiles cover
this area in this period" in a few requests, where a listing costs one request per
100 tiles of the collection. It only knows INGESTED tiles, and its items lack what a
tile frame needs to be edited (path, creation time, tile footprint), so
`search_records` asks the BYOC API for each tile found: the frame is then built from
the very records a full listing would have given.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias

import pandas as pd
import shapely
import shapely.geometry

from byocframe.client.api import Client
from byocframe.client.paging import Pages
from byocframe.exceptions import NotFoundError, TransportError, ValidationError
from byocframe.ids import check_id
from byocframe.progress import ProgressBar
from byocframe.stac.answers import outside
from byocframe.typing import GeometryLike

__all__ = [
    "CATALOG_PATH",
    "DatetimeLike",
    "catalog_datetime",
    "created_order",
    "iter_items",
    "search_records",
]

CATALOG_PATH = "/api/v1/catalog/1.0.0"
_PAGE = 100  # the largest page the Catalog gives
_WINDOW_PER_WORKER = 64  # tile GETs handed to the pool at once, per worker

#: ``"2024-06-01T00:00:00Z/2024-06-30T23:59:59Z"``, a datetime (an instant), or a
#: ``(start, end)`` pair where None leaves that end open.
DatetimeLike: TypeAlias = (
    str | dt.datetime | pd.Timestamp | tuple[str | dt.datetime | pd.Timestamp | None, ...]
)


def catalog_datetime(value: DatetimeLike) -> str:
    """The Catalog's ``datetime`` parameter for an instant or a (start, end) pair.

    Naive times are taken as UTC; a date alone starts at midnight, and as an end it
    takes in the whole day. A year, month or day alone (``"2024-06"``) is that whole
    period, as pystac-client reads it; other strings go as they are.

    Examples
    --------
    >>> catalog_datetime("2024-06")
    '2024-06-01T00:00:00Z/2024-06-30T23:59:59.999999Z'
    >>> catalog_datetime(("2024-06-01", "2024-06-30"))
    '2024-06-01T00:00:00Z/2024-06-30T23:59:59.999999Z'
    >>> catalog_datetime(("2024-06-01T12:00:00+02:00", None))
    '2024-06-01T10:00:00Z/..'
    >>> catalog_datetime(("0500-01-01", "0999-12-31"))
    '0500-01-01T00:00:00Z/0999-12-31T23:59:59.999999Z'
    """
    if isinstance(value, str):
        period = re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", value.strip())
        if period is None:
            return value
        freq = "D" if period.group(2) else "M" if period.group(1) else "Y"
        span = pd.Period(value.strip(), freq=freq)
        return catalog_datetime((span.start_time, span.end_time.floor("us")))
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(f"datetime must be a (start, end) pair, got {len(value)} values")
        start, end = value
        if start is None and end is None:
            raise ValueError("datetime: at most one end of the interval may be None")
        return f"{_instant(start, end=False)}/{_instant(end, end=True)}"
    return _instant(value, end=False)


def _instant(value: Any, *, end: bool) -> str:
    if value is None:
        return ".."
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"datetime: cannot read {value!r} as a time ({err})") from err
    if pd.isna(stamp):  # "" and "NaT" read as no time at all
        raise ValueError(f"datetime: {value!r} is no time; give None for an open end")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    day_only = isinstance(value, str) and len(value.strip()) == 10
    if end and (day_only or (isinstance(value, dt.date) and not isinstance(value, dt.datetime))):
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    # isoformat, not strftime: glibc writes the year 500 as "500" (not RFC 3339)
    text = stamp.to_pydatetime(warn=False).isoformat(timespec="seconds")[:19]
    return text + (f".{stamp.microsecond:06d}" if stamp.microsecond else "") + "Z"


def _search_body(
    cid: str,
    bbox: Sequence[float] | None,
    datetime: DatetimeLike | None,
    intersects: GeometryLike | None,
    filter: str | Mapping[str, Any] | None,
) -> dict[str, Any]:
    if cid.startswith("byoc-"):
        raise ValidationError(
            f"collection {cid!r} is the Catalog's name of the collection; give the bare "
            f"BYOC id {cid[5:]!r} (byocframe adds 'byoc-' for the Catalog)"
        )
    body: dict[str, Any] = {"collections": [f"byoc-{cid}"], "limit": _PAGE}
    if bbox is not None and intersects is not None:
        raise ValueError("give bbox or intersects, not both")
    if bbox is not None:
        # "1,2,3,4" as a command line or a STAC API query string writes it
        parts = bbox.split(",") if isinstance(bbox, str) else bbox
        try:
            box = [float(v) for v in parts]
        except (TypeError, ValueError) as err:
            raise ValidationError(
                f"bbox must be four numbers [west, south, east, north] in degrees, got {bbox!r}"
            ) from err
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise ValidationError(
                f"bbox must be four numbers [west, south, east, north] in degrees, got {bbox!r}"
            )
        body["bbox"] = box
    if intersects is not None:
        geom = intersects if isinstance(intersects, shapely.Geometry) else None
        if geom is None:
            try:
                geom = shapely.geometry.shape(intersects)
            except (AttributeError, KeyError, TypeError, ValueError) as err:
                raise ValueError(
                    f"intersects must be a shapely geometry or a GeoJSON dict in lon/lat, "
                    f"got {type(intersects).__name__}"
                ) from err
        body["intersects"] = json.loads(shapely.to_geojson(geom))
    if datetime is not None:
        if isinstance(datetime, str) and not datetime.strip():
            # a service reads an empty datetime as none: every tile, taken for a period's
            raise ValueError("datetime is empty: give a time, a period or None (no period)")
        body["datetime"] = catalog_datetime(datetime)
    if filter is not None:
        if not filter or (isinstance(filter, str) and not filter.strip()):
            # a service reads an empty filter as none: every tile, taken for a filtered load
            raise ValueError(f"filter is empty ({filter!r}): give a CQL2 filter or None")
        body["filter"] = filter
        body["filter-lang"] = "cql2-text" if isinstance(filter, str) else "cql2-json"
    return body


def iter_items(
    client: Client,
    collection: str,
    *,
    bbox: Sequence[float] | None = None,
    datetime: DatetimeLike | None = None,
    intersects: GeometryLike | None = None,
    filter: str | Mapping[str, Any] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Pages of STAC items of a BYOC collection from a Catalog search (POST, 100 a page).

    Parameters
    ----------
    client : Client
    collection : str
        The BYOC collection id (without the ``byoc-`` prefix).
    bbox : [west, south, east, north], optional
        Degrees (CRS84); west > east crosses the antimeridian.
    datetime : str, datetime or (start, end), optional
        See `catalog_datetime`.
    intersects : shapely geometry or GeoJSON dict, optional
        In lon/lat.
    filter : str or dict, optional
        CQL2 text or JSON (``"proj:epsg = 32633"``).

    Raises
    ------
    TransportError
        An item of the answer lies outside the ``bbox`` or ``intersects``, or the
        ``datetime``, or does not match the ``filter`` (`byocframe.stac.answers.outside`):
        the service does not apply that parameter, and nothing is concluded.

    Examples
    --------
    >>> import byocframe
    >>> with byocframe.local_service(demo=True, demo_tiles=200) as service:
    ...     pages = list(iter_items(service.client(), service.demo_collection,
    ...                             bbox=[-180, -90, 180, 90]))
    >>> sum(len(p) for p in pages) > 100, pages[0][0]["type"]
    (True, 'Feature')
    """
    url = client.base_url + CATALOG_PATH + "/search"
    body = _search_body(collection, bbox, datetime, intersects, filter)
    unasked = outside(body)  # each item checked against what was asked (finding 270)
    pages = Pages(f"POST {url}")
    while True:
        # a search changes nothing: safe to retry although it is a POST
        page = client.request("POST", url, json=body, retry=True)
        if not isinstance(page, dict) or not isinstance(page.get("features"), list):
            raise TransportError(
                f"POST {url}: the answer is not a FeatureCollection", method="POST", url=url
            )
        features = page["features"]
        for item in features:
            # an item naming no tile loads none (the loader reports it): nothing to check
            reason = unasked(item) if _names_a_tile(item) else None
            if reason is not None:
                found = item.get("id")
                raise TransportError(
                    f"the Catalog found item {found!r}, {reason}: a service or proxy that "
                    "does not apply a search parameter answers with items it was not asked "
                    "for (the Filter extension is optional in STAC API), so nothing is "
                    "concluded from this search",
                    method="POST",
                    url=url,
                )
        yield features
        context = page.get("context") or {}
        if not isinstance(context, dict):
            raise TransportError(
                f"POST {url}: the answer's context is a {type(context).__name__}, not an object",
                method="POST",
                url=url,
            )
        offset = context.get("next")
        if offset is None:  # an empty page with a next offset is not the end
            return
        pages.follow(offset, items=len(features))  # same or endless tokens stop here
        body = {**body, "next": offset}


def _names_a_tile(item: Any) -> bool:
    """Whether a Catalog item names a tile `search_records` would read (a usable id)."""
    try:
        check_id(item.get("id") if isinstance(item, dict) else None, "tile")
    except ValidationError:
        return False
    return True


def search_records(
    client: Client,
    collection: str,
    *,
    bbox: Sequence[float] | None = None,
    datetime: DatetimeLike | None = None,
    intersects: GeometryLike | None = None,
    filter: str | Mapping[str, Any] | None = None,
    workers: int = 8,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """BYOC tile records of the tiles a Catalog search finds, oldest created first.

    One search request per 100 items, then one GET per tile (``workers`` at once) for
    the fields the items lack; a tile deleted in between is left out. An item without a
    usable id gives a record with just that id, for the loader to report (never a URL).
    """
    ids: list[str] = []
    records: list[dict[str, Any]] = []
    for page in iter_items(
        client, collection, bbox=bbox, datetime=datetime, intersects=intersects, filter=filter
    ):
        for item in page:
            tid = item.get("id") if isinstance(item, dict) else None
            try:
                ids.append(check_id(tid, "tile"))
            except ValidationError:
                records.append({"id": tid})
    ids = list(dict.fromkeys(ids))  # a tile written between two pages may come twice

    def fetch(tid: str) -> dict[str, Any] | None:
        try:
            return client.get_tile(collection, tid)
        except NotFoundError:
            return None

    workers = max(1, workers)
    # a window of GETs at a time: pool.map makes every future at once, 1.7 KB an id
    # (1.7 GB for a million tiles found, 17 GB within MAX_ITEMS) before the first answer
    window = workers * _WINDOW_PER_WORKER
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        ProgressBar(len(ids), progress, "getting tiles") as bar,
    ):
        for start in range(0, len(ids), window):
            for record in pool.map(fetch, ids[start : start + window]):
                bar.update(1)
                if record is not None:
                    records.append(record)
    records.sort(key=created_order)
    return records


def created_order(record: Mapping[str, Any]) -> str:
    """Sort key of tile records: ``created`` text (a missing or bad one sorts first).

    Examples
    --------
    >>> tiles = [{"created": "2024-01-02T00:00:00Z"}, {"created": 17}, {}]
    >>> [t.get("created") for t in sorted(tiles, key=created_order)]
    [17, None, '2024-01-02T00:00:00Z']
    """
    created = record.get("created")
    return created if isinstance(created, str) else ""
