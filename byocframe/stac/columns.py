"""STAC Items as Arrow columns: the stac-geoparquet schema, and a frame's rows as a batch.

The layout is the stac-geoparquet 1.0 one (``docs/design/catalog.md``): the core fields as
columns, ``geometry`` and ``proj:geometry`` as ISO WKB, ``bbox`` as a struct (the
GeoParquet 1.1 covering), ``links`` and ``assets`` as nested structs, every property a
top-level column, times as UTC timestamps, and the ``geo`` and ``stac-geoparquet`` file
metadata. A property column exists when at least one tile has the property
(`stac_columns`), as the reference writer (``stac_geoparquet.arrow``) infers it, so that
reader gives back the same items for both writers. `ItemColumns` holds the schema and
turns a chunk of a tile frame into one record batch with vectorised shapely / numpy /
pyarrow calls; `byocframe.stac.parquet` writes the batches to a file.

Needs pyarrow (the ``stac`` extra).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from byocframe.frame.native import native_geometries
from byocframe.geo.crs import WGS84, crs_urn
from byocframe.geo.geometry import antimeridian_bbox
from byocframe.stac.fields import (
    EO,
    PROJECTION,
    RASTER,
    band_assets,
    cover_or_tile,
    lonlat_covers,
)

if TYPE_CHECKING:
    import geopandas as gpd
    import pyarrow as pa

__all__ = ["ItemColumns", "merge_stac_columns", "stac_columns"]

_EPOCH = "1970-01-01T00:00:00Z"  # to_stac's start/end_datetime of a tile with no time at all
_BBOX = ("xmin", "ymin", "xmax", "ymax")
_MULTIPOLYGON = int(shapely.GeometryType.MULTIPOLYGON)


def stac_columns(frame: gpd.GeoDataFrame) -> dict[str, bool]:
    """Which optional columns the items of ``frame`` need in a stac-geoparquet file.

    A property column exists when some tile has the property (as the reference writer
    infers it from the items), so both writers' files read back to the same items. The
    flags of parts of a frame combine with `or` (`merge_stac_columns`): a listing
    decides the file's schema from its batches without holding them.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> flags = stac_columns(gdf)
    >>> flags["proj"], flags["start_datetime"]
    (True, False)
    """
    tile = _any_present(frame, "native_tile")
    return {
        "start_datetime": bool(frame["sensing_time"].isna().any()),
        "proj": bool(_any_present(frame, "native_cover") or tile),
        "byoc:ingestion_start": _any(frame, "ingestion_start"),
        "byoc:tile_geometry": tile,
        "byoc:additional_data": _any(frame, "additional_data"),
        # one nesting depth per column: MultiPolygons make every tile geometry one
        "tile_multi": tile and _any_multi(frame, "native_tile"),
    }


def merge_stac_columns(*flags: Mapping[str, bool]) -> dict[str, bool]:
    """The `stac_columns` of frames put together: a column any of them needs.

    Examples
    --------
    >>> merge_stac_columns({"proj": False, "tile_multi": False}, {"proj": True})
    {'proj': True, 'tile_multi': False}
    """
    names = dict.fromkeys(name for f in flags for name in f)
    return {name: any(f.get(name, False) for f in flags) for name in names}


class ItemColumns:
    """The file's schema, decided once from `stac_columns`, and the batches that fill it.

    ``href`` is the collection's link in the Catalog, as every item carries it.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> columns = ItemColumns(stac_columns(gdf), record, "https://example.com/byoc-c1")
    >>> batch, dropped = columns.batch(gdf)
    >>> batch.num_rows, dropped, batch.schema.names == columns.schema.names
    (3, 0, True)
    """

    def __init__(self, columns: Mapping[str, bool], record: Mapping[str, Any], href: str) -> None:
        import pyarrow as pa
        import pyarrow.compute  # makes pa.compute available
        import pystac

        self.pa = pa
        self.bucket = str(record["s3Bucket"])
        self.bands = band_assets(record)
        self.constants = {
            "type": pa.array(["Feature"]),
            "stac_version": pa.array([pystac.get_stac_version()]),
            "stac_extensions": pa.array([[PROJECTION, RASTER, EO]]),
            "links": pa.array([[{"rel": "collection", "href": href, "type": "application/json"}]]),
            "collection": pa.array([f"byoc-{record['id']}"]),
        }
        self.present = {k: bool(v) for k, v in columns.items() if k != "tile_multi"}
        self.tile_multi = bool(columns.get("tile_multi"))
        self.schema = self._schema()

    def _schema(self) -> pa.Schema:
        pa = self.pa
        time = pa.timestamp("us", tz="UTC")
        fields = [
            pa.field("type", pa.string()),
            pa.field("stac_version", pa.string()),
            pa.field("stac_extensions", pa.list_(pa.string())),
            pa.field("id", pa.string()),
            pa.field("geometry", pa.binary(), metadata=_geoarrow_field_metadata()),
            pa.field("bbox", pa.struct([(k, pa.float64()) for k in _BBOX])),
            pa.field("links", self.constants["links"].type),
            pa.field("assets", self._assets_type()),
            pa.field("collection", pa.string()),
        ]
        if not self.bands:  # Parquet has no empty struct; readers give back "assets": {}
            fields = [f for f in fields if f.name != "assets"]
        if self.present["start_datetime"]:
            fields += [pa.field("start_datetime", time), pa.field("end_datetime", time)]
        if self.present["proj"]:
            fields += [
                pa.field("proj:code", pa.string()),
                pa.field("proj:geometry", pa.binary()),
                pa.field("proj:bbox", pa.list_(pa.float64())),
            ]
        fields += [
            pa.field("byoc:path", pa.string()),
            pa.field("byoc:status", pa.string()),
            pa.field("byoc:created", pa.string()),
        ]
        if self.present["byoc:ingestion_start"]:
            fields.append(pa.field("byoc:ingestion_start", pa.string()))
        if self.present["byoc:tile_geometry"]:
            fields.append(pa.field("byoc:tile_geometry", _tile_geometry_type(pa, self.tile_multi)))
        fields.append(pa.field("byoc:cover", pa.bool_()))
        if self.present["byoc:additional_data"]:
            fields.append(pa.field("byoc:additional_data", pa.string()))
        fields.append(pa.field("datetime", time))
        return pa.schema(fields, metadata=_file_metadata(self.present["proj"]))

    def _assets_type(self) -> pa.DataType:
        pa = self.pa
        self.asset_constants = {}
        members = []
        for name, (_, fields) in self.bands.items():
            const = pa.array([fields])  # type, title, eo:bands, raster:bands, roles
            self.asset_constants[name] = const
            members.append(pa.field(name, pa.struct([pa.field("href", pa.string()), *const.type])))
        return pa.struct(members)

    def batch(self, chunk: gpd.GeoDataFrame) -> tuple[pa.RecordBatch, int]:
        """One record batch of items for ``chunk``, and how many tiles it left out."""
        pa = self.pa
        cover = native_geometries(chunk, "native_cover")
        tile = native_geometries(chunk, "native_tile")
        native = cover_or_tile(cover, tile)
        lonlat = np.asarray(lonlat_covers(chunk, native), dtype=object)
        keep = _present(lonlat)
        dropped = int((~keep).sum())
        if dropped:
            chunk, lonlat = chunk[keep], lonlat[keep]
            cover, tile, native = cover[keep], tile[keep], native[keep]
        n = len(chunk)
        zeros = pa.array(np.zeros(n, dtype=np.int32))
        cols: dict[str, Any] = {k: v.take(zeros) for k, v in self.constants.items()}
        cols["id"] = pa.array(chunk.index.astype(str).to_numpy(dtype=object), type=pa.string())
        cols["geometry"] = pa.array(shapely.to_wkb(lonlat, flavor="iso"), type=pa.binary())
        cols["bbox"] = _bbox_struct(pa, lonlat)
        paths = _strings(pa, chunk["path"])
        if self.bands:
            cols["assets"] = self._assets(paths, zeros)
        sensing = _times(pa, chunk["sensing_time"])
        created = chunk["created"]
        if self.present["start_datetime"]:
            # a timeless tile: to_stac gives it created..created (the epoch without one)
            fallback = _times(pa, created).fill_null(pa.scalar(pd.Timestamp(_EPOCH), sensing.type))
            span = pa.compute.if_else(sensing.is_null(), fallback, pa.nulls(n, sensing.type))
            cols["start_datetime"] = cols["end_datetime"] = span
        if self.present["proj"]:
            cols.update(_proj_columns(pa, native, chunk["native_crs"]))
        cols["byoc:path"] = paths
        cols["byoc:status"] = _strings(pa, chunk["status"])
        cols["byoc:created"] = _iso_z(pa, created)
        if self.present["byoc:ingestion_start"]:
            cols["byoc:ingestion_start"] = _iso_z(pa, chunk["ingestion_start"])
        if self.present["byoc:tile_geometry"]:
            cols["byoc:tile_geometry"] = _tile_geometry(
                pa, tile, chunk["native_crs"], self.tile_multi
            )
        cols["byoc:cover"] = pa.array(_present(cover))
        if self.present["byoc:additional_data"]:
            cols["byoc:additional_data"] = _additional(pa, chunk["additional_data"])
        cols["datetime"] = sensing
        arrays = [cols[f.name] for f in self.schema]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema), dropped

    def _assets(self, paths: pa.Array, zeros: pa.Array) -> pa.StructArray:
        pa, pc = self.pa, self.pa.compute
        banded = pc.match_substring(paths, "(BAND)")
        members = []
        for name, (source, _) in self.bands.items():
            key = pc.if_else(
                banded,
                pc.replace_substring(paths, "(BAND)", source),
                pc.binary_join_element_wise(paths, f"/{source}.tif", ""),
            )
            href = pc.binary_join_element_wise(f"s3://{self.bucket}/", key, "")
            const = self.asset_constants[name].take(zeros)
            members.append(
                pa.StructArray.from_arrays(
                    [href, *const.flatten()], fields=[pa.field("href", pa.string()), *const.type]
                )
            )
        return pa.StructArray.from_arrays(members, names=list(self.bands))


def _any(frame: pd.DataFrame, column: str) -> bool:
    return column in frame.columns and bool(frame[column].notna().any())


def _any_present(frame: pd.DataFrame, column: str) -> bool:
    if column not in frame.columns:
        return False
    values = frame[column]
    if isinstance(values.dtype, pd.ArrowDtype):
        return bool(values.notna().any())  # WKB: null is missing (an empty one still counts)
    return bool(_present(np.asarray(values.array, dtype=object)).any())


def _any_multi(frame: pd.DataFrame, column: str) -> bool:
    """Whether any tile geometry is a MultiPolygon (the service's are Polygons)."""
    values = frame[column]
    if not isinstance(values.dtype, pd.ArrowDtype):
        return bool((shapely.get_type_id(values.to_numpy()) == _MULTIPOLYGON).any())
    import pyarrow as pa
    import pyarrow.compute as pc

    # WKB: a byte order mark, then the type as uint32 (6, 1006, 2006, 3006 in ISO WKB)
    head = pc.binary_slice(pa.array(values.array), 0, 5).to_pylist()
    return any(_wkb_type(h) % 1000 == _MULTIPOLYGON for h in set(head) if h)


def _wkb_type(head: bytes) -> int:
    # a byte order mark, then the type (EWKB keeps its Z/M/SRID flags in the top bits)
    if head[:1] == b"\x01":
        return int.from_bytes(head[1:5], "little") & 0x0FFFFFFF
    return int.from_bytes(head[1:5], "big") & 0x0FFFFFFF


def _present(geoms: np.ndarray) -> np.ndarray:
    return ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))


def _strings(pa: Any, values: pd.Series) -> pa.Array:
    return pa.array(
        values.astype(object).to_numpy(dtype=object), type=pa.string(), from_pandas=True
    )


def _times(pa: Any, values: pd.Series) -> pa.Array:
    utc = pd.to_datetime(values, utc=True).dt.as_unit("us")
    return pa.array(utc, type=pa.timestamp("us", tz="UTC"), from_pandas=True)


def _iso_z(pa: Any, values: pd.Series) -> pa.Array:
    """UTC times as the service writes them (``Z``; ms or us only when there are some)."""
    naive = pd.to_datetime(values, utc=True).dt.tz_localize(None).to_numpy("datetime64[us]")
    missing = np.isnat(naive)
    micros = naive.astype(np.int64) % 1_000_000
    text = np.where(
        micros == 0,
        np.datetime_as_string(naive, unit="s"),
        np.where(
            micros % 1000 == 0,
            np.datetime_as_string(naive, unit="ms"),
            np.datetime_as_string(naive, unit="us"),
        ),
    )
    out = pa.compute.binary_join_element_wise(pa.array(text, type=pa.string()), "Z", "")
    return pa.compute.if_else(pa.array(missing), pa.nulls(len(text), pa.string()), out)


def _additional(pa: Any, values: pd.Series) -> pa.Array:
    """The frame's ``additional_data`` text as is (compact JSON, as `to_stac` writes it).

    `to_stac` leaves the property out for a tile with none, or an empty one.
    """
    text = _strings(pa, values)
    empty = pa.compute.is_in(text, value_set=pa.array(["{}", "null"]))
    return pa.compute.if_else(empty, pa.scalar(None, pa.string()), text)


def _boxes(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per geometry (none missing or empty) the min/max of its parts' boxes, and the parts."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    starts = np.searchsorted(index, np.arange(len(geoms)))
    return parts, index, starts


def _bbox_struct(pa: Any, lonlat: np.ndarray) -> pa.StructArray:
    """The STAC bbox of each lon/lat geometry, west > east across the antimeridian."""
    if not len(lonlat):
        return pa.array([], type=pa.struct([(k, pa.float64()) for k in _BBOX]))
    parts, index, starts = _boxes(lonlat)
    bounds = shapely.bounds(parts)
    box = np.column_stack(
        [
            np.minimum.reduceat(bounds[:, 0], starts),
            np.minimum.reduceat(bounds[:, 1], starts),
            np.maximum.reduceat(bounds[:, 2], starts),
            np.maximum.reduceat(bounds[:, 3], starts),
        ]
    )
    # only geometries reaching both -180 and +180 can cross; antimeridian_bbox decides
    for i in np.flatnonzero((box[:, 0] <= -180) & (box[:, 2] >= 180)):
        box[i] = antimeridian_bbox(bounds[index == i].tolist())
    return pa.StructArray.from_arrays([pa.array(box[:, k]) for k in range(4)], names=list(_BBOX))


def _proj_columns(pa: Any, native: np.ndarray, crs: pd.Series) -> dict[str, pa.Array]:
    """``proj:code``, ``proj:geometry`` (always a MultiPolygon, as to_stac) and ``proj:bbox``."""
    has = _present(native)
    n = len(native)
    codes = _crs_codes(crs)
    names = {c: "EPSG:" + crs_urn(str(c)).rsplit(":", 1)[-1] for c in pd.unique(codes)}
    code = pa.array(np.where(has, codes.map(names).to_numpy(dtype=object), None), type=pa.string())
    wkb = np.full(n, None, dtype=object)
    boxes = np.full((n, 4), np.nan)
    if has.any():
        parts, index, starts = _boxes(native[has])
        wkb[has] = shapely.to_wkb(shapely.multipolygons(parts, indices=index), flavor="iso")
        # to_stac takes the box of the exterior rings' positions
        bounds = shapely.bounds(shapely.get_exterior_ring(parts))
        boxes[has] = np.column_stack(
            [
                np.minimum.reduceat(bounds[:, 0], starts),
                np.minimum.reduceat(bounds[:, 1], starts),
                np.maximum.reduceat(bounds[:, 2], starts),
                np.maximum.reduceat(bounds[:, 3], starts),
            ]
        )
    offsets = pa.array(np.arange(0, 4 * n + 1, 4, dtype=np.int32))
    bbox = pa.ListArray.from_arrays(offsets, pa.array(boxes.ravel()), mask=pa.array(~has))
    return {
        "proj:code": code,
        "proj:geometry": pa.array(wkb, type=pa.binary()),
        "proj:bbox": bbox,
    }


def _tile_geometry_type(pa: Any, multi: bool) -> pa.DataType:
    depth = 4 if multi else 3
    coords: Any = pa.float64()
    for _ in range(depth):
        coords = pa.list_(coords)
    crs = pa.struct([("type", pa.string()), ("properties", pa.struct([("name", pa.string())]))])
    return pa.struct([("type", pa.string()), ("crs", crs), ("coordinates", coords)])


def _tile_geometry(pa: Any, geoms: np.ndarray, crs: pd.Series, multi: bool) -> pa.StructArray:
    """``byoc:tile_geometry``: the record's GeoJSON (with its ``crs`` member) as a struct."""
    has = _present(geoms)
    n = len(geoms)
    valid = geoms[has]
    if multi:  # one nesting depth per column: Polygons become one-part MultiPolygons
        parts, index = shapely.get_parts(valid, return_index=True)
        valid = shapely.multipolygons(parts, indices=index)
    if len(valid):
        _, xy, offsets = shapely.to_ragged_array(valid)
    else:
        xy, offsets = np.empty((0, 2)), tuple(np.zeros(1, dtype=np.int64) for _ in range(2 + multi))
    # GeoJSON nests positions in rings in polygons (in multipolygons): one list per level
    nested = pa.ListArray.from_arrays(
        pa.array(np.arange(0, 2 * len(xy) + 1, 2, dtype=np.int32)), pa.array(xy.ravel())
    )
    for level in offsets[:-1]:
        nested = pa.ListArray.from_arrays(pa.array(level.astype(np.int32)), nested)
    sizes = np.zeros(n, dtype=np.int64)
    sizes[has] = np.diff(offsets[-1])
    mask = pa.array(~has)
    coords = pa.ListArray.from_arrays(_offsets(pa, sizes), nested, mask=mask)
    codes = _crs_codes(crs)
    names = {c: crs_urn(str(c)) for c in pd.unique(codes)}
    urn = pa.array(np.where(has, codes.map(names).to_numpy(dtype=object), None), type=pa.string())
    crs = pa.StructArray.from_arrays(
        [
            pa.array(_only(has, "name"), type=pa.string()),
            pa.StructArray.from_arrays([urn], names=["name"]),
        ],
        names=["type", "properties"],
    )
    kind = _only(has, "MultiPolygon" if multi else "Polygon")
    return pa.StructArray.from_arrays(
        [pa.array(kind, type=pa.string()), crs, coords],
        names=["type", "crs", "coordinates"],
        mask=mask,
    )


def _crs_codes(crs: pd.Series) -> pd.Series:
    """Each tile's CRS, WGS84 where the frame has none (as `to_records` writes it)."""
    values = crs.astype(object)
    return values.where(values.notna(), WGS84)


def _only(has: np.ndarray, value: str) -> np.ndarray:
    """``value`` where ``has``, None elsewhere."""
    out = np.full(len(has), None, dtype=object)
    out[has] = value
    return out


def _offsets(pa: Any, sizes: np.ndarray) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32))


def _geoarrow_field_metadata() -> dict[bytes, bytes]:
    return {
        b"ARROW:extension:name": b"geoarrow.wkb",
        b"ARROW:extension:metadata": json.dumps({"crs": _wgs84_projjson()}).encode(),
    }


def _wgs84_projjson() -> dict[str, Any]:
    from pyproj import CRS

    return CRS.from_epsg(4326).to_json_dict()


def _file_metadata(with_proj: bool) -> dict[bytes, bytes]:
    """The GeoParquet 1.1 ``geo`` and the stac-geoparquet 1.0 file metadata."""
    columns: dict[str, Any] = {
        "geometry": {
            "encoding": "WKB",
            "geometry_types": [],
            "crs": _wgs84_projjson(),
            "edges": "planar",
            "covering": {"bbox": {k: ["bbox", k] for k in _BBOX}},
        }
    }
    if with_proj:
        # each row has its own CRS: "crs": null says unknown (a missing key would mean WGS84)
        columns["proj:geometry"] = {
            "encoding": "WKB",
            "geometry_types": ["MultiPolygon"],
            "crs": None,
        }
    geo = {"version": "1.1.0", "columns": columns, "primary_column": "geometry"}
    return {
        b"geo": json.dumps(geo).encode(),
        b"stac-geoparquet": json.dumps({"version": "1.0.0"}).encode(),
    }
