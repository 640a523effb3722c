"""Tile frames to and from files: GeoParquet, GeoPackage, GeoJSON and CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

__all__ = ["edited_frame", "write_tiles"]

_EXTRA_GEOMETRIES = ("tile_geometry", "native_cover", "native_tile")
_FORMATS = {
    ".parquet": "parquet",
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".csv": "csv",
}


def _kind(path: Path) -> str:
    kind = _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"{path}: unknown file type {path.suffix!r}; use .parquet, .gpkg, .geojson or .csv"
        )
    return kind


def write_tiles(gdf: gpd.GeoDataFrame, path: str | Path) -> None:
    """Write a tile frame; the format follows the extension.

    GeoParquet keeps every column, the CRS and the snapshot `push` needs. GeoPackage,
    GeoJSON and CSV hold one geometry: the other geometry columns become WKT text.
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "parquet":
        gdf.to_parquet(path)
        return
    flat = gdf.copy()
    flat.attrs = {}
    for column in _EXTRA_GEOMETRIES:
        if column in flat:
            flat[column] = shapely.to_wkt(flat[column].array, rounding_precision=-1)
    flat = flat.reset_index()
    if kind == "csv":
        table = pd.DataFrame(flat.drop(columns=flat.geometry.name))
        table["geometry"] = shapely.to_wkt(flat.geometry.array, rounding_precision=-1)
        table.to_csv(path, index=False)
        return
    for column in flat.columns:
        if isinstance(flat[column].dtype, pd.CategoricalDtype):
            flat[column] = flat[column].astype(object)
    flat.to_file(path, driver=kind)


def _read(path: Path) -> pd.DataFrame:
    kind = _kind(path)
    if kind == "parquet":
        return gpd.read_parquet(path)
    if kind == "csv":
        table = pd.read_csv(path, dtype={"id": object})
        geometry = shapely.from_wkt(table.pop("geometry").fillna("").replace("", None))
        frame = gpd.GeoDataFrame(table, geometry=geometry, crs="EPSG:4326")
    else:
        frame = gpd.read_file(path)
    if "id" in frame.columns:
        frame = frame.set_index("id")
    return frame


def edited_frame(client: Any, collection: str, path: str | Path) -> tuple[Any, Any]:
    """The edited frame in ``path`` and the frame to compare it with (None: its snapshot).

    A GeoParquet file carries the snapshot from when it was listed. For the other
    formats, the editable columns (``sensing_time``, ``geometry``, and ``path`` of rows
    without an id) are laid over the collection as it is now.
    """
    from byocframe.listing import read_tiles
    from byocframe.snapshot import snapshot_of

    path = Path(path)
    edited = _read(path)
    if snapshot_of(edited) is not None:
        return edited, None
    current = read_tiles(client, collection, progress=False)
    frame = current.copy()
    if edited.crs is not None and frame.crs is not None and not edited.crs.equals(frame.crs):
        edited = edited.to_crs(frame.crs)
    known = edited.index.notna() & edited.index.isin(frame.index)
    rows = edited[known]
    if "sensing_time" in rows:
        frame.loc[rows.index, "sensing_time"] = pd.to_datetime(rows["sensing_time"], utc=True)
    frame.loc[rows.index, frame.geometry.name] = rows.geometry.array
    missing = frame.index.difference(edited.index[known])
    frame = frame.drop(index=missing)  # pushed as deletions only with --delete-missing
    new = edited[~known]
    if len(new):
        extra = gpd.GeoDataFrame(
            {
                "path": new["path"].to_numpy(),
                "sensing_time": pd.to_datetime(new.get("sensing_time"), utc=True),
            },
            geometry=new.geometry.array,
            crs=frame.crs,
        )
        frame = pd.concat([frame, extra])
    return frame, current
