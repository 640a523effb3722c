"""STAC export of tile frames: open the same COGs outside Sentinel Hub.

`to_stac` turns a tile frame into STAC Items (a pystac ``ItemCollection``): the lon/lat
cover as the geometry, the projection extension 2.0 (``proj:code``, ``proj:geometry``,
``proj:bbox``, as pystac 1.15 writes it) with the cover in the tile's own CRS, a
``collection`` link to the collection in the Catalog, and one asset per collection band
pointing at its file (``s3://bucket/path`` with ``(BAND)`` resolved by the band's
``source``). odc-stac, stackstac or GDAL (``/vsis3/``) read those assets directly. The
BYOC fields that STAC has no place for travel as ``byoc:*`` properties, so
`byocframe.stac.reading.tiles_from_stac` rebuilds the same frame. With ``geoparquet=``,
the items are also written as a stac-geoparquet file (the format's reference writer,
``stac-geoparquet``).

Needs the ``stac`` extra (``pip install byocframe[stac]``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from byocframe.frame.convert import to_records
from byocframe.frame.records import dumps
from byocframe.geo.geojson import geometries_to_geojson
from byocframe.geo.geometry import antimeridian_bbox
from byocframe.stac.catalog import CATALOG_PATH
from byocframe.stac.fields import (
    CARRIED,
    EO,
    PROJECTION,
    RASTER,
    asset_key,
    band_assets,
    collection_record,
    lonlat_covers,
    native_covers,
)

if TYPE_CHECKING:
    import geopandas as gpd
    import pystac

__all__ = ["to_stac", "write_geoparquet"]


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
    for key, name in CARRIED.items():
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
