"""Public loaders and writers: records <-> (Geo)DataFrames.

``*_from_records`` are pure (no network); ``read_*`` (in `byocframe.io.listing`) list a
live service and call them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from byocframe.frame.footprints import read_footprints
from byocframe.frame.memory import building
from byocframe.frame.native import native_geometries, wkb_column
from byocframe.frame.record_checks import (
    Errors,
    check_additional,
    check_errors,
    check_ids,
    check_statuses,
    check_times,
    duplicates,
    problem,
    report,
)
from byocframe.frame.records import (
    ATTRS_KEY,
    COLLECTION_FIELDS,
    COLLECTION_FLAT_ADDITIONAL,
    STATUSES,
    TILE_DATETIMES,
    TILE_FIELDS,
    TILE_FLAT_ADDITIONAL,
    WIRE_TO_COLUMN,
    as_records,
    bands_summary,
    dumps,
    format_datetimes,
    loads,
)
from byocframe.frame.settings import Drawing, drawing
from byocframe.frame.snapshot import stamp
from byocframe.frame.tokens import OTHER_READ_ONLY, current_fields, own_tokens
from byocframe.geo.crs import WGS84, GeometryProblem, parse_crs
from byocframe.geo.densify import DENSIFY_TOLERANCE
from byocframe.geo.geojson import geometries_to_geojson
from byocframe.geo.geometry import DEFAULT_DENSIFY, reproject
from byocframe.typing import CrsLike, RecordLike

__all__ = ["collections_from_records", "tile_frame", "tiles_from_records", "to_records"]

#: Text columns use the pandas 3 default string dtype (missing values are NaN).
TEXT = pd.StringDtype(na_value=np.nan)
STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))


def tiles_from_records(
    records: Iterable[RecordLike],
    *,
    crs: CrsLike = WGS84,
    errors: Errors = "warn",
    densify: float | None = DEFAULT_DENSIFY,
    area: bool = False,
    tolerance: float | None = None,
) -> gpd.GeoDataFrame:
    """Build a GeoDataFrame of BYOC tiles from API records.

    Parameters
    ----------
    records : iterable of dict or sentinelhub-py ``ByocTile``
        Tiles exactly as the API returns them (camelCase, geometries with a ``crs`` member).
    crs : str or pyproj.CRS, default "EPSG:4326"
        The CRS of the ``geometry`` and ``tile_geometry`` columns.
    errors : {"warn", "raise"}, default "warn"
        What to do with tiles that cannot be read in full (a time that is not ISO-8601,
        a cover that is not GeoJSON, an unknown status, no usable ``id``, ...).
        "warn": load them with the bad values missing (NaT, None, NaN; a tile with no
        usable ``id`` is left out) and emit one `ByocframeWarning` naming the first
        few. "raise": raise `ValidationError` naming every problem, load nothing.
    densify : float or None, default inf
        Longest edge, in metres, in the tile's own CRS before reprojecting (inf: no
        limit, ``tolerance`` decides). None keeps the vertices as they are (fast, but
        long UTM edges then come out straight).
    area : bool, default False
        Add an ``area_km2`` column with the geodesic area of each footprint.
    tolerance : float, optional
        How far, in metres, a reprojected edge may pass from the true curve before it is
        split (`byocframe.geo.densify.DENSIFY_TOLERANCE`, 5 m, by default; inf: fixed
        ``densify`` steps only). The frame records it, so edits are found against the
        geometries it was loaded with.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by tile ``id``. ``geometry`` is the cover geometry, or the tile geometry
        where there is no cover (``geometry_source`` says which). ``native_cover`` and
        ``native_tile`` keep the geometries as received, in ``native_crs``, as WKB
        bytes (read them with `byocframe.frame.native.native_geometries` or
        ``shapely.from_wkb``).

    Raises
    ------
    ValidationError
        With ``errors="raise"``, naming each bad tile, the field and the problem.

    Warns
    -----
    ByocframeWarning
        With ``errors="warn"``, once, when some tiles have values that cannot be read.

    See Also
    --------
    to_records : the way back to API-shaped dicts.

    Examples
    --------
    >>> tile = {
    ...     "id": "t1", "path": "2019/11/27/28V/(BAND).tif", "status": "INGESTED",
    ...     "sensingTime": "2019-11-27T00:00:00Z",
    ...     "tileGeometry": {
    ...         "type": "Polygon",
    ...         "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32628"}},
    ...         "coordinates": [[[300000, 7100040], [600120, 7100040], [600120, 6899880],
    ...                          [300000, 6899880], [300000, 7100040]]],
    ...     },
    ... }
    >>> gdf = tiles_from_records([tile])
    >>> gdf.loc["t1", ["native_crs", "geometry_source"]].tolist()
    ['EPSG:32628', 'tile']
    >>> round(gdf.geometry.iloc[0].centroid.x, 2), round(gdf.geometry.iloc[0].centroid.y, 2)
    (-15.99, 63.12)
    """
    gdf = tile_frame(
        records, crs=crs, errors=errors, densify=densify, area=area, tolerance=tolerance
    )
    with building():  # the records are still alive: a full collection walks all of them
        stamp(gdf, collection="", service="")
    return gdf


def tile_frame(
    records: Iterable[RecordLike],
    *,
    crs: CrsLike = WGS84,
    errors: Errors = "warn",
    densify: float | None = DEFAULT_DENSIFY,
    area: bool = False,
    tolerance: float | None = None,
) -> gpd.GeoDataFrame:
    """`tiles_from_records` without the ``loaded`` column: for a loader that stamps it once.

    Examples
    --------
    >>> "loaded" in tile_frame([]).columns, "loaded" in tiles_from_records([]).columns
    (False, True)
    """
    check_errors(errors)
    target = _normalise_crs(crs)
    with building():
        drawn: Drawing = {
            "densify": None if densify is None else float(densify),
            "tolerance": DENSIFY_TOLERANCE if tolerance is None else float(tolerance),
        }
        return _tiles_frame(as_records(records, "tile"), target, errors, drawn, area)


def _tiles_frame(
    recs: list[Mapping[str, Any]],
    target: str,
    errors: Errors,
    drawn: Drawing,
    area: bool,
) -> gpd.GeoDataFrame:
    ids, problems = check_ids(recs, "tile")
    problems += duplicates(ids)
    paths: list[str | None] = []
    for pos, rec in enumerate(recs):
        path = rec.get("path")
        paths.append(path if isinstance(path, str) and path else None)
        if paths[-1] is None:
            text = "missing path" if path in (None, "") else f"not a text: {path!r}"
            problems.append(problem(pos, ids[pos], "path", path, text))
    statuses, bad = check_statuses(recs, ids)
    additional, bad_additional = check_additional(recs, ids)
    problems += bad + bad_additional
    times = {}
    for wire in TILE_DATETIMES:
        times[wire], bad = check_times([r.get(wire) for r in recs], wire, ids)
        problems += bad
    feet = read_footprints(recs, target, **drawn)
    for (pos, wire), msg in sorted(feet.problems.items()):
        problems.append(problem(pos, ids[pos], wire, None, msg))
    keep = report(problems, errors, "tile", len(recs))

    cover_t, tile_t = feet.cover, feet.tile
    has_cover = ~shapely.is_missing(cover_t)
    source = np.full(len(cover_t), None, dtype=object)
    source[~shapely.is_missing(tile_t)] = "tile"
    source[has_cover] = "cover"

    columns: dict[str, Any] = {
        "path": pd.array(paths, dtype=TEXT),
        "status": pd.Categorical(statuses, dtype=STATUS_DTYPE),
    }
    for wire in TILE_DATETIMES:
        columns[WIRE_TO_COLUMN[wire]] = times[wire]
    columns["native_crs"] = pd.array(feet.native_crs, dtype=TEXT)
    columns["geometry_source"] = pd.Categorical(source, categories=["cover", "tile"])
    columns.update(_flatten(additional, TILE_FLAT_ADDITIONAL))
    columns["additional_data"] = pd.array([dumps(a) for a in additional], dtype=TEXT)
    columns["other_data"] = _other(recs, TILE_FIELDS)
    frame = pd.DataFrame(columns, index=pd.Index(ids, name="id", dtype=TEXT))
    frame["tile_geometry"] = gpd.GeoSeries(tile_t, index=frame.index, crs=target)
    frame["native_cover"] = wkb_column(feet.cover_wkb, frame.index)
    frame["native_tile"] = wkb_column(feet.tile_wkb, frame.index)
    del feet
    geometry = np.where(has_cover, cover_t, tile_t)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index, crs=target))
    gdf = gdf.iloc[keep] if keep is not None else gdf
    if area:
        from byocframe.tools.stats import geodesic_area

        gdf["area_km2"] = geodesic_area(gdf.geometry)
    gdf.attrs[ATTRS_KEY] = {"kind": "tiles", **drawn}
    return gdf


def collections_from_records(records: Iterable[RecordLike]) -> pd.DataFrame:
    """Build a DataFrame of BYOC collections from API records.

    Parameters
    ----------
    records : iterable of dict or sentinelhub-py ``ByocCollection``

    Returns
    -------
    pandas.DataFrame
        Indexed by collection ``id``, with ``name``, ``s3_bucket``, ``created``, a readable
        ``bands`` summary, the flattened read-only metadata and the raw ``additional_data``.

    Examples
    --------
    >>> frame = collections_from_records([{
    ...     "id": "c1", "name": "Mosaic", "s3Bucket": "my-bucket",
    ...     "created": "2021-01-16T18:44:36.720Z",
    ...     "additionalData": {"bands": {"B02": {"bitDepth": 16}}, "maxMetersPerPixel": 9600.0},
    ... }])
    >>> frame.loc["c1", ["name", "s3_bucket", "bands"]].tolist()
    ['Mosaic', 'my-bucket', 'B02 (UINT16)']
    """
    recs = as_records(records, "collection")
    ids = [r.get("id") for r in recs]
    problems = [
        problem(pos, rec.get("id"), name, rec.get(name), f"missing {name}")
        for pos, rec in enumerate(recs)
        for name in ("id", "name", "s3Bucket")
        if not rec.get(name)
    ]
    created, bad_times = check_times([r.get("created") for r in recs], "created", ids)
    additional, bad_additional = check_additional(recs, ids)
    problems += duplicates(ids) + bad_times + bad_additional
    spans = {}
    for wire in ("fromSensingTime", "toSensingTime"):
        spans[wire], bad_times = check_times([a.get(wire) for a in additional], wire, ids)
        problems += bad_times
    report(problems, "raise", "collection")
    columns: dict[str, Any] = {
        "name": pd.array([r.get("name") for r in recs], dtype=TEXT),
        "s3_bucket": pd.array([r.get("s3Bucket") for r in recs], dtype=TEXT),
        "created": created,
        "bands": pd.array([bands_summary(a.get("bands")) for a in additional], dtype=TEXT),
        "band_count": pd.array([len(a.get("bands") or {}) for a in additional], dtype="Int64"),
    }
    for wire in ("accountId", "userId"):
        columns[WIRE_TO_COLUMN[wire]] = pd.array([r.get(wire) for r in recs], dtype=TEXT)
    for wire in ("isConfigured", "requiresMetadataUpdate"):
        columns[WIRE_TO_COLUMN[wire]] = pd.array([r.get(wire) for r in recs], dtype="boolean")
    columns["no_data"] = pd.array([r.get("noData") for r in recs], dtype="Float64")
    flat = _flatten(additional, COLLECTION_FLAT_ADDITIONAL)
    for wire in ("fromSensingTime", "toSensingTime"):
        flat[WIRE_TO_COLUMN[wire]] = spans[wire]
    columns.update(flat)
    columns["additional_data"] = pd.array([dumps(a) for a in additional], dtype=TEXT)
    columns["other_data"] = _other(recs, COLLECTION_FIELDS)
    frame = pd.DataFrame(columns, index=pd.Index(ids, name="id", dtype=TEXT))
    frame.attrs[ATTRS_KEY] = {"kind": "collections"}
    return frame


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Turn a tile or collection frame back into API-shaped dicts.

    Geometries go back in each tile's native CRS with the ``urn:ogc:def:crs:EPSG::<code>``
    member. Rows whose ``geometry`` was not edited give back exactly the geometry that was
    loaded; edited ones are reprojected into the native CRS. Fields the API added that
    byocframe does not know (kept in ``other_data``) come back too.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame from `tiles_from_records` / `collections_from_records` (or ``read_*``).

    Returns
    -------
    list of dict

    Examples
    --------
    >>> frame = collections_from_records([{"id": "c1", "name": "n", "s3Bucket": "b", "x": 1}])
    >>> to_records(frame)
    [{'id': 'c1', 'name': 'n', 's3Bucket': 'b', 'x': 1}]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a DataFrame, got {type(frame).__name__}")
    if "path" in frame.columns:
        # a million small lists and dicts, no reference cycles: no collections meanwhile
        with building():
            return _tile_records(frame)
    if "s3_bucket" in frame.columns:
        return _collection_records(frame)
    raise ValueError(
        "frame has neither a 'path' column (tiles) nor an 's3_bucket' column (collections); "
        "build it with tiles_from_records or collections_from_records"
    )


def _tile_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cover = native_cover_geometries(frame)
    native_crs = frame["native_crs"].tolist()
    cover_json = geometries_to_geojson(cover, native_crs)
    tile_json = geometries_to_geojson(native_geometries(frame, "native_tile"), native_crs)
    times = {w: format_datetimes(frame[WIRE_TO_COLUMN[w]]) for w in TILE_DATETIMES}
    # whole columns as lists: frame[column] per row builds a Series each time, and pandas
    # deep-copies the frame's attrs (its loaded ids) into every one of them
    columns = [frame["path"].tolist(), frame["status"].tolist()]
    columns += [frame[name].tolist() for name in ("additional_data", "other_data")]
    out = []
    for pos, (tid, path, status, additional, other) in enumerate(
        zip(frame.index.tolist(), *columns, strict=True)
    ):
        rec: dict[str, Any] = {"id": tid, "path": _scalar(path), "status": _scalar(status)}
        for wire in TILE_DATETIMES:
            rec[wire] = times[wire][pos]
        rec["coverGeometry"] = cover_json[pos]
        rec["tileGeometry"] = tile_json[pos]
        rec["additionalData"] = loads(additional)
        rec.update(loads(other) or {})
        out.append({k: v for k, v in rec.items() if v is not None and v != {}})
    return out


def native_cover_geometries(frame: pd.DataFrame) -> np.ndarray:
    """The cover geometry of each row in its native CRS, honouring edits to ``geometry``.

    A row whose ``geometry`` differs from what loading its ``native_cover`` would give has
    been edited: its geometry is reprojected into the row's native CRS. A row whose
    ``loaded`` token says its ``geometry`` and ``native_cover`` are both as loaded is not
    reprojected to find that out.
    """
    drawn = drawing(frame.attrs.get(ATTRS_KEY, {}))
    crs = frame.crs.to_string() if frame.crs is not None else WGS84
    native = native_geometries(frame, "native_cover")
    native_crs = np.asarray(frame["native_crs"].astype(object).fillna(WGS84), dtype=object)
    current = np.asarray(frame.geometry.array, dtype=object)
    has_native = ~shapely.is_missing(native)
    result = native.copy()
    result[~has_native] = None
    todo = np.flatnonzero(~_as_loaded_covers(frame))
    if not len(todo):
        return result
    cover_crs = native_crs[todo].copy()
    cover_crs[~has_native[todo]] = None
    expected = reproject(native[todo], cover_crs, crs, **drawn)
    # rows without a cover showed their tile geometry: unchanged means still no cover
    fallback = np.asarray(
        reproject(
            native_geometries(frame.iloc[todo], "native_tile"), native_crs[todo], crs, **drawn
        ),
        dtype=object,
    )
    expected = np.where(has_native[todo], expected, fallback)
    same = shapely.equals_exact(current[todo], expected, tolerance=1e-9) | (
        shapely.is_missing(current[todo]) & shapely.is_missing(expected)
    )
    edited = todo[~same]
    if len(edited):
        back = reproject(current[edited], np.full(len(edited), crs), WGS84, densify=None)
        for i, geom in zip(edited, back, strict=True):
            result[i] = reproject(np.array([geom]), np.array([WGS84]), native_crs[i], densify=None)[
                0
            ]
    return result


def _as_loaded_covers(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose own token says both ``geometry`` and ``native_cover`` are as loaded.

    Loading drew that geometry from that cover, so the row gives back its native cover
    unedited. The digests of what the rows hold now are the ones `changes` compares
    (`byocframe.frame.tokens.current_fields`). Rows without such a token (new, or an
    edited ``loaded`` column): False.
    """
    state, own = own_tokens(frame)
    rows = np.flatnonzero(own)
    if state is None or not len(rows):
        return own
    now = current_fields(frame if len(rows) == len(frame) else frame.iloc[rows])
    # the CRS the cover is written in, and the tile it falls back to, as loaded too
    kept = [OTHER_READ_ONLY.index("native_crs"), OTHER_READ_ONLY.index("native_tile")]
    out = np.zeros(len(frame), dtype=bool)
    out[rows] = (
        (now["others"][:, kept] == state.others[rows][:, kept]).all(axis=1)
        & (now["geometry"] == state.geometry[rows])
        & (now["native"] == state.native[rows])
    )
    return out


def _collection_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    created = format_datetimes(frame["created"])
    out = []
    for pos, cid in enumerate(frame.index):
        row = frame.iloc[pos]
        rec: dict[str, Any] = {
            "id": cid,
            "name": _scalar(row["name"]),
            "s3Bucket": _scalar(row["s3_bucket"]),
            "created": created[pos],
        }
        for wire in ("accountId", "userId", "isConfigured", "requiresMetadataUpdate", "noData"):
            rec[wire] = _scalar(row[WIRE_TO_COLUMN[wire]])
        rec["additionalData"] = loads(row["additional_data"])
        rec.update(loads(row["other_data"]) or {})
        out.append({k: v for k, v in rec.items() if v is not None and v != {}})
    return out


def _scalar(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _normalise_crs(crs: Any) -> str:
    try:
        return parse_crs(crs if isinstance(crs, str) else None if crs is None else str(crs))
    except GeometryProblem:
        pass
    epsg = CRS.from_user_input(crs).to_epsg()
    if epsg is None:
        raise ValueError(f"crs must have an EPSG code, got {crs!r}")
    return f"EPSG:{epsg}"


def _flatten(additional: list[Mapping[str, Any]], wires: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for wire in wires:
        values = [a.get(wire) for a in additional]
        name = WIRE_TO_COLUMN[wire]
        if wire.startswith(("min", "max")):
            out[name] = pd.array(values, dtype="Float64")
        elif wire.startswith("has") and wire != "hasSensingTimes":
            out[name] = pd.array(values, dtype="boolean")
        elif wire.endswith("SensingTime"):
            continue
        else:
            out[name] = pd.array([None if v is None else str(v) for v in values], dtype=TEXT)
    return out


def _other(recs: list[Mapping[str, Any]], known: tuple[str, ...]) -> Any:
    """Unknown top-level fields as JSON text (None when there are none)."""
    known_set = frozenset(known)
    out: list[str | None] = []
    for rec in recs:
        extra = rec.keys() - known_set
        out.append(dumps({k: rec[k] for k in rec if k in extra}) if extra else None)
    return pd.array(out, dtype=TEXT)
