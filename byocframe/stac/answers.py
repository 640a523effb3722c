"""A Catalog search's answer checked against what the search asked, item by item.

A STAC API that does not apply a parameter of a search (a proxy, a server without the
optional Filter extension, a deployment that predates it) answers 200 with items it was
not asked for. A load of "the tiles in this area, of this month, of this filter" would
then hold tiles of every area, month or kind, and deleting or reingesting what was
loaded would reach them (findings 231 and 270). So every item of the answer is checked
against the search's ``bbox`` or ``intersects``, its ``datetime`` and its ``filter``;
the first that does not fit ends the search (`outside`, used by
`byocframe.stac.catalog.iter_items`).

The checks err on the side of the service: an item fits an area when its ``bbox`` or
its geometry's bounds, widened by `AREA_TOLERANCE`, meets the area, and a period when
its time (its ``start_datetime``/``end_datetime`` range when it has one), widened by
`TIME_TOLERANCE`, meets it. An honest service tests the tile's
cover itself, which lies inside that box, so it never gives an item these checks
refuse; a service that ignores the parameter gives items of other places and dates. A
filter is evaluated with the ``cql2`` package (the one the local service parses filters
with); a filter it cannot read, or an item it cannot judge, ends the search too: an
answer that cannot be checked is not taken for what was asked.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import shapely
import shapely.geometry

__all__ = ["AREA_TOLERANCE", "TIME_TOLERANCE", "outside"]

#: Degrees by which an item's box is widened before it is found outside the area
#: searched (about 0.1 m): a service that rounds the boxes it writes is not refused.
AREA_TOLERANCE = 1e-6
#: How far an item's time may lie outside the period searched before it is refused: a
#: service that writes times to the second (the BYOC tiles hold microseconds) is not.
TIME_TOLERANCE = dt.timedelta(seconds=1)


def outside(search: Mapping[str, Any]) -> Callable[[Any], str | None]:
    """A test of the items a search's answer holds: why one was not asked for, or None.

    ``search`` is the body of a STAC API ``POST /search`` (``bbox`` or ``intersects``
    in lon/lat, ``datetime`` as an RFC 3339 instant or interval, ``filter`` as CQL2
    text or JSON). The test gives a reason for the first parameter an item does not
    fit, in words that finish "the Catalog found item X, ...".

    Examples
    --------
    >>> test = outside({"bbox": [10, 40, 11, 41], "datetime": "2024-06-01T00:00:00Z/.."})
    >>> item = {"id": "a", "bbox": [10.5, 40.5, 10.6, 40.6],
    ...         "properties": {"datetime": "2024-06-02T10:00:00Z"}}
    >>> test(item) is None
    True
    >>> test({**item, "bbox": [-60, -30, -59, -29]})
    'whose box [-60, -30, -59, -29] lies outside the bbox searched'
    >>> test({**item, "properties": {"datetime": "2023-01-01T00:00:00Z"}})
    "whose time '2023-01-01T00:00:00Z' lies outside the datetime searched"
    """
    tests: list[Callable[[Any], str | None]] = []
    if search.get("bbox") is not None:
        tests.append(_area_test(_boxes(search["bbox"]), "bbox"))
    if search.get("intersects") is not None:
        tests.append(_area_test(shapely.geometry.shape(search["intersects"]), "intersects"))
    if search.get("datetime") is not None:
        tests.append(_period_test(str(search["datetime"])))
    if search.get("filter") is not None:
        tests.append(_filter_test(search["filter"]))

    def test(item: Any) -> str | None:
        if not isinstance(item, Mapping):
            return "which is not an object" if tests else None
        for one in tests:
            reason = one(item)
            if reason is not None:
                return reason
        return None

    return test


def _boxes(box: Any) -> Any:
    """A lon/lat box as a geometry: two boxes when it crosses the antimeridian."""
    values = [float(v) for v in box]
    west, south, east, north = (
        (values[0], values[1], values[3], values[4]) if len(values) == 6 else values
    )
    if west > east:  # STAC: a box across the antimeridian has west > east
        return shapely.union(
            shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)
        )
    return shapely.box(west, south, east, north)


def _item_extents(item: Mapping[str, Any]) -> Iterator[Any]:
    """The item's extents as geometries: its ``bbox``, then its geometry's bounds.

    Both, as a service may test either: a box made from a tile's corners misses the
    bulge of its reprojected edges, which the geometry holds. The geometry is read
    only when its box does not fit (reading it costs ten times more).
    """
    box = item.get("bbox")
    try:
        if isinstance(box, list | tuple) and len(box) in (4, 6):
            yield _boxes(box)
    except (TypeError, ValueError):
        pass
    geometry = item.get("geometry")
    try:
        shape = shapely.geometry.shape(geometry) if isinstance(geometry, Mapping) else None
    except (TypeError, ValueError, AttributeError, KeyError, shapely.errors.ShapelyError):
        shape = None
    if shape is not None and not shape.is_empty:
        yield shapely.box(*shape.bounds)


def _area_test(area: Any, name: str) -> Callable[[Mapping[str, Any]], str | None]:
    shapely.prepare(area)

    def test(item: Mapping[str, Any]) -> str | None:
        seen = False
        for extent in _item_extents(item):
            if area.intersects(extent.buffer(AREA_TOLERANCE, join_style="mitre")):
                return None
            seen = True
        if not seen:
            return f"which has no box or geometry, in a search by {name}"
        shown = item.get("bbox", "of its geometry")
        return f"whose box {shown} lies outside the {name} searched"

    return test


def _instant(text: Any) -> dt.datetime | None:
    """An RFC 3339 time as an aware datetime (UTC when naive), or None.

    RFC 3339 lets ``T`` and ``Z`` be lower case, which ``fromisoformat`` does not read.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _period(text: str) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    """``start/end`` (``..`` or nothing: open) or an instant; None if unreadable."""
    parts = text.split("/")
    if len(parts) == 1:
        instant = _instant(parts[0])
        return None if instant is None else (instant, instant)
    if len(parts) != 2:
        return None
    ends = [None if p.strip() in ("", "..") else _instant(p) for p in parts]
    if any(e is None and p.strip() not in ("", "..") for e, p in zip(ends, parts, strict=True)):
        return None
    return ends[0], ends[1]


def _period_test(text: str) -> Callable[[Mapping[str, Any]], str | None]:
    period = _period(text)

    def test(item: Mapping[str, Any]) -> str | None:
        if period is None:
            return f"but the datetime searched, {text!r}, cannot be read here to check it"
        start, end = period
        properties = item.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        shown = properties.get("datetime")
        first = last = _instant(shown)
        ranged = [properties.get("start_datetime"), properties.get("end_datetime")]
        if first is None or (_instant(ranged[0]) and _instant(ranged[1])):
            # STAC: an item's range is what a search matches, when it has one (its
            # datetime, often the range's start, may lie outside a period meeting it)
            first, last, shown = _instant(ranged[0]), _instant(ranged[1]), ranged
        if first is None or last is None:
            return "which has no datetime, in a search by datetime"
        if (end is not None and first - TIME_TOLERANCE > end) or (
            start is not None and last + TIME_TOLERANCE < start
        ):
            return f"whose time {shown!r} lies outside the datetime searched"
        return None

    return test


def _filter_test(filter: Any) -> Callable[[Mapping[str, Any]], str | None]:
    """Whether an item matches ``filter`` as the ``cql2`` package evaluates it."""
    import cql2

    try:
        expr = (
            cql2.parse_text(filter)
            if isinstance(filter, str)
            else cql2.parse_json(json.dumps(filter))
        )
    except (cql2.ParseError, cql2.ValidationError, ValueError, TypeError) as err:
        unread = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return lambda item: (
            f"but the filter it was sent cannot be read here to check it (cql2: {unread})"
        )

    def test(item: Mapping[str, Any]) -> str | None:
        try:
            matched = bool(expr.matches(dict(item)))
        except Exception as err:  # cql2 raises a bare Exception when it cannot reduce
            return f"which the filter it was sent cannot be evaluated on (cql2: {err})"
        return None if matched else "which does not match the filter it was sent"

    return test
