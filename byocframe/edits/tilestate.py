"""One tile's editable state on each side of a push, and the three-way merge of it.

A tile has two fields a push can change: its sensing time and its cover. `TileState`
holds both; `read_state` reads them from a record of the API; `merge` combines what was
loaded, what the server holds and what the user wants, field by field.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from byocframe.edits.equality import covers_equal, same_instant
from byocframe.exceptions import ByocframeWarning, ValidationError
from byocframe.frame.records import NAT, format_micros
from byocframe.geo.geojson import geometries_to_geojson, parse_cover
from byocframe.geo.geometry import reproject

__all__ = [
    "MAX_COVER_POINTS",
    "TileState",
    "changed_fields",
    "describe_clash",
    "iso",
    "limit_points",
    "merge",
    "micros",
    "read_state",
    "request_body",
    "same_state",
]

#: Most points the API accepts in a cover geometry.
MAX_COVER_POINTS = 100

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class TileState:
    """A tile's sensing time (int64 us, `NAT` when missing) and cover (native CRS).

    ``source`` is the GeoJSON the cover was read from, when it was in the native CRS:
    a write that keeps the server's cover sends it back as it came.
    """

    time: int
    cover: Any
    source: dict[str, Any] | None = field(default=None, repr=False, compare=False)


def iso(value: int) -> str | None:
    """Microseconds since the epoch as the service writes times (None for `NAT`).

    Examples
    --------
    >>> iso(1_678_971_382_205_000), iso(NAT)
    ('2023-03-16T12:56:22.205Z', None)
    """
    return None if value == NAT else format_micros(value)


def micros(text: Any) -> int:
    """An ISO time as int64 microseconds since the epoch (missing -> `NAT`).

    Raises
    ------
    ValidationError
        For a time that does not parse (the service holds a bad sensing time).

    Examples
    --------
    >>> micros("2023-03-16T12:56:22.205Z"), micros(None) == NAT
    (1678971382205000, True)
    >>> micros("999-06-01T00:00:00Z")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: the time '999-06-01T00:00:00Z' is not ISO-8601 ...
    """
    if not text:
        return NAT
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError as err:
        raise ValidationError(
            f"the time {str(text)[:40]!r} is not ISO-8601 with a four-digit year, so this "
            "tile cannot be compared with what was loaded; give it a valid sensing time "
            "with Client.update_tile, then load it again"
        ) from err
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def read_state(record: dict[str, Any], crs: str, cover: bool = True) -> TileState:
    """A tile as the service holds it, its cover in ``crs``.

    With ``cover=False`` the cover is not read (a verify of the sensing time needs none).

    Examples
    --------
    >>> ring = [[0, 0], [1, 0], [1, 1], [0, 0]]
    >>> state = read_state({"sensingTime": None, "coverGeometry": {"type": "Polygon",
    ...     "coordinates": [ring]}}, "EPSG:4326")
    >>> state.time == NAT, state.cover.geom_type
    (True, 'Polygon')
    """
    when = micros(record.get("sensingTime"))
    if not cover:
        return TileState(when, None)
    source = record.get("coverGeometry")
    shape, its_crs = parse_cover(source)
    if shape is None or its_crs == crs:
        return TileState(when, shape, source if shape is not None else None)
    shape = reproject(np.array([shape]), np.array([its_crs]), crs, densify=None)[0]
    return TileState(when, shape)


def changed_fields(a: TileState, b: TileState, crs: str) -> tuple[str, ...]:
    """The fields that differ between two states (times to the ms, covers within 2 cm).

    Examples
    --------
    >>> changed_fields(TileState(0, None), TileState(5_000, None), "EPSG:4326")
    ('sensing_time',)
    """
    return tuple(
        name
        for name, same in (
            ("sensing_time", same_instant(a.time, b.time)),
            ("geometry", covers_equal(a.cover, b.cover, crs)),
        )
        if not same
    )


def same_state(a: TileState, b: TileState, crs: str) -> bool:
    """Whether two states are equal (see `changed_fields`)."""
    return not changed_fields(a, b, crs)


def merge(
    base: TileState, server: TileState, wanted: TileState, crs: str
) -> tuple[TileState, list[str]]:
    """Three-way merge per field; the second value lists the fields that conflict.

    A field only we changed takes our value, a field only the server changed keeps the
    server's, a field both changed to the same value is no conflict.

    Examples
    --------
    >>> base = TileState(0, None)
    >>> merge(base, TileState(5_000, None), TileState(0, None), "EPSG:4326")
    (TileState(time=5000, cover=None), [])
    >>> merge(base, TileState(5_000, None), TileState(9_000, None), "EPSG:4326")[1]
    ['sensing_time']
    """
    clashes = []
    ours_t = not same_instant(wanted.time, base.time)
    theirs_t = not same_instant(server.time, base.time)
    if ours_t and theirs_t and not same_instant(wanted.time, server.time):
        clashes.append("sensing_time")
    ours_c = not covers_equal(wanted.cover, base.cover, crs)
    theirs_c = not covers_equal(server.cover, base.cover, crs)
    if ours_c and theirs_c and not covers_equal(wanted.cover, server.cover, crs):
        clashes.append("geometry")
    kept = wanted if ours_c else server
    merged = TileState(wanted.time if ours_t else server.time, kept.cover, kept.source)
    return merged, clashes


def describe_clash(name: str, base: TileState, server: TileState, wanted: TileState) -> str:
    """One clause saying how field ``name`` differs between the three sides."""
    if name == "sensing_time":
        return (
            f"sensing_time is {iso(server.time)} on the server (loaded {iso(base.time)}, "
            f"yours {iso(wanted.time)})"
        )
    return "the cover was changed on the server too"


def request_body(path: str, state: TileState, crs: str) -> dict[str, Any]:
    """A PUT/POST body: the path, the sensing time (null clears it) and the cover.

    A cover kept from the server goes back as the server sent it.
    """
    body: dict[str, Any] = {"path": path, "sensingTime": iso(state.time)}
    if state.source is not None:
        body["coverGeometry"] = state.source
        return body
    cover = geometries_to_geojson([state.cover], [crs])[0]
    if cover is not None:
        body["coverGeometry"] = cover
    return body


def limit_points(geom: Any, tolerance: float | None, label: str) -> Any:
    """Simplify a cover to at most `MAX_COVER_POINTS` points, with a warning.

    Raises
    ------
    ValidationError
        When even the coarsest simplification (or the given ``tolerance``) leaves too
        many points.
    """
    if geom is None or shapely.get_num_coordinates(geom) <= MAX_COVER_POINTS:
        return geom
    step = tolerance if tolerance is not None else 1e-6
    simpler = geom
    for _ in range(60):
        simpler = shapely.simplify(geom, step, preserve_topology=True)
        if shapely.get_num_coordinates(simpler) <= MAX_COVER_POINTS or tolerance is not None:
            break
        step *= 2
    points = shapely.get_num_coordinates(simpler)
    if points > MAX_COVER_POINTS:
        raise ValidationError(
            f"{label}: cover has {shapely.get_num_coordinates(geom)} points, still {points} "
            f"after simplify(tolerance={tolerance}); the API takes at most "
            f"{MAX_COVER_POINTS}: pass a larger tolerance"
        )
    warnings.warn(
        f"{label}: cover simplified from {shapely.get_num_coordinates(geom)} to {points} "
        f"points (tolerance {step:g} in its CRS units; the API takes at most "
        f"{MAX_COVER_POINTS}); pass tolerance= to choose",
        ByocframeWarning,
        stacklevel=5,
    )
    return simpler
