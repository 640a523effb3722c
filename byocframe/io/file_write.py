"""Tile frames to files: `write_file` (read back with `byocframe.io.files.read_file`).

The format follows the extension (`byocframe.io.file_formats`); `byocframe.io.files`
describes what each keeps. Every file is written beside the target under a scratch
name and renamed over it once complete and on the disk (`byocframe.atomic.Scratch`):
a failure, a kill or a power loss halfway leaves the file that was there as it was, and
two writers of one file leave one of their files whole. A replaced file keeps its
permissions, a link the file it points to, a GeoPackage its other layers.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from byocframe.atomic import Scratch
from byocframe.exceptions import ValidationError
from byocframe.frame.native import as_geometries
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.settings import json_safe
from byocframe.io.file_formats import (
    CSV_MARK,
    FILE_FORMATS,
    WKB_COLUMNS,
    PathLike,
    file_kind,
    tile_layer,
)
from byocframe.io.geoparquet_write import write_parquet

__all__ = ["write_file"]


def _all_texts(index: pd.Index) -> bool:
    """Whether every label is a str (a str-dtype index without NaN is, unlooked at)."""
    if isinstance(index.dtype, pd.StringDtype):
        return not index.hasnans
    return all(isinstance(i, str) for i in index)


#: geopandas' (GDAL's) driver names of the formats, in lower case.
_DRIVERS = {
    "parquet": "parquet",
    "geoparquet": "parquet",
    "gpkg": "GPKG",
    "geojson": "GeoJSON",
    "flatgeobuf": "FlatGeobuf",
    "csv": "csv",
}


def _check_driver(driver: str, kind: str, path: Path) -> None:
    """Refuse a ``driver=`` that is unknown or names another format than the extension."""
    wanted = _DRIVERS.get(str(driver).lower())
    if wanted is None:
        raise ValueError(
            f"driver={driver!r} is not a format byocframe writes; use Parquet, GPKG, "
            "GeoJSON, FlatGeobuf or CSV"
        )
    if wanted != kind:
        suffix = next(k for k, v in FILE_FORMATS.items() if v == wanted)
        raise ValueError(
            f"driver={driver!r} but {path.name} is named as {kind}: name it "
            f"{path.stem}{suffix} (read_file knows the format from the extension)"
        )


def _settings(frame: pd.DataFrame) -> dict[str, Any]:
    return json_safe({k: v for k, v in frame.attrs.get(ATTRS_KEY, {}).items() if _scalar(v)})


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def write_file(gdf: gpd.GeoDataFrame, path: PathLike, driver: str | None = None) -> None:
    """Write a tile frame to a file; the format follows the extension.

    Parameters
    ----------
    gdf : GeoDataFrame
        A tile frame (from `byocframe.read_tiles`, possibly edited).
    path : str or os.PathLike
        ``.parquet``, ``.gpkg``, ``.geojson`` / ``.json``, ``.fgb`` or ``.csv``; ``~``
        is the home folder.
    driver : str, optional
        As in geopandas' ``to_file``: ``"Parquet"``, ``"GPKG"``, ``"GeoJSON"``,
        ``"FlatGeobuf"`` or ``"CSV"`` (any case). It must agree with the extension,
        from which `read_file` knows the format.

    Raises
    ------
    ValidationError
        When the folder does not exist or the extension is unknown.
    ValueError
        When ``driver`` is unknown or names another format than the extension.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_file(gdf, f"{folder}/tiles.gpkg", driver="GPKG")
    ...     back = byocframe.read_file(f"{folder}/tiles.gpkg")
    >>> back.index.equals(gdf.index), back.dtypes.equals(gdf.dtypes)
    (True, True)
    """
    path = Path(path).expanduser()  # "~/tiles.gpkg", as geopandas' to_file takes it
    kind = file_kind(path)
    if driver is not None:
        _check_driver(driver, kind, path)
    if not path.parent.is_dir():
        raise ValidationError(f"{path.parent}: folder not found; create it first")
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    if not _all_texts(gdf.index) or gdf.index.name != "id":
        # rows added with pd.concat carry its 0, 1, ... (and concat drops the index
        # name): they have no tile id yet, and the index is always written as "id"
        gdf = gdf.set_axis(
            pd.Index(
                [i if isinstance(i, str) else None for i in gdf.index], name="id", dtype=object
            )
        )
    if path.is_symlink():  # the file it points to is replaced, the link stays
        path = Path(os.path.realpath(path))
    if kind == "parquet":
        write_parquet(gdf, path)  # written beside the path and renamed once complete
        _keep_mode(path, mode)
        return
    # written beside the path and renamed over it once complete: a failure or a kill
    # halfway leaves the file that was there as it was (a GeoPackage's other layers too)
    with Scratch(path) as scratch:
        if kind == "GPKG" and path.exists():
            shutil.copyfile(path, scratch.path)
        layer = (tile_layer(path) if kind == "GPKG" and path.exists() else None) or path.stem
        _write_flat(gdf, scratch.path, kind, layer=layer)
        scratch.commit(mode=mode)


def _keep_mode(path: Path, mode: int | None) -> None:
    """Give a file written anew the permission bits of the one it replaced."""
    if mode is not None:
        os.chmod(path, mode)


def _write_flat(gdf: gpd.GeoDataFrame, path: Path, kind: str, layer: str) -> None:
    """Write ``gdf`` to ``path`` as ``kind`` (not Parquet), its layer named ``layer``."""
    settings = _settings(gdf)
    flat = pd.DataFrame(gdf.drop(columns=gdf.active_geometry_name)).copy()
    flat.attrs = {}
    for column in WKB_COLUMNS:
        if column in flat:
            flat[column] = shapely.to_wkb(as_geometries(flat[column]), hex=True)
    for column in flat.columns:
        if isinstance(flat[column].dtype, pd.CategoricalDtype):
            flat[column] = flat[column].astype(object)
    flat = flat.reset_index()
    flat[flat.columns[0]] = flat[flat.columns[0]].astype(object)
    geometry = np.asarray(gdf.geometry.array, dtype=object)
    crs = gdf.crs.to_string() if gdf.crs is not None else None
    if kind == "csv":
        flat["geometry"] = shapely.to_wkt(geometry, rounding_precision=-1)
        header = json.dumps({"crs": crs, "index": gdf.index.name, "attrs": settings})
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write(CSV_MARK + header + "\n")
            # "\r\n" makes the csv writer quote a text holding a lone "\r" too
            flat.to_csv(out, index=False, lineterminator="\r\n")
        return
    if kind == "GeoJSON":
        for column in flat.columns:
            if isinstance(flat[column].dtype, pd.DatetimeTZDtype):
                text = flat[column].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                flat[column] = text.astype(object).where(flat[column].notna(), None)
        frame = gpd.GeoDataFrame(flat, geometry=geometry, crs=gdf.crs)
        text = frame.to_json(na="null", drop_id=True)
        # the metadata as the collection's last member, spliced into geopandas' text
        # rather than by a parse and a second dump of the whole document (2/3 of a write)
        member = json.dumps({"crs": crs, "index": gdf.index.name, "attrs": settings})
        if not text.endswith("}"):  # pragma: no cover - geopandas writes one JSON object
            raise ValidationError(f"{path}: geopandas wrote no GeoJSON object")
        path.write_text(f'{text[:-1]}, "byocframe": {member}}}', encoding="utf-8")
        return
    frame = gpd.GeoDataFrame(flat, geometry=geometry, crs=gdf.crs)
    extra: dict[str, Any] = {}
    if kind == "FlatGeobuf":
        extra["SPATIAL_INDEX"] = "NO"  # keep the rows in their order
    if kind == "GPKG":
        extra["layer_metadata"] = {
            "byocframe": json.dumps({"index": gdf.index.name, "attrs": settings})
        }
    if kind == "GPKG":
        extra["layer"] = layer
    frame.to_file(path, driver=kind, **extra)
