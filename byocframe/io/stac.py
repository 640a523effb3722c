"""STAC export of tile frames, and back: open the same COGs outside Sentinel Hub.

`to_stac` turns a tile frame into STAC Items (a pystac ``ItemCollection``): the lon/lat
cover as the geometry, the projection extension 2.0 (``proj:code``, ``proj:geometry``,
``proj:bbox``, as pystac 1.15 writes it) with the cover in the tile's own CRS, a
``collection`` link to the collection in the Catalog, and one asset per collection band
pointing at its file (``s3://bucket/path`` with ``(BAND)`` resolved by the band's
``source``). odc-stac, stackstac or GDAL (``/vsis3/``) read those assets directly. The
BYOC fields that STAC has no place for travel as ``byoc:*`` properties, so
`tiles_from_stac` rebuilds the same frame. With ``geoparquet=``, the items are also
written as a stac-geoparquet file (the format's reference writer, ``stac-geoparquet``).

Needs the ``stac`` extra (``pip install byocframe[stac]``).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from byocframe.client.api import resolve_client
from byocframe.client.deployments import get_deployment
from byocframe.exceptions import ByocframeWarning, ValidationError, user_stacklevel
from byocframe.frame.convert import tiles_from_records, to_records
from byocframe.frame.native import native_geometries
from byocframe.frame.records import ATTRS_KEY, dumps
from byocframe.frame.tokens import loaded_state
from byocframe.geo.crs import WGS84, GeometryProblem, crs_urn, parse_crs
from byocframe.geo.geojson import geometries_to_geojson
from byocframe.geo.geometry import DEFAULT_DENSIFY, antimeridian_bbox, reproject
from byocframe.io.catalog import CATALOG_PATH

if TYPE_CHECKING:
    import geopandas as gpd
    import pystac

__all__ = [
    "is_item_collection",
    "read_stac_geoparquet",
    "tiles_from_stac",
    "to_stac",
    "write_geoparquet",
]

#: The projection extension 2.0 (``proj:code``); 1.x wrote ``proj:epsg``, which readers still take.
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
#: BYOC record fields carried as ``byoc:*`` properties (STAC has no place for them).
_CARRIED = {
    "path": "byoc:path",
    "status": "byoc:status",
    "created": "byoc:created",
    "ingestionStart": "byoc:ingestion_start",
    "tileGeometry": "byoc:tile_geometry",
}


def lonlat_covers(frame: gpd.GeoDataFrame, native: np.ndarray | None = None) -> np.ndarray:
    """The frame's geometries in lon/lat (from the native ones when the frame is not).

    ``native`` saves computing `native_covers` again when the caller has them.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1), crs="EPSG:3857")
    >>> round(lonlat_covers(gdf)[0].bounds[1])
    62
    """
    if frame.crs is not None and frame.crs.to_epsg() == 4326:
        return frame.geometry.to_numpy()
    native = native_covers(frame) if native is None else native
    return reproject(native, frame["native_crs"].to_numpy(dtype=object), WGS84)


def native_covers(frame: pd.DataFrame) -> np.ndarray:
    """Each tile's cover in its own CRS, its tile geometry where it has no cover.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    >>> native_covers(gdf)[0].geom_type
    'MultiPolygon'
    """
    cover = native_geometries(frame, "native_cover")
    tile = native_geometries(frame, "native_tile") if "native_tile" in frame else cover
    return cover_or_tile(cover, tile)


def cover_or_tile(cover: np.ndarray, tile: np.ndarray) -> np.ndarray:
    """The cover where there is one, else the tile geometry (both in the tile's CRS).

    Examples
    --------
    >>> import numpy as np, shapely
    >>> cover_or_tile(np.array([None, shapely.Point(1, 1)]), np.array([shapely.Point(0, 0)] * 2))
    array([<POINT (0 0)>, <POINT (1 1)>], dtype=object)
    """
    return np.where(shapely.is_missing(cover), tile, cover)


def asset_key(path: str, source: str) -> str:
    """The object key of one band's file: ``(BAND)`` resolved, or ``<source>.tif`` in a folder.

    Examples
    --------
    >>> asset_key("tiles/a/(BAND).tif", "B02"), asset_key("tiles/a", "B02")
    ('tiles/a/B02.tif', 'tiles/a/B02.tif')
    """
    # a path without (BAND) is a folder; the service names its files <band>.tif[f]
    return path.replace("(BAND)", source) if "(BAND)" in path else f"{path}/{source}.tif"


def band_assets(collection: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Per band of the collection: the file ``source`` and the asset's fields but ``href``.

    The fields are in the order pystac writes them (``type``, ``title``, extension fields,
    ``roles``), so the per-item and the columnar exports agree.

    Examples
    --------
    >>> spec = {"noData": 0, "additionalData": {"bands": {"B1": {"bitDepth": 16}}}}
    >>> source, fields = band_assets(spec)["B1"]
    >>> source, fields["raster:bands"]
    ('B1', [{'data_type': 'uint16', 'nodata': 0}])
    """
    bands = (collection.get("additionalData") or {}).get("bands") or {}
    out = {}
    for name, spec in bands.items():
        raster: dict[str, Any] = {
            "data_type": f"{str(spec.get('sampleFormat', 'UINT')).lower()}{spec.get('bitDepth', 8)}"
        }
        no_data = spec.get("noData", collection.get("noData"))
        if no_data is not None:
            raster["nodata"] = no_data
        fields = {
            "type": COG,
            "title": name,
            "eo:bands": [{"name": name}],
            "raster:bands": [raster],
            "roles": ["data"],
        }
        out[name] = (str(spec.get("source") or name), fields)
    return out


def _assets(path: str, collection: Mapping[str, Any]) -> dict[str, Any]:
    import pystac

    out = {}
    for name, (source, fields) in band_assets(collection).items():
        extra = {k: v for k, v in fields.items() if k not in ("type", "title", "roles")}
        out[name] = pystac.Asset(
            href=f"s3://{collection['s3Bucket']}/{asset_key(path, source)}",
            title=fields["title"],
            media_type=fields["type"],
            roles=fields["roles"],
            extra_fields=extra,
        )
    return out


def to_stac(
    frame: gpd.GeoDataFrame,
    collection: Mapping[str, Any] | str | None = None,
    *,
    client: Any = None,
    geoparquet: str | os.PathLike[str] | None = None,
) -> pystac.ItemCollection:
    """STAC Items of the tiles of a frame, one asset per band of the collection.

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame (`byocframe.read_tiles`, `tiles_from_records`).
    collection : dict or str, optional
        The BYOC collection record (``client.get_collection(id)``): its ``s3Bucket`` and
        ``additionalData.bands`` make the asset hrefs, its ``id`` the item collection.
        A collection id, or nothing for the collection the frame was loaded from
        (``read_tiles`` records it), makes one request for the record: with ``client``,
        else with a client for the frame's service from ``SH_CLIENT_ID`` /
        ``SH_CLIENT_SECRET`` or sentinelhub-py's ``config.toml`` (`Client.from_config`).
    client : byocframe.Client or sentinelhub SHConfig, optional
        Where to read the record when ``collection`` is not one.
    geoparquet : path, optional
        Also write the items there as stac-geoparquet (GeoParquet 1.1 + STAC columns).

    Returns
    -------
    pystac.ItemCollection
        ``datetime`` is the sensing time; a tile without one has a null ``datetime``
        and its creation time as ``start_datetime`` = ``end_datetime`` (STAC needs a time).
        Each item links (``rel="collection"``) to its collection in the Catalog of the
        service the frame came from (Sentinel Hub's main deployment when unknown).

    Raises
    ------
    ValueError
        For a frame that is not a tile frame, a record without ``id`` or ``s3Bucket``,
        no record and no collection the frame knows, or no credentials to read the
        record.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "bucket", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> items = to_stac(gdf, record)
    >>> items.items[0].assets["B02"].href
    's3://bucket/tiles/2024/06/01/01N/269/B02.tif'
    >>> items.items[0].properties["proj:code"], items.items[0].collection_id
    ('EPSG:32601', 'byoc-c1')

    A frame loaded from a service knows its collection:

    >>> with byocframe.local_service(demo=True, demo_tiles=20) as service:
    ...     client = service.client()
    ...     loaded = byocframe.read_tiles(client, service.demo_collection)
    ...     items = loaded.byoc.to_stac(client=client)
    >>> len(items), items.items[0].get_single_link("collection").href == (
    ...     f"{service.base_url}/api/v1/catalog/1.0.0/collections/byoc-{service.demo_collection}")
    (20, True)
    """
    try:
        import pystac
    except ImportError as err:
        raise ImportError(
            "to_stac needs pystac: install the stac extra, pip install 'byocframe[stac]'"
        ) from err

    if "path" not in frame.columns or "native_crs" not in frame.columns:
        raise ValueError("to_stac needs a tile frame (read_tiles or tiles_from_records)")
    record, service = collection_record(frame, collection, client)
    for field in ("id", "s3Bucket"):
        if not record.get(field):
            raise ValueError(f"collection has no {field!r}: pass client.get_collection(id)")
    lonlat = lonlat_covers(frame)
    native = geometries_to_geojson(native_covers(frame), list(frame["native_crs"]))
    records = to_records(frame)
    href = f"{service.rstrip('/')}{CATALOG_PATH}/collections/byoc-{record['id']}"
    items = []
    for row, geom, proj in zip(records, lonlat, native, strict=True):
        item = _item(row, geom, proj, record, pystac)
        # STAC: an item naming its collection links to it (stac-validator and pystac check it)
        item.add_link(pystac.Link("collection", href, media_type="application/json"))
        items.append(item)
    found = pystac.ItemCollection(items)
    if geoparquet is not None:
        write_geoparquet(found, geoparquet)
    return found


def collection_record(
    frame: pd.DataFrame, collection: Mapping[str, Any] | str | None, client: Any
) -> tuple[Mapping[str, Any], str]:
    """The collection record to export with, and the base URL of its service.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(1, seed=1))
    >>> collection_record(gdf, {"id": "c1", "s3Bucket": "b"}, None)[1]
    'https://services.sentinel-hub.com'
    """
    settings = frame.attrs.get(ATTRS_KEY, {})
    service = str(settings.get("service") or "")
    if isinstance(collection, Mapping):
        base = service or (resolve_client(client).base_url if client is not None else "")
        return collection, base or get_deployment("sentinel-hub").base_url
    if collection is not None and not isinstance(collection, str):
        raise TypeError(
            "collection must be a record (dict) or a collection id, got "
            f"{type(collection).__name__}"
        )
    cid = collection or settings.get("collection")
    if not cid and "loaded" in frame.columns and len(frame):
        named = [c for c in loaded_state(frame).collection if c]
        cid = named[0] if named else None
    if not cid:
        raise ValueError(
            "the frame does not say which collection it belongs to: pass the record, "
            "to_stac(frame, client.get_collection(id))"
        )
    if client is not None:
        reader = resolve_client(client)
    else:
        from byocframe.client.api import Client

        try:
            reader = Client.from_config(base_url=service) if service else Client.from_config()
        except ValueError as err:  # no credentials around: say what to_stac takes instead
            raise ValueError(
                f"to_stac needs the collection record of {cid} and found no credentials "
                "to read it (SH_CLIENT_ID / SH_CLIENT_SECRET): pass client= (a "
                "byocframe.Client or SHConfig), or the record: "
                "to_stac(frame, client.get_collection(id))"
            ) from err
    return reader.get_collection(str(cid)), reader.base_url


def _item(
    record: dict[str, Any],
    geom: Any,
    proj: dict[str, Any] | None,
    collection: Mapping[str, Any],
    pystac: Any,
) -> pystac.Item:
    present = geom is not None and not shapely.is_empty(geom)
    properties: dict[str, Any] = {}
    sensing = record.get("sensingTime")
    if not sensing:
        created = record.get("created") or "1970-01-01T00:00:00Z"
        properties.update(start_datetime=created, end_datetime=created)
    if proj is not None:
        epsg = int(proj["crs"]["properties"]["name"].rsplit(":", 1)[-1])
        coords = proj["coordinates"]
        polygons = [coords] if proj["type"] == "Polygon" else coords
        xy = np.asarray([p for poly in polygons for p in poly[0]], dtype=float)
        properties.update(
            {
                "proj:code": f"EPSG:{epsg}",
                "proj:geometry": {"type": "MultiPolygon", "coordinates": polygons},
                "proj:bbox": [*xy.min(axis=0).tolist(), *xy.max(axis=0).tolist()],
            }
        )
    for key, name in _CARRIED.items():
        if record.get(key) is not None:
            properties[name] = record[key]
    properties["byoc:cover"] = record.get("coverGeometry") is not None
    if record.get("additionalData"):
        # compact, as the frame keeps it, so the columnar export copies the text as is
        properties["byoc:additional_data"] = dumps(record["additionalData"])
    boxes = shapely.bounds(shapely.get_parts(geom)).tolist() if present else []
    return pystac.Item(
        id=record["id"],
        geometry=json.loads(shapely.to_geojson(geom)) if present else None,
        bbox=antimeridian_bbox(boxes) if boxes else None,
        datetime=pd.Timestamp(sensing).to_pydatetime() if sensing else None,
        properties=properties,
        stac_extensions=[PROJECTION, RASTER, EO],
        assets=_assets(str(record["path"]), collection),
        collection=f"byoc-{collection['id']}",
    )


def write_geoparquet(items: Iterable[Any], path: str | os.PathLike[str]) -> None:
    """Write STAC Items (pystac or dicts) as a stac-geoparquet file.

    Parameters
    ----------
    items : iterable of pystac.Item or dict
        Items as `to_stac` makes them.
    path : path
        The file to write (GeoParquet 1.1 with stac-geoparquet's columns).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import byocframe
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_geoparquet(to_stac(gdf, record), Path(folder) / "items.parquet")
    ...     back = byocframe.read_file(Path(folder) / "items.parquet")  # tiles again
    >>> back.index.equals(gdf.index)
    True
    """
    from stac_geoparquet.arrow import parse_stac_items_to_arrow
    from stac_geoparquet.arrow import to_parquet as write

    dicts = [i.to_dict(transform_hrefs=False) if hasattr(i, "to_dict") else i for i in items]
    write(parse_stac_items_to_arrow(dicts), os.fspath(path))


def tiles_from_stac(
    items: Iterable[Any], *, crs: Any = WGS84, densify: float | None = DEFAULT_DENSIFY
) -> gpd.GeoDataFrame:
    """Build a tile frame from STAC Items written by `to_stac` (or read from stac-geoparquet).

    The cover comes from ``proj:geometry`` in the tile's CRS, so the frame has the same
    geometries as the one exported; ``byoc:*`` properties give path, status and times.

    Parameters
    ----------
    items : iterable of pystac.Item or dict, or a FeatureCollection dict
        An ``ItemCollection``, a list of dicts, ``stac_table_to_items(...)``, or an
        ItemCollection as a GeoJSON dict (``ItemCollection.to_dict()``, pystac-client's
        ``item_collection_as_dict()``, a saved ``items.json`` read with ``json.load``).
    crs, densify
        As in `tiles_from_records`.

    Warns
    -----
    ByocframeWarning
        When no item carries ``byoc:*`` properties (items `to_stac` did not write, such
        as the Catalog's own): the frame has their ids, times and covers but no paths or
        statuses; ``read_tiles(client, collection, bbox=..., datetime=...)`` searches the
        Catalog and gives the whole, editable frame.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> back = tiles_from_stac(to_stac(gdf, record))
    >>> back.index.equals(gdf.index), bool(back.geometry.geom_equals_exact(gdf.geometry, 0).all())
    (True, True)
    """
    records: list[dict[str, Any]] = []
    foreign = 0  # items without a byoc:* property: not written by to_stac
    if isinstance(items, str | bytes | os.PathLike):  # iterating a name gives its letters
        raise ValidationError(
            f"tiles_from_stac takes items, not a file name ({str(items)[:80]!r}): "
            "read a saved ItemCollection or stac-geoparquet file with byocframe.read_file(path)"
        )
    if isinstance(items, Mapping):  # a FeatureCollection, as GeoJSON: its features
        if items.get("type") != "FeatureCollection" or not isinstance(items.get("features"), list):
            raise ValidationError(
                "a dict of items must be a GeoJSON FeatureCollection with a 'features' "
                "list (ItemCollection.to_dict()); or give the items themselves"
            )
        items = items["features"]
    for item in items:
        if not hasattr(item, "to_dict") and not isinstance(item, Mapping):
            raise ValidationError(
                f"STAC item {len(records) + 1} is a {type(item).__name__}, not a pystac.Item "
                "or a dict; give items as to_stac writes them"
            )
        data = item.to_dict(transform_hrefs=False) if hasattr(item, "to_dict") else dict(item)
        props = data.get("properties") or {}
        if not isinstance(data.get("id"), str) or not isinstance(props, Mapping):
            raise ValidationError(
                f"STAC item {len(records) + 1} has no text id or its properties are not an "
                f"object ({str(data)[:60]}); give items as to_stac writes them"
            )
        record: dict[str, Any] = {"id": data["id"], "sensingTime": props.get("datetime")}
        for key, name in _CARRIED.items():
            if props.get(name) is not None:
                record[key] = props[name]
        if props.get("proj:geometry") and props.get("byoc:cover", True):
            try:
                native = crs_urn(_item_crs(props))
            except GeometryProblem as err:  # a ValueError: one line naming the item
                raise ValidationError(f"item {data['id'][:80]!r}: {err}") from err
            record["coverGeometry"] = {
                **props["proj:geometry"],
                "crs": {"type": "name", "properties": {"name": native}},
            }
        if props.get("byoc:additional_data"):
            record["additionalData"] = _additional_data(props["byoc:additional_data"], data["id"])
        records.append(record)
        foreign += not any(key.startswith("byoc:") for key in props)
    if records and foreign == len(records):  # before the loader's own row-by-row warning
        warnings.warn(
            f"{foreign:,} STAC items carry no byoc:* properties (to_stac did not write them; "
            "the Catalog's own items, say): the frame has their ids, times and covers but "
            "no paths or statuses; read_tiles(client, collection, bbox=..., datetime=...) "
            "searches the Catalog for a whole, editable frame",
            ByocframeWarning,
            stacklevel=user_stacklevel(),
        )
    return tiles_from_records(records, crs=crs, densify=densify)


def _additional_data(text: Any, item: Any) -> dict[str, Any]:
    """An item's ``byoc:additional_data`` (JSON text of an object), or a `ValidationError`.

    Items come from STAC files and services byocframe does not control: nesting too deep
    for Python's reader, 5,000-digit integers or broken text are one line naming the item.
    """
    what = f"item {str(item)[:80]!r}: byoc:additional_data"
    fix = "fix or drop the property (to_stac writes it as JSON text of an object)"
    try:
        value = json.loads(text) if isinstance(text, str | bytes) else text
    except RecursionError as err:
        raise ValidationError(f"{what} is nested too deep to read; {fix}") from err
    except ValueError as err:  # JSONDecodeError, and int() of thousands of digits
        raise ValidationError(f"{what} is not JSON ({str(err)[:80]}); {fix}") from err
    if not isinstance(value, dict):
        raise ValidationError(f"{what} is a {type(value).__name__}, not an object; {fix}")
    return value


def _item_crs(props: Mapping[str, Any]) -> str:
    """The tile CRS of an item: ``proj:epsg`` (projection 1.x) or ``proj:code`` (2.0)."""
    epsg = props.get("proj:epsg")
    return parse_crs(f"EPSG:{epsg}" if epsg is not None else props.get("proj:code"))


def is_item_collection(document: Mapping[str, Any]) -> bool:
    """Whether a GeoJSON FeatureCollection holds STAC Items (they name a STAC version).

    Examples
    --------
    >>> is_item_collection({"type": "FeatureCollection", "features": [{"stac_version": "1.1.0"}]})
    True
    >>> is_item_collection({"type": "FeatureCollection", "features": [{"type": "Feature"}]})
    False
    """
    features = document.get("features")
    if not isinstance(features, list) or not features or not isinstance(features[0], Mapping):
        return False
    return "stac_version" in features[0]


def read_stac_geoparquet(path: str | os.PathLike[str]) -> gpd.GeoDataFrame | None:
    """The tiles of a stac-geoparquet file (`tiles_from_stac`); None for another file.

    What ``byocframe tiles --stac``, `write_stac_geoparquet` and ``to_stac(geoparquet=)``
    write; `byocframe.read_file` reads such a file through it.

    Raises
    ------
    ValidationError
        When the file holds STAC Items but stac-geoparquet is not installed.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> record = {"id": "c1", "s3Bucket": "b", "additionalData": {"bands": SYNTHETIC_BANDS}}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = gdf.byoc.to_stac_geoparquet(f"{folder}/items.parquet", record)
    ...     read_stac_geoparquet(f"{folder}/items.parquet").index.equals(gdf.index)
    True
    """
    import pyarrow.parquet as pq

    if b"stac-geoparquet" not in (pq.read_schema(path).metadata or {}):
        return None
    try:
        from stac_geoparquet.arrow import stac_table_to_items
    except ImportError as err:
        raise ValidationError(
            f"{path}: STAC items (stac-geoparquet); reading them as tiles needs the stac "
            "extra: pip install 'byocframe[stac]'"
        ) from err
    return tiles_from_stac(stac_table_to_items(pq.read_table(path)))
