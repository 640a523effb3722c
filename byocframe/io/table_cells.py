"""How many cells a tile file's table will hold, counted before the table is built.

A table read from CSV, GeoJSON, FlatGeobuf or GeoPackage has a cell for each row and
column, whether the file holds a value there or not: pandas fills a short CSV row, a
GeoJSON feature lacking another feature's property and a FlatGeobuf feature without
properties with missing values. So a small file can name many columns and many rows and
hold almost nothing: 158 KB of CSV (20,000 columns named, 5,000 rows of one value) made
100 million cells, 2.5 GB and 168 s. `byocframe.io.files.read_file` compares the count
given here with the file's size (`byocframe.io.files.MIN_FILE_BYTES_PER_CELL`) first.

The counts come from the file's header and its own row count (GeoPackage, FlatGeobuf),
from its lines (CSV), or from the parsed document (GeoJSON); a GeoPackage's row count is
checked against its table (`gpkg_rows`).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from byocframe.exceptions import ValidationError

__all__ = ["csv_cells", "geojson_cells", "gpkg_rows"]

#: Bytes of a CSV read at once while its lines are counted.
_CHUNK = 2**20


def csv_cells(path: Path, skip: int, most: float) -> int:
    r"""Cells of a CSV's table: its header's columns times its rows.

    ``skip``: lines before the header (byocframe's ``#byocframe`` line). The rows are
    counted as lines first (one pass over the bytes, nothing kept); only when that
    upper bound passes ``most`` cells (quoted texts may hold line breaks) are they
    counted as pandas reads them, one column only.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "t.csv"
    ...     _ = path.write_text('a,b,c\n1,"two\nlines",3\n4\n')
    ...     csv_cells(path, 0, 100), csv_cells(path, 0, 1)
    (9, 6)
    """
    import pandas as pd

    columns = _csv_columns(path, skip)
    lines, last = 0, b"\n"
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    rows = max(lines + (last != b"\n") - skip - 1, 0)  # the header is no row
    if rows * columns <= most:
        return rows * columns
    # line breaks inside quoted texts counted as rows: count the records themselves
    first = pd.read_csv(path, skiprows=skip, usecols=[0], dtype=object, keep_default_na=False)
    return len(first) * columns


def _csv_columns(path: Path, skip: int) -> int:
    """Fields of a CSV's header, read by the csv module.

    Not by pandas: its header alone took 5 s for 40,000 names (an empty frame of them).
    A header field longer than the csv module reads (131,072 characters) is left to
    pandas, which reads any length.
    """
    import pandas as pd

    with path.open(encoding="utf-8", newline="") as source:
        for _ in range(skip):
            source.readline()
        try:
            return len(next(csv.reader(source), []))
        except csv.Error:
            return len(pd.read_csv(path, skiprows=skip, nrows=0).columns)


def geojson_cells(document: Mapping[str, Any]) -> int:
    """Cells of a GeoJSON FeatureCollection's table: features times distinct properties.

    The geometry is a column too; features that are not objects count as rows.

    Examples
    --------
    >>> geojson_cells({"features": [{"properties": {"a": 1}}, {"properties": {"b": 2}}]})
    6
    """
    features = document.get("features")
    if not isinstance(features, list):
        return 0
    names: set[Any] = set()
    for feature in features:
        properties = feature.get("properties") if isinstance(feature, Mapping) else None
        if isinstance(properties, Mapping):
            names.update(properties)
    return len(features) * (len(names) + 1)


def gpkg_rows(path: Path, layer: str | None, stored: Any = None) -> int:
    """The rows a GeoPackage layer's table holds, counted by SQLite (not its stored count).

    GDAL answers a layer's feature count from the file's ``gpkg_ogr_contents`` table,
    and pyogrio reads that many features and no more; a writer that does not keep the
    count up to date leaves it wrong (pygeopkg before 2022, rows added with SQLite while
    GDAL's triggers were off), and the table read short is taken for whole. ``stored``:
    the count GDAL gives (``pyogrio.read_info``), refused when it says fewer rows.

    Raises
    ------
    ValidationError
        When ``stored`` says fewer rows than the table holds, with the repair.

    Examples
    --------
    >>> import tempfile, geopandas as gpd, shapely
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "t.gpkg"
    ...     points = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)] * 2, crs=4326)
    ...     points.to_file(path)
    ...     gpkg_rows(path, None)
    2
    """
    import pyogrio

    name = layer if layer is not None else str(pyogrio.list_layers(path)[0, 0])
    quoted = '"' + name.replace('"', '""') + '"'
    counted = pyogrio.read_dataframe(
        path, sql=f"SELECT COUNT(*) AS n FROM {quoted}", read_geometry=False
    )
    rows = int(counted["n"].iloc[0])
    if isinstance(stored, int | np.integer) and 0 <= stored < rows:
        raise ValidationError(
            f"{path}: the GeoPackage's own count (gpkg_ogr_contents) says {int(stored):,} rows "
            f"but its table holds {rows:,}, and GDAL reads no more than the count; copy it with "
            f"'ogr2ogr fixed.gpkg {path.name}' (GDAL counts again) and read the copy"
        )
    return rows
