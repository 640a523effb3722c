"""What `byocframe.read_file` keeps of a file: geopandas' reading options.

``bbox=``, ``mask=``, ``rows=`` and ``columns=`` mean what they mean in
``geopandas.read_file``, and ``filters=`` what it means in ``geopandas.read_parquet``
(pyarrow's row filters). Of a GeoParquet file byocframe wrote, ``rows=`` reads only the
row groups that hold the rows (`row_groups_of`) and ``columns=`` only those columns
(`read_columns`); of a GeoPackage or FlatGeobuf, GDAL applies ``bbox``, ``mask``,
``rows`` and ``columns`` while it reads (`gdal_options`). Otherwise the file is read
whole and checked as usual, then the rows and columns asked for are kept (`keep`).

A frame that keeps fewer rows than the file holds is a *part*: like a part read with
`byocframe.io.geoparquet.read_row_groups`, it forgets the ids the file's load listed
and says it is not whole (``attrs["byocframe"]["whole"] = False``), so its edits are
found and pushed but no deletion is ever planned from it (a row left out is not a row
deleted). A frame that keeps fewer columns plans only the edits of the columns it
holds; without one of the columns `byocframe.changes` needs (``loaded``, ``path``,
``status``, ``sensing_time``, the native columns) it is refused there, in one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from byocframe.exceptions import ValidationError
from byocframe.frame.deletions import LOADED_KEYS
from byocframe.frame.records import ATTRS_KEY

__all__ = [
    "DRAWN_FROM_OTHERS",
    "check_options",
    "filtered_rows",
    "gdal_options",
    "keep",
    "keep_columns",
    "mark_part",
    "read_columns",
    "region",
    "row_groups_of",
]

RowsLike = int | slice
_POSITION = "__byocframe_position__"


def check_options(
    *, bbox: Any, mask: Any, rows: Any, columns: Any, filters: Any, kind: str
) -> None:
    """Refuse options that do not go together, before the file is read.

    Raises
    ------
    ValueError, TypeError
        Naming the option and what to pass instead.

    Examples
    --------
    >>> check_options(bbox=(0, 0, 1, 1), mask=None, rows=5, columns=None, filters=None,
    ...               kind="GPKG")
    >>> check_options(bbox=(0, 0, 1, 1), mask={"type": "Point", "coordinates": [0, 0]},
    ...               rows=None, columns=None, filters=None, kind="GPKG")
    Traceback (most recent call last):
    ...
    ValueError: bbox= and mask= cannot be used together (as in geopandas.read_file): pass one
    """
    if bbox is not None and mask is not None:
        raise ValueError(
            "bbox= and mask= cannot be used together (as in geopandas.read_file): pass one"
        )
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int | np.integer | slice):
            raise TypeError(
                f"rows= takes an int (the first n rows) or a slice, got {type(rows).__name__}"
            )
        if not isinstance(rows, slice) and rows < 0:
            raise ValueError(f"rows= must be 0 or more (the first n rows), got {rows}")
    if columns is not None and (
        isinstance(columns, str) or not all(isinstance(c, str) for c in columns)
    ):
        raise TypeError("columns= takes a list of column names, e.g. ['path', 'status']")
    if filters is not None and kind != "parquet":
        raise ValueError(
            "filters= works on GeoParquet files only (as in geopandas.read_parquet); use "
            "rows=, bbox= or mask=, or filter the frame with pandas"
        )


def filtered_rows(path: Path, filters: Any) -> np.ndarray:
    """Positions of the rows of a Parquet file that pyarrow's ``filters`` keep.

    ``filters`` is what `pyarrow.parquet.read_table` takes: a list of ``(column, op,
    value)`` tuples (all must hold), a list of such lists (any may hold), or a
    ``pyarrow.compute.Expression``. Only the columns the filter names are read (all
    but the geometries for an expression).

    Raises
    ------
    ValueError
        When pyarrow cannot apply the filter (an unknown column, a value of the wrong
        type); it names the file's columns.

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     pq.write_table(pa.table({"n": [5, 1, 7]}), f"{folder}/t.parquet")
    ...     filtered_rows(Path(f"{folder}/t.parquet"), [("n", ">", 2)]).tolist()
    [0, 2]
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    schema = source.schema_arrow
    try:
        if isinstance(filters, pc.Expression):
            expression, named = filters, None
        else:
            expression = pq.filters_to_expression(filters)
            named = _filter_columns(filters)
    except (TypeError, ValueError, pa.ArrowException) as err:
        raise ValueError(
            f"filters= is not a pyarrow filter ({_first_line(err)}); pass e.g. "
            "[('status', '==', 'FAILED')]"
        ) from err
    geometries = set(json.loads((schema.metadata or {}).get(b"geo", b"{}")).get("columns", {}))
    scalar = [f.name for f in schema if f.name not in geometries and not _binary(f.type)]
    unknown = sorted(set(named or ()) - set(schema.names))
    if unknown:
        raise ValueError(
            f"filters= names {', '.join(map(repr, unknown))}, not a column of {path.name}; "
            f"its columns: {', '.join(scalar)}"
        )
    table = source.read(columns=scalar if named is None else sorted(named))
    table = table.append_column(_POSITION, pa.array(np.arange(table.num_rows)))
    try:
        kept = table.filter(expression)
    except (TypeError, ValueError, pa.ArrowException) as err:
        raise ValueError(
            f"filters= cannot be applied to {path.name} ({_first_line(err)}); compare "
            "each column with a value of its type (times: pandas.Timestamp(..., tz='UTC'))"
        ) from err
    return np.asarray(kept.column(_POSITION).to_numpy(), dtype=np.int64)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:120] if text else type(err).__name__


def _binary(kind: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind))


def _filter_columns(filters: Any) -> set[str]:
    """The column names of a DNF filter (a list of tuples, or a list of such lists)."""
    names: set[str] = set()
    for item in filters:
        terms = [item] if isinstance(item, tuple) else item
        for term in terms:
            names.add(str(term[0]))
    return names


def row_groups_of(path: Path, rows: RowsLike) -> tuple[list[int] | None, RowsLike]:
    """The row groups of a byocframe GeoParquet file that hold ``rows``, and the rows.

    ``rows`` is given back counted from the first of those groups; ``(None, rows)``
    means: read the whole file instead. A slice with a step, or a file another program
    wrote, is read whole.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> from byocframe.io.geoparquet_write import ParquetSink
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(10, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with ParquetSink(f"{folder}/t.parquet", gdf.crs, row_group_size=4) as sink:
    ...         sink.write(gdf)
    ...         sink.close(gdf.attrs, list(gdf.columns), gdf.index.name)
    ...     row_groups_of(Path(f"{folder}/t.parquet"), slice(5, 9))
    ([1, 2], slice(1, 5, None))
    """
    import pyarrow.parquet as pq

    from byocframe.io.geoparquet_read import is_byocframe_parquet

    if not is_byocframe_parquet(path):
        return None, rows
    metadata = pq.read_metadata(path)
    sizes = [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    window = rows if isinstance(rows, slice) else slice(0, int(rows))
    start, stop, step = window.indices(int(starts[-1]))
    if step != 1 or start >= stop:
        return None, rows
    groups = [g for g in range(len(sizes)) if starts[g] < stop and starts[g + 1] > start]
    if len(groups) == len(sizes):
        return None, rows  # every group: the whole file
    first = int(starts[groups[0]])
    return groups, slice(start - first, stop - first)


#: Columns whose reading needs the rest of the file (``tile_geometry`` is drawn from
#: ``native_tile``): a ``columns=`` naming one reads the file whole.
DRAWN_FROM_OTHERS = ("tile_geometry", "native_cover", "native_tile")


def read_columns(path: Path, columns: Sequence[str]) -> gpd.GeoDataFrame | None:
    """Only ``columns`` (and ``id``, ``geometry``) of a byocframe GeoParquet file.

    None when the file is another program's, of another format version, or when
    ``columns`` names a column of `DRAWN_FROM_OTHERS`: then the file is read whole. The
    frame has the dtypes, CRS and attrs the whole read gives.

    Raises
    ------
    ValidationError
        When a name is not a column of the file.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     byocframe.write_file(gdf, f"{folder}/t.parquet")
    ...     some = read_columns(Path(f"{folder}/t.parquet"), ["status"])
    >>> list(some.columns), some["status"].dtype == gdf["status"].dtype
    (['status', 'geometry'], True)
    """
    import pyarrow.parquet as pq

    from byocframe.frame.settings import saved_settings
    from byocframe.io.geoparquet_read import geometry_column, restore_columns
    from byocframe.io.geoparquet_write import FORMAT, METADATA_KEY, TILE_DRAWING

    if set(columns) & set(DRAWN_FROM_OTHERS):
        return None
    source = pq.ParquetFile(path)
    metadata = {**(source.schema_arrow.metadata or {}), **(source.metadata.metadata or {})}
    if METADATA_KEY not in metadata or b"geo" not in metadata:
        return None
    own, geo = json.loads(metadata[METADATA_KEY]), json.loads(metadata[b"geo"])
    if not isinstance(own, dict) or own.get("format") != FORMAT or not isinstance(geo, dict):
        return None  # the whole read says what is wrong with it
    geometry = geo.get("primary_column")
    names = [n for n in source.schema_arrow.names if n not in (geometry, TILE_DRAWING)]
    wanted = [c for c in dict.fromkeys(columns) if c not in (geometry, "id")]
    unknown = [c for c in wanted if c not in names]
    if unknown:
        shown = [n for n in names if n != "id"]
        raise ValidationError(
            f"columns= names {', '.join(map(repr, unknown))}, not in the file; its "
            f"columns: {', '.join(shown)}"
        )
    # geopandas' read_parquet decodes the whole GeoArrow column at once (752 MB at
    # 200,000 tiles, more than the whole file read): a row group at a time instead
    table = source.read(columns=wanted, use_pandas_metadata=True)
    flat = table.to_pandas()
    del table
    shown = geometry_column(path)
    shown.index = flat.index
    frame = restore_columns(gpd.GeoDataFrame(flat, geometry=shown))
    frame.attrs = {ATTRS_KEY: saved_settings(own.get("attrs") or {})}
    order = [c for c in own.get("columns") or [] if c in frame.columns]
    return frame[order + [c for c in frame.columns if c not in order]]


def keep(
    frame: gpd.GeoDataFrame,
    *,
    bbox: Any = None,
    mask: Any = None,
    rows: RowsLike | None = None,
    positions: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """The rows of a frame read whole that the options keep, in the file's order.

    ``positions`` (from `filtered_rows`) go first, then ``bbox`` or ``mask``, then
    ``rows`` (as pyogrio applies ``skip_features``/``max_features`` after its spatial
    filter). A frame that keeps fewer rows than it had is marked a part (`mark_part`).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(5, seed=1))
    >>> part = keep(gdf, rows=2)
    >>> len(part), part.attrs["byocframe"]["whole"], "loaded_ids" in part.attrs["byocframe"]
    (2, False, False)
    """
    total = len(frame)
    chosen = np.arange(total) if positions is None else np.asarray(positions, dtype=np.int64)
    if bbox is not None or mask is not None:
        shape = region(frame.crs, bbox, mask)
        geoms = np.asarray(frame.geometry.array, dtype=object)[chosen]
        chosen = chosen[shapely.intersects(geoms, shape)]
    if rows is not None:
        chosen = chosen[rows if isinstance(rows, slice) else slice(0, int(rows))]
    if len(chosen) == total and (chosen == np.arange(total)).all():
        return frame  # every row, in order: the file's frame as it is
    part = frame.iloc[chosen]
    return mark_part(part)


def mark_part(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Mark a frame as a part of a load: no loaded ids (no deletions), not whole.

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(3, seed=1))
    >>> settings = mark_part(gdf.iloc[:1]).attrs["byocframe"]
    >>> settings["whole"], "loaded_checks" in settings, "loaded_checks" in gdf.attrs["byocframe"]
    (False, False, True)
    """
    # the ids (and their delete checks) are the whole file's load: kept, every row left
    # out would be planned for deletion (finding 5 of tests/attack/FINDINGS.md)
    settings = {k: v for k, v in frame.attrs.get(ATTRS_KEY, {}).items() if k not in LOADED_KEYS}
    settings["whole"] = False
    frame.attrs = {**frame.attrs, ATTRS_KEY: settings}
    return frame


def region(crs: Any, bbox: Any, mask: Any) -> shapely.Geometry:
    """``bbox`` or ``mask``, as `byocframe.read_file` takes them, as one shapely geometry.

    A GeoSeries or GeoDataFrame is reprojected to ``crs`` (the file's; None: unknown).

    Examples
    --------
    >>> region("EPSG:4326", (170, -10, -170, 10), None).bounds  # across the antimeridian
    (-180.0, -10.0, 180.0, 10.0)
    """
    from pyproj import CRS

    crs = None if crs is None else CRS.from_user_input(crs)
    given = bbox if bbox is not None else mask
    what = "bbox" if bbox is not None else "mask"
    if isinstance(given, gpd.GeoDataFrame | gpd.GeoSeries):
        if given.crs is not None and crs is not None and not given.crs.equals(crs):
            given = given.to_crs(crs)
        if bbox is not None:
            return shapely.box(*given.total_bounds)
        return shapely.union_all(np.asarray(given.geometry.array, dtype=object))
    if isinstance(given, shapely.Geometry):
        return shapely.box(*given.bounds) if bbox is not None else given
    if mask is not None and isinstance(given, Mapping):
        try:
            return shapely.geometry.shape(given)
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            shapely.errors.ShapelyError,
        ) as err:
            raise ValueError(f"mask= is not a GeoJSON geometry ({_first_line(err)})") from err
    if bbox is not None and isinstance(given, Sequence) and len(given) == 4:
        west, south, east, north = (float(v) for v in given)
        if west > east and crs is not None and crs.is_geographic:
            # across the antimeridian, as read_tiles(bbox=) takes it
            return shapely.union(
                shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)
            )
        return shapely.box(west, south, east, north)
    raise TypeError(
        f"{what}= takes "
        + (
            "(minx, miny, maxx, maxy), a shapely geometry, a GeoSeries or a GeoDataFrame"
            if bbox is not None
            else "a shapely geometry, a GeoJSON dict, a GeoSeries or a GeoDataFrame"
        )
        + f", got {type(given).__name__}"
    )


def gdal_options(
    path: Path,
    bbox: Any,
    mask: Any,
    rows: RowsLike | None,
    columns: Sequence[str] | None = None,
    layer: str | None = None,
) -> dict[str, Any]:
    """The options GDAL (pyogrio) can apply while reading a GeoPackage or FlatGeobuf.

    ``bbox`` or ``mask`` as the file's CRS has them (a box across the antimeridian as a
    mask), with ``fid_as_index`` (a GeoPackage answers in its R-tree's order: sorted by
    feature id, the rows are in the file's order again); else ``rows`` when it counts
    from the start (no step, no negative index). Each given back here is applied by
    GDAL, the rest by `keep` after the read. GDAL keeps the features whose geometry
    intersects the box or mask, as `keep` does. ``columns`` (those the file has, with
    ``id`` and ``path``, which reading a tile table needs) are read alone. ``layer``: the
    GeoPackage layer read (its fields and CRS; None: the first).

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(4, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     byocframe.write_file(gdf, f"{folder}/t.gpkg")
    ...     sorted(gdal_options(Path(f"{folder}/t.gpkg"), (0, 0, 1, 1), None, slice(-2, None)))
    ['bbox', 'fid_as_index']
    """
    import pyogrio

    out: dict[str, Any] = {}
    info = pyogrio.read_info(path, layer=layer)  # the tiles' layer (None: the first)
    if columns is not None:  # names the file lacks are left to keep_columns to refuse
        fields = set(info.get("fields", []))
        out["columns"] = [c for c in dict.fromkeys(["id", "path", *columns]) if c in fields]
    if bbox is not None or mask is not None:
        shape = region(info.get("crs"), bbox, mask)
        is_box = bbox is not None and shapely.equals(shape, shapely.box(*shape.bounds))
        if is_box:
            out["bbox"] = tuple(float(v) for v in shape.bounds)
        else:
            out["mask"] = shape
        # a GeoPackage answers in its R-tree's order: the feature ids put the file's
        # order back, and rows are counted in it afterwards (not by GDAL)
        out["fid_as_index"] = True
        return out
    if rows is not None:
        window = rows if isinstance(rows, slice) else slice(0, int(rows))
        start, stop = window.start or 0, window.stop
        # pyogrio reads everything for max_features=0 (rows=0, an empty slice): not GDAL's
        empty = stop is not None and stop <= start
        if window.step in (None, 1) and start >= 0 and (stop is None or stop > 0) and not empty:
            out["rows"] = window if isinstance(rows, slice) else int(rows)  # numpy ints too
    return out


def keep_columns(frame: gpd.GeoDataFrame, columns: Sequence[str] | None) -> gpd.GeoDataFrame:
    """The frame with only ``columns`` besides its index and active geometry.

    Raises
    ------
    ValidationError
        When a name is not a column of the file (names must match exactly).

    Examples
    --------
    >>> import byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    >>> list(keep_columns(gdf, ["status"]).columns)
    ['status', 'geometry']
    """
    if columns is None:
        return frame
    geometry = frame.active_geometry_name
    wanted = [c for c in dict.fromkeys(columns) if c not in (geometry, frame.index.name)]
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown:
        raise ValidationError(
            f"columns= names {', '.join(map(repr, unknown))}, not in the file; its "
            f"columns: {', '.join(c for c in frame.columns if c != geometry)}"
        )
    order = [c for c in frame.columns if c in wanted or c == geometry]
    out = frame[order]
    out.attrs = dict(frame.attrs)
    return out
