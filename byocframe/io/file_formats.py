"""The tile files byocframe reads and writes: their extensions, layers and marks.

What `byocframe.io.file_write` (the writer) and `byocframe.io.files` (the reader) agree
on: the format an extension names, the layer of a GeoPackage that holds the tiles, the
mark of a CSV's metadata line, and the geometry columns kept as hex WKB text.

Examples
--------
>>> file_kind(Path("tiles.GPKG")), FILE_FORMATS[".fgb"]
('GPKG', 'FlatGeobuf')
"""

from __future__ import annotations

from pathlib import Path

from byocframe.exceptions import ValidationError

__all__ = ["CSV_MARK", "FILE_FORMATS", "WKB_COLUMNS", "PathLike", "file_kind", "tile_layer"]

#: A file name as `byocframe.write_file` and `byocframe.read_file` take it.
PathLike = str | Path
#: The geometry columns besides ``geometry``, kept as hex WKB text in formats of one
#: geometry column (GeoPackage, GeoJSON, FlatGeobuf, CSV).
WKB_COLUMNS = ("tile_geometry", "native_cover", "native_tile")
#: The format each extension names (geopandas' driver names, or parquet and csv).
FILE_FORMATS = {
    ".parquet": "parquet",
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".csv": "csv",
}
#: How the first line of a CSV starts when it holds the CRS, index and attrs (JSON).
CSV_MARK = "#byocframe "


def file_kind(path: Path) -> str:
    """The format of a tile file, from its extension (any case).

    Raises
    ------
    ValidationError
        When byocframe does not know the extension.

    Examples
    --------
    >>> file_kind(Path("a.json"))
    'GeoJSON'
    """
    kind = FILE_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValidationError(
            f"{path}: unknown file type {path.suffix!r}; use .parquet, .gpkg, .geojson, "
            ".fgb or .csv"
        )
    return kind


def tile_layer(path: Path) -> str | None:
    """The layer of a GeoPackage that holds the tiles, or None when none says so.

    The one named after the file (as `write_file` names it), else the one whose metadata
    byocframe wrote (a file renamed since: written again there, not beside it, so the
    layer other programs open first stays the tiles'). None: reading takes the first
    layer, writing adds one named after the file (another program's layers are kept).
    """
    import pyogrio

    names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    if path.stem in names:
        return path.stem
    for name in names:
        if "byocframe" in (pyogrio.read_info(path, layer=name).get("layer_metadata") or {}):
            return name
    return None
