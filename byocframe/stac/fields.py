"""What a tile's STAC Item holds, shared by both exports and the way back.

The extensions an item declares (`PROJECTION`, `RASTER`, `EO`), its assets' media type
(`COG`), the BYOC fields carried as ``byoc:*`` properties (`CARRIED`), the covers in
lon/lat and in the tile's own CRS, one asset per collection band (`band_assets`,
`asset_key`) and the collection record an export is made with (`collection_record`).
`byocframe.stac.items` writes pystac Items from them, `byocframe.stac.parquet` the same
items as Arrow columns, and `byocframe.stac.reading` reads the properties back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from byocframe.client.api import resolve_client
from byocframe.client.deployments import get_deployment
from byocframe.frame.native import native_geometries
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.tokens import loaded_state
from byocframe.geo.crs import WGS84
from byocframe.geo.geometry import reproject

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CARRIED",
    "COG",
    "EO",
    "PROJECTION",
    "RASTER",
    "asset_key",
    "band_assets",
    "collection_record",
    "cover_or_tile",
    "lonlat_covers",
    "native_covers",
]

#: The projection extension 2.0 (``proj:code``); 1.x wrote ``proj:epsg``, which readers still take.
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
#: BYOC record fields carried as ``byoc:*`` properties (STAC has no place for them).
CARRIED = {
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
