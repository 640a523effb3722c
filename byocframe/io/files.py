"""Tile frames to and from files: `read_file`, and `write_file` (`byocframe.io.file_write`).

GeoParquet, GeoPackage, GeoJSON, FlatGeobuf and CSV all round-trip through this pair:
the index, the dtypes, every geometry column, the ``loaded`` column (what each row held
when it was loaded, which `byocframe.edits.route.push` needs) and, where the format can hold
them, the frame's byocframe attrs. A frame read back behaves like the frame that was
written: the same edits are found, the same conflicts reported.

* GeoParquet keeps everything, compactly (`byocframe.io.geoparquet`): one WKB geometry
  column any GeoParquet reader understands, the native geometries as binary WKB, and
  ``tile_geometry`` recomputed on reading unless a row's differs.
* GeoPackage, GeoJSON and FlatGeobuf hold one geometry column: ``tile_geometry``,
  ``native_cover`` and ``native_tile`` are stored as hex WKB text (exact). The attrs go
  into the layer metadata (GeoPackage) or a ``byocframe`` member (GeoJSON, written with
  full float precision); FlatGeobuf keeps no attrs.
* CSV stores ``geometry`` as WKT, and its CRS and the attrs on a first ``#byocframe``
  comment line.

Without attrs (FlatGeobuf, or a file another program rewrote), edits and conflicts are
still found from the ``loaded`` column; only ``delete_missing`` needs the attrs.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj.exceptions import CRSError

from byocframe.exceptions import ValidationError
from byocframe.frame.deletions import LOADED_KEYS
from byocframe.frame.native import (
    NATIVE_COLUMNS,
    as_geometries,
    native_column,
)
from byocframe.frame.records import ATTRS_KEY, dumps, zoneless_times
from byocframe.frame.settings import saved_settings
from byocframe.frame.tokens import LOADED
from byocframe.io.file_formats import CSV_MARK, WKB_COLUMNS, PathLike, file_kind, tile_layer
from byocframe.io.file_write import write_file  # its own module since December 2026
from byocframe.io.geoparquet_read import (
    is_byocframe_parquet,
    read_parquet,
    read_row_groups,
    restore_columns,
)
from byocframe.io.overlay import overlay_edits  # its own module since December 2026
from byocframe.moved import forward_settings

__all__ = [
    "MAX_FILE_ROWS",
    "MAX_PARQUET_EXPANSION",
    "MIN_PARQUET_BYTES_PER_ROW",
    "check_parquet_rows",
    "overlay_edits",
    "read_file",
    "write_file",
]

_T = TypeVar("_T")

#: Most rows `read_file` reads from one GeoParquet or GeoPackage file, as the file's own
#: count says before any row is read (a tile row costs 2-7 KB of memory once read).
#: Twice the largest collection measured (1 million tiles); raise it
#: (``byocframe.io.files.MAX_FILE_ROWS = ...``) for a larger one.
MAX_FILE_ROWS = 2_000_000

#: Fewest bytes of a GeoParquet file one of its rows may take, read from the footer before
#: any row is: dictionary and run-length encoding let a 47 KB file hold 200,000 copies of
#: one tile (1.4 GB once read). A tile written by byocframe takes far more (its random id
#: alone about 16 bytes); set it to 0 (``byocframe.io.files.MIN_PARQUET_BYTES_PER_ROW =
#: 0``) to read such a file anyway.
MIN_PARQUET_BYTES_PER_ROW = 4

#: Most times its size on disk a GeoParquet file's columns may take once read, bounded
#: from the footer and the dictionaries before any value is expanded
#: (`byocframe.io.parquet_size`): a dictionary lets few rows each repeat one large value
#: (64 rows of one 1 MiB value: under 1 MB of file, 64 MiB read). byocframe's files take
#: 2-3 times their size, geopandas' 1.3-1.5; raise it
#: (``byocframe.io.files.MAX_PARQUET_EXPANSION = ...``), or set it to None, to read a
#: file that expands more.
MAX_PARQUET_EXPANSION: float | None = 50

#: Columns a CSV keeps as texts: read as they were written, not as numbers or flags.
_CSV_TEXTS = (
    "path",
    "status",
    "native_crs",
    "geometry_source",
    "failed_ingestion_cause",
    "warnings",
    "additional_data",
    "other_data",
    "native_cover",
    "native_tile",
    "tile_geometry",
)


def read_file(
    path: PathLike,
    *,
    bbox: Any = None,
    mask: Any = None,
    columns: Sequence[str] | None = None,
    rows: int | slice | None = None,
    filters: Any = None,
    engine: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a tile frame written by `write_file` (or any file with tile columns).

    The result has the dtypes, geometry columns, index and ``loaded`` column of the frame
    that was written, so `byocframe.changes` and `byocframe.push` work on it directly.
    The reading options are those of ``geopandas.read_file`` (``filters``: of
    ``geopandas.read_parquet``). Of a GeoParquet file byocframe wrote, ``rows`` reads
    only the row groups that hold the rows and ``columns`` only those columns; of a
    GeoPackage or FlatGeobuf, GDAL applies ``bbox``, ``mask``, ``rows`` and ``columns``
    while it reads. Otherwise the file is read whole and checked, then the rows and
    columns asked for are kept (`byocframe.io.subsets`).

    Parameters
    ----------
    path : str or os.PathLike
        ``.parquet``, ``.gpkg``, ``.geojson`` / ``.json``, ``.fgb`` or ``.csv``; ``~``
        is the home folder.
    bbox : (minx, miny, maxx, maxy), shapely geometry, GeoSeries or GeoDataFrame, optional
        Only rows whose ``geometry`` intersects this box, in the file's CRS (a tuple, or
        a geometry's bounds) or reprojected to it (a GeoSeries or GeoDataFrame's total
        bounds). In lon/lat, ``minx > maxx`` crosses the antimeridian. Not with ``mask``.
    mask : shapely geometry, GeoJSON dict, GeoSeries or GeoDataFrame, optional
        Only rows whose ``geometry`` intersects it (a GeoSeries or GeoDataFrame is
        reprojected to the file's CRS and unioned). Not with ``bbox``.
    columns : list of str, optional
        Only these columns besides the index (``id``) and ``geometry``; ``[]`` keeps
        those two. Edits of the frame are found only when it keeps ``loaded``,
        ``path``, ``status``, ``sensing_time`` and the native columns; of the other
        columns, those left out are not compared.
    rows : int or slice, optional
        The first ``rows`` rows, or a slice of the rows (after ``bbox``, ``mask`` and
        ``filters``).
    filters : list of tuples or pyarrow.compute.Expression, optional
        GeoParquet only: pyarrow's row filter, e.g. ``[("status", "==", "FAILED")]``.
    engine : {"pyogrio"}, optional
        As in ``geopandas.read_file``: GDAL formats are read with pyogrio (geopandas'
        default); ``"fiona"`` is refused.

    Returns
    -------
    GeoDataFrame
        With fewer rows than the file holds, a part of its load: edits are pushed, but
        no deletion is planned from it (``attrs["byocframe"]["whole"]`` is False).

    Raises
    ------
    ValidationError
        When the file does not exist, has an unknown extension, is not a tile table, or
        ``columns`` names a column it does not have.
    ValueError, TypeError
        When the options do not go together or are of the wrong type.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_file(gdf, f"{folder}/tiles.geojson")
    ...     back = read_file(f"{folder}/tiles.geojson")
    ...     first = read_file(f"{folder}/tiles.geojson", rows=2, columns=["status"])
    >>> byocframe.changes(back).empty, len(first), list(first.columns)
    (True, 2, ['status', 'geometry'])
    """
    from byocframe.io.subsets import (
        check_options,
        filtered_rows,
        gdal_options,
        keep,
        keep_columns,
        mark_part,
        read_columns,
        row_groups_of,
    )

    if engine not in (None, "pyogrio"):
        raise ValueError(
            f"engine={engine!r}: byocframe reads GDAL formats with pyogrio only; drop engine="
        )
    path = _local_path(path)
    kind = file_kind(path)
    check_options(bbox=bbox, mask=mask, rows=rows, columns=columns, filters=filters, kind=kind)
    if not path.is_file():
        raise ValidationError(f"{path}: file not found; check the path")
    frame, groups, by_gdal, layer = None, None, {}, None
    if kind == "parquet" and columns is not None:  # a few columns: only those read
        check_parquet_rows(path)
        frame = _parquet(path, lambda: read_columns(path, columns))
    elif (
        kind == "parquet" and rows is not None and bbox is None and mask is None and filters is None
    ):
        # the first rows (or a range) of a large file: only the row groups that hold them
        check_parquet_rows(path)  # a file without a readable footer: refused here
        groups, rows = row_groups_of(path, rows)
    elif kind in ("GPKG", "FlatGeobuf") and any(
        given is not None
        for given in (bbox, mask, rows, columns)  # a GeoSeries has no truth
    ):
        # a GeoPackage's options and count are its tiles' layer's, not its first (finding 213)
        layer = _gdal_options(path, kind, lambda: tile_layer(path)) if kind == "GPKG" else None
        by_gdal = _gdal_options(
            path, kind, lambda: gdal_options(path, bbox, mask, rows, columns, layer=layer)
        )
    if frame is None:
        frame = _read_whole(path, kind, groups, by_gdal)
    if by_gdal:
        # GDAL kept some rows: a part unless it kept every feature (keep() sees only these)
        bbox, mask = (None, None) if {"bbox", "mask"} & set(by_gdal) else (bbox, mask)
        # rows are counted by GDAL only without a box or mask (gdal_options)
        rows = None if "rows" in by_gdal else rows
        if len(frame) < _features(path, layer):
            frame = mark_part(frame)
    positions = None if filters is None else filtered_rows(path, filters)
    frame = keep(frame, bbox=bbox, mask=mask, rows=rows, positions=positions)
    return keep_columns(frame, columns)


def _gdal_options(path: Path, kind: str, find: Callable[[], _T]) -> _T:
    """``find()`` (it opens the file), a file GDAL cannot open a one-line `ValidationError`."""
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        return find()
    except (DataSourceError, DataLayerError) as err:
        raise _unreadable(path, {"GPKG": "GeoPackage"}.get(kind, kind), err) from err


def _features(path: Path, layer: str | None = None) -> int:
    """The features a GDAL file's ``layer`` says it holds (a huge number when it cannot say)."""
    import pyogrio

    count = pyogrio.read_info(path, layer=layer, force_feature_count=True).get("features")
    return int(count) if isinstance(count, int | np.integer) and count >= 0 else 2**62


def _parquet(path: Path, read: Callable[[], gpd.GeoDataFrame | None]) -> gpd.GeoDataFrame | None:
    """``read()`` of a GeoParquet file, its readers' failures a one-line `ValidationError`."""
    try:
        return read()
    except ValidationError:
        raise
    except (OSError, ValueError, KeyError, AttributeError, TypeError, RecursionError) as err:
        raise _unreadable(path, "GeoParquet", err) from err
    except (CRSError, shapely.errors.ShapelyError) as err:
        raise _unreadable(path, "GeoParquet", err) from err


def _local_path(path: Any) -> Path:
    """A path of this machine; URLs and open files refused with what to do instead."""
    if isinstance(path, str) and "://" in path:
        raise ValidationError(
            f"{path[:80]}: byocframe reads files of this machine only; download it first"
        )
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path must be a str or os.PathLike (a file name), got {type(path).__name__}; "
            "write an open file's bytes to a file first"
        )
    return Path(path).expanduser()  # "~/tiles.gpkg", as geopandas' read_file takes it


def _read_whole(
    path: Path, kind: str, groups: list[int] | None = None, by_gdal: dict[str, Any] | None = None
) -> gpd.GeoDataFrame:
    """Every row and column of a tile file (`read_file` without options).

    ``groups``: only these row groups of a byocframe GeoParquet file; ``by_gdal``: the
    options GDAL applies to a GeoPackage or FlatGeobuf (`byocframe.io.subsets.gdal_options`).
    """
    if kind == "parquet":
        check_parquet_rows(path)
        try:
            if is_byocframe_parquet(path):
                return read_parquet(path) if groups is None else read_row_groups(path, groups)
            # a GeoParquet file of another writer (or of byocframe before 0.3)
            return _other_geoparquet(path)
        except ValidationError:
            raise
        # pyarrow's ArrowInvalid is a ValueError; metadata of the wrong shape, an unknown
        # CRS or geometry bytes that are not what the metadata says (a crafted file)
        # surface as the others
        except (OSError, ValueError, KeyError, AttributeError, TypeError, RecursionError) as err:
            raise _unreadable(path, "GeoParquet", err) from err
        except (CRSError, shapely.errors.ShapelyError) as err:
            raise _unreadable(path, "GeoParquet", err) from err
    meta: dict[str, Any] = {}
    if kind == "csv":
        frame, meta = _read_csv(path)
    elif kind == "GeoJSON":
        document = _json(path.read_text(encoding="utf-8"), f"{path}: not valid GeoJSON")
        if not isinstance(document, dict):
            raise ValidationError(f"{path}: not a GeoJSON FeatureCollection (an object)")
        from byocframe.io.stac import is_item_collection, tiles_from_stac

        if is_item_collection(document):  # an ItemCollection saved as JSON: its tiles
            return tiles_from_stac(document)
        meta = _checked_meta(document.get("byocframe") or {}, path)
        frame = gpd.GeoDataFrame.from_features(document, crs=meta.get("crs") or "EPSG:4326")
    else:
        import pyogrio
        from pyogrio.errors import DataLayerError, DataSourceError

        try:
            layer: dict[str, Any] = {}
            if kind == "GPKG":  # its own count, before any row is read
                # a GeoPackage holding other layers beside the tiles' (an AOI, say) is
                # read at the tiles' (`tile_layer`)
                found = tile_layer(path)
                if found is not None:
                    layer = {"layer": found}
                info = pyogrio.read_info(path, **layer)
                _check_rows(path, info.get("features"), "GeoPackage")
            frame = gpd.read_file(path, **(by_gdal or {}), **layer)
            frame = frame.sort_index() if (by_gdal or {}).get("fid_as_index") else frame
            if kind == "GPKG":
                info = pyogrio.read_info(path, **layer).get("layer_metadata") or {}
                text = info.get("byocframe", "{}")
                meta = _checked_meta(_json(text, f"{path}: the byocframe metadata is broken"), path)
        except (DataSourceError, DataLayerError) as err:
            raise _unreadable(path, {"GPKG": "GeoPackage"}.get(kind, kind), err) from err
    return _restore(frame, meta, path)


def _other_geoparquet(path: Path) -> gpd.GeoDataFrame:
    """A GeoParquet file byocframe did not write, as a frame; STAC Items become tiles.

    A stac-geoparquet file (what ``byocframe tiles --stac`` writes) is read with
    `byocframe.io.stac.read_stac_geoparquet`; others with ``geopandas.read_parquet``.
    """
    from byocframe.io.stac import read_stac_geoparquet

    tiles = read_stac_geoparquet(path)
    if tiles is not None:
        return tiles
    frame = gpd.read_parquet(path)
    if frame.index.name is None and "id" in frame.columns:
        frame = frame.set_index("id")
    elif isinstance(frame.index, pd.RangeIndex) and frame.index.name is None:
        # row numbers, not tile ids (a table of new tiles made with geopandas): every row
        # is a tile to create
        frame.index = pd.Index([None] * len(frame), dtype=object)
    return restore_columns(frame)


def _check_rows(path: Path, rows: Any, kind: str) -> None:
    """Refuse a file whose own count of rows passes `MAX_FILE_ROWS` (nothing read yet)."""
    limit = MAX_FILE_ROWS
    if isinstance(rows, int | np.integer) and rows > limit:
        raise ValidationError(
            f"{path}: the {kind} file holds {int(rows):,} rows, more than {limit:,} "
            "(byocframe.io.files.MAX_FILE_ROWS); raise it to read a collection that large"
        )


def check_parquet_rows(path: PathLike) -> int:
    """The rows a Parquet file's footer declares, refused past the file-size bounds.

    Only the footer is read: `MAX_FILE_ROWS` and `MIN_PARQUET_BYTES_PER_ROW` are checked
    before any row is; then `MAX_PARQUET_EXPANSION`, from the footer and, for columns
    stored through a dictionary, their dictionaries and indices (no value expanded).
    `read_file`, the partitions of `byocframe.scale` and their manifest all go through it.

    Raises
    ------
    ValidationError
        Naming the file and the setting to change; or when the footer is unreadable.

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     pq.write_table(pa.table({"id": ["a", "b"]}), f"{folder}/t.parquet")
    ...     check_parquet_rows(f"{folder}/t.parquet")
    2
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        metadata = pq.read_metadata(path)
        rows = int(metadata.num_rows)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise _unreadable(path, "GeoParquet", err) from err
    _check_rows(path, rows, "GeoParquet")
    size, least = path.stat().st_size, MIN_PARQUET_BYTES_PER_ROW
    if rows * least > size:
        raise ValidationError(
            f"{path}: the Parquet file says it holds {rows:,} rows in {size:,} bytes, "
            f"fewer than {least} bytes a row (byocframe.io.files.MIN_PARQUET_BYTES_PER_ROW): "
            "rows repeated by its encoding, a crafted file? Set the limit to 0 to read it"
        )
    _check_expansion(path, metadata, size)
    return rows


def _check_expansion(path: Path, metadata: Any, size: int) -> None:
    """Refuse a file whose columns take more than `MAX_PARQUET_EXPANSION` times its size."""
    import pyarrow as pa

    from byocframe.io.parquet_size import read_size

    if MAX_PARQUET_EXPANSION is None:
        return
    limit = int(MAX_PARQUET_EXPANSION * max(size, 1))
    try:
        found = read_size(path, metadata, limit)
    except (OSError, ValueError, TypeError, pa.ArrowException) as err:
        raise _unreadable(path, "GeoParquet", err) from err
    if found.total > limit:
        raise ValidationError(
            f"{path}: the Parquet file's columns may take {found.total:,} bytes once read "
            f"(most in {found.largest!r}), more than {MAX_PARQUET_EXPANSION:g} times its "
            f"{size:,} bytes (byocframe.io.files.MAX_PARQUET_EXPANSION): values repeated by "
            "its encoding, a crafted file? Raise the limit, or set it to None, to read it"
        )


def _json(text: str, what: str) -> Any:
    """``json.loads``, every failure (nesting, 5,000-digit integers) a `ValidationError`."""
    try:
        return json.loads(text)
    except RecursionError as err:
        raise ValidationError(f"{what} (nested too deep to read)") from err
    except ValueError as err:  # JSONDecodeError, and int() of thousands of digits
        raise ValidationError(f"{what} ({str(err)[:80]})") from err


def _checked_meta(meta: Any, path: Path) -> dict[str, Any]:
    """The metadata byocframe writes (``crs``, ``index``, ``attrs``), checked member by member."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    fix = "restore it from the written file, or write the file again with byocframe.write_file"
    if not isinstance(meta, dict):
        raise ValidationError(f"{path}: the byocframe metadata is not a JSON object; {fix}")
    crs, index, attrs = meta.get("crs"), meta.get("index"), meta.get("attrs")
    if not (crs is None or isinstance(crs, str)) or not (index is None or isinstance(index, str)):
        raise ValidationError(f"{path}: the metadata's crs and index must be texts; {fix}")
    if not (attrs is None or isinstance(attrs, dict)):
        raise ValidationError(f"{path}: the metadata's attrs must be an object; {fix}")
    if crs:
        try:
            CRS.from_user_input(crs)
        except CRSError as err:
            raise ValidationError(
                f"{path}: the metadata's crs {crs[:40]!r} is unknown; {fix}"
            ) from err
    return meta


def _unreadable(path: Path, kind: str, err: Exception) -> ValidationError:
    """One line for a file its reader gave up on: which file, what the reader said."""
    reason = str(err).split(";", 1)[0].replace(f"'{path}' ", "").strip().rstrip(".")
    reason = reason.splitlines()[0] if reason else type(err).__name__
    reason = reason.rsplit(" failed: ", 1)[-1]  # SQLite's complaint, not its query
    return ValidationError(
        f"{path}: not a readable {kind} file ({reason}); was it copied whole? Write it "
        f"again with 'byocframe tiles COLLECTION -o {path.name}'"
    )


def _read_csv(path: Path) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    with path.open(encoding="utf-8") as source:
        first = source.readline()
    meta: dict[str, Any] = {}
    if first.startswith(CSV_MARK):
        try:
            meta = json.loads(first[len(CSV_MARK) :])
        except json.JSONDecodeError as err:
            raise ValidationError(
                f"{path}: the first line ({CSV_MARK.strip()} ...) is not the JSON byocframe "
                f"wrote ({err.msg} at column {err.colno}); restore it from the written file, "
                "or delete that line to read the table without its metadata"
            ) from err
        except (RecursionError, ValueError) as err:  # deep nesting, 5,000-digit integers
            raise ValidationError(
                f"{path}: the first line ({CSV_MARK.strip()} ...) is not the JSON byocframe "
                "wrote (nested too deep or numbers too long); restore it from the written "
                "file, or delete that line to read the table without its metadata"
            ) from err
        meta = _checked_meta(meta, path)
    # texts stay texts ("NA", "true", "0123"); only an empty field is missing
    texts = {name: object for name in _CSV_TEXTS}
    table = pd.read_csv(
        path,
        skiprows=1 if meta else 0,
        dtype={"id": object, LOADED: object, **texts},
        keep_default_na=False,
        na_values=[""],
    )
    if "geometry" not in table.columns:
        raise ValidationError(f"{path}: no 'geometry' column (WKT); is it a tile table?")
    try:
        text = table.pop("geometry").astype(object)
        geometry = shapely.from_wkt(text.where(text.notna() & (text != ""), None).to_numpy())
    except shapely.errors.GEOSException as err:
        raise ValidationError(f"{path}: the 'geometry' column is not WKT: {err}") from err
    return gpd.GeoDataFrame(table, geometry=geometry, crs=meta.get("crs") or "EPSG:4326"), meta


def _restore(frame: gpd.GeoDataFrame, meta: dict[str, Any], path: Path) -> gpd.GeoDataFrame:
    """Index, dtypes, extra geometry columns and attrs as `tiles_from_records` makes them."""
    from byocframe.frame.convert import tiles_from_records

    if "path" not in frame.columns:
        raise ValidationError(f"{path}: no 'path' column; is it a tile table?")
    index = meta.get("index") or "id"
    if index in frame.columns:
        frame = frame.set_index(index)
    elif "id" in frame.columns:
        frame = frame.set_index("id")
    else:
        # no tile ids at all (a table of new tiles made with geopandas or QGIS): its row
        # numbers or GeoPackage fids are not tile ids, so every row is a tile to create
        frame.index = pd.Index([None] * len(frame), dtype=object)
    template = tiles_from_records([])
    for column in frame.columns:
        if column in WKB_COLUMNS:
            values = frame[column].astype(object).where(frame[column].notna(), None)
            try:
                geoms = np.array(
                    [None if v is None else shapely.from_wkb(v) for v in values], dtype=object
                )
                geoms = as_geometries(geoms)
            except (shapely.errors.GEOSException, TypeError, ValueError) as err:
                raise ValidationError(
                    f"{path}: column {column!r} is not hex WKB as write_file wrote it ({err}); "
                    "write the file again with byocframe.write_file"
                ) from err
            if column in NATIVE_COLUMNS:
                frame[column] = native_column(geoms, frame.index)
            else:
                frame[column] = gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs)
        elif column in template.columns and column != template.active_geometry_name:
            try:
                frame[column] = _cast(frame[column], template[column].dtype)
            except (ValueError, TypeError) as err:
                # pandas' first sentence (its hints run over several lines)
                reason = (str(err).splitlines() or [type(err).__name__])[0]
                reason = reason.split(" You might want")[0].rstrip(". :")
                raise ValidationError(
                    f"{path}: column {column!r} holds a value that is not "
                    f"{template[column].dtype} ({reason}); fix it (times: ISO 8601, e.g. "
                    "2024-06-01T10:00:00Z)"
                ) from err
    frame.index = pd.Index(frame.index, name=frame.index.name or "id").astype(template.index.dtype)
    order = [c for c in template.columns if c in frame.columns]
    order += [c for c in frame.columns if c not in order]
    frame = frame[order]
    saved = saved_settings(meta.get("attrs") or {})
    frame.attrs[ATTRS_KEY] = {**template.attrs[ATTRS_KEY], **saved}
    if not meta.get("attrs"):
        # the file kept no attrs: neither the loaded ids nor how the rows were drawn
        # are known (today's defaults would make rows drawn otherwise look edited)
        for key in (*LOADED_KEYS, "densify", "tolerance"):
            frame.attrs[ATTRS_KEY].pop(key, None)
    return frame


def _cast(column: pd.Series, dtype: Any) -> pd.Series:
    if pd.api.types.is_string_dtype(dtype) and column.dtype == object:
        # GDAL tools write a text holding JSON back as a nested object: the text again
        nested = column.map(lambda v: isinstance(v, dict | list))
        if nested.any():
            column = column.astype(object).where(~nested, column[nested].map(dumps))
    if isinstance(dtype, pd.DatetimeTZDtype) or str(dtype).startswith("datetime64"):
        if isinstance(dtype, pd.DatetimeTZDtype) and not pd.api.types.is_datetime64_any_dtype(
            column.dtype
        ):
            naive = zoneless_times(column)
            if naive.any():
                raise ValueError(
                    f"time without a time zone, {str(column[naive].iloc[0]).strip()!r}: "
                    "UTC or local? give each its zone"
                )
        return pd.to_datetime(column, utc=True, format="ISO8601").astype(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        return column.astype(object).where(column.notna(), None).astype(dtype)
    return column.astype(dtype)


#: Columns the service owns that a table without tokens may still hold: laid over the
#: listing too, so the push refuses an edit of one by name instead of dropping it
#: (``tile_geometry`` is left out: a table's copy of it is drawn, not edited).


# settings moved with the code: set here, they take effect there (byocframe.moved)
forward_settings(
    sys.modules[__name__],
    sys.modules["byocframe.io.file_formats"],
    sys.modules["byocframe.io.file_write"],
)
