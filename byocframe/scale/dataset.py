"""A partitioned tile dataset: a folder of GeoParquet files, read with dask-geopandas.

`write_partitions` writes a tile frame as one file per partition (by id hash or by
group) and, beside them, the manifest of `byocframe.scale.manifest`; `read_partitions`
reads the folder (or takes a dask-geopandas frame as it is). `dask_modules` imports dask
on use (the optional ``dask`` extra).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.exceptions import ValidationError
from byocframe.frame.snapshot import ATTRS_KEY, loaded_ids, sealed_ids
from byocframe.io.files import check_parquet_rows, write_file
from byocframe.scale.manifest import write_manifest
from byocframe.tools.stats import group_labels

__all__ = ["dask_modules", "empty_frame", "read_partitions", "write_partitions"]


def dask_modules() -> tuple[Any, Any, Any]:
    """dask, dask.dataframe and dask_geopandas, or an error that says how to get them.

    Examples
    --------
    >>> dask, dd, dask_geopandas = dask_modules()
    >>> hasattr(dd, "from_pandas")
    True
    """
    try:
        import dask
        import dask.dataframe as dd
        import dask_geopandas
    except ImportError as err:
        raise ImportError(
            "partitioned coverage and changes need dask-geopandas: install the dask extra, "
            "pip install 'byocframe[dask]'"
        ) from err
    return dask, dd, dask_geopandas


def empty_frame(meta: dict[str, Any]) -> pd.DataFrame:
    """An empty frame with these columns and dtypes (a dask ``meta``).

    Examples
    --------
    >>> empty_frame({"id": object, "n": np.int64}).dtypes.astype(str).tolist()
    ['object', 'int64']
    """
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in meta.items()})


def read_partitions(source: Any) -> Any:
    """A partitioned tile dataset as a dask-geopandas GeoDataFrame.

    Parameters
    ----------
    source : str, Path or dask_geopandas.GeoDataFrame
        A folder (or glob) of GeoParquet files, one partition each (as `write_partitions`
        writes them; files whose name starts with ``_``, such as its
        ``_loaded_ids.parquet``, are not partitions), or a dask-geopandas frame, returned
        as it is.

    Returns
    -------
    dask_geopandas.GeoDataFrame

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(8, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = write_partitions(gdf, folder, partitions=2)
    ...     read_partitions(folder).npartitions
    2
    """
    _, _, dask_geopandas = dask_modules()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_dir():
            if path.is_file():
                check_parquet_rows(path)
            return dask_geopandas.read_parquet(str(path))
        files = sorted(str(p) for p in path.glob("*.parquet") if not p.name.startswith("_"))
        if not files:
            raise ValidationError(f"{path}: no .parquet file in this folder; check the path")
        for file in files:  # footers only: each partition's rows bounded before any is read
            check_parquet_rows(file)
        return dask_geopandas.read_parquet(files)
    if hasattr(source, "map_partitions") and hasattr(source, "to_delayed"):
        return source
    raise TypeError(
        "source must be a folder of GeoParquet files or a dask_geopandas.GeoDataFrame, "
        f"got {type(source).__name__}"
    )


def write_partitions(
    frame: gpd.GeoDataFrame, folder: str | os.PathLike[str], *, by: str = "id", partitions: int = 4
) -> list[Path]:
    """Write a tile frame as a partitioned GeoParquet dataset (one file per partition).

    Parameters
    ----------
    frame : GeoDataFrame
        A tile frame.
    folder : str or Path
        An existing folder; files are named ``part.00000.parquet``, ... in order.
    by : str
        ``"id"``: rows go to ``partitions`` files by a hash of their tile id (what
        `partitioned_changes` wants at scale); anything `byocframe.tools.coverage` takes
        as ``by`` (``"sensing_time"``, ``"month"``, ``"year"``, a column): one file per
        group, in order (time partitions, as a collection grows).
    partitions : int
        The number of files for ``by="id"``.

    Returns
    -------
    list of Path
        The files written. Beside them, ``_loaded_ids.parquet`` (`byocframe.scale.manifest`)
        holds the ids the frame remembers as loaded (when sealed; each partition keeps no
        copy, so no partition on its own plans the others' tiles as deleted) and the
        names of the files, which `partitioned_changes` checks before planning deletions.

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(8, seed=1, dates=("2024-06-01",
    ...     "2024-07-01")))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     [p.name for p in write_partitions(gdf, folder, by="month")]
    ['part.00000.parquet', 'part.00001.parquet']
    """
    if by == "id":
        if not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"partitions must be a positive int, got {partitions!r}")
        hashed = pd.util.hash_pandas_object(frame.index.astype(object), index=False)
        where = (hashed.to_numpy() % np.uint64(partitions)).astype(np.int64)
        blocks = [np.flatnonzero(where == i) for i in range(partitions)]
    else:
        labels = group_labels(frame, by)
        indices = labels.groupby(labels, sort=True, dropna=False).indices
        blocks = [np.asarray(indices[key]) for key in indices]
    settings = dict(frame.attrs.get(ATTRS_KEY, {}))
    ids = loaded_ids(frame) if sealed_ids(frame) else None
    own = {k: v for k, v in settings.items() if k not in ("loaded_ids", "loaded_ids_seal")}
    out = []
    for i, rows in enumerate(blocks):
        path = Path(folder) / f"part.{i:05d}.parquet"
        part = frame.iloc[rows]
        part.attrs = {**frame.attrs, ATTRS_KEY: own}
        write_file(part, path)
        out.append(path)
    write_manifest(folder, [p.name for p in out], ids)
    return out
