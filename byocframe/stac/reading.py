"""STAC Items back into tile frames: what `to_stac` wrote, or a stac-geoparquet file.

`tiles_from_stac` takes the cover from ``proj:geometry`` in the tile's CRS and the BYOC
fields from the ``byoc:*`` properties, so the frame is the one that was exported;
`read_stac_geoparquet` reads a stac-geoparquet file through it, and
`is_item_collection` tells a saved ItemCollection from other GeoJSON.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from byocframe.exceptions import ByocframeWarning, ValidationError, user_stacklevel
from byocframe.frame.convert import tiles_from_records
from byocframe.geo.crs import WGS84, GeometryProblem, crs_urn, parse_crs
from byocframe.geo.geometry import DEFAULT_DENSIFY
from byocframe.stac.fields import CARRIED

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["is_item_collection", "read_stac_geoparquet", "tiles_from_stac"]


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
    >>> from byocframe.stac.items import to_stac
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
        for key, name in CARRIED.items():
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
