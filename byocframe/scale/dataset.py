"""A partitioned tile dataset: a folder of GeoParquet files, read with dask-geopandas.

`write_partitions` writes a tile frame as one file per partition (by id hash or by
group) and, beside them, the manifest of `byocframe.scale.manifest`; `read_partitions`
reads the folder (or takes a dask-geopandas frame as it is). `dask_modules` imports dask
on use (the optional ``dask`` extra).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from byocframe.atomic import swept
from byocframe.exceptions import ValidationError
from byocframe.frame.deletions import LOADED_KEYS
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.seal import loaded_ids, sealed_ids
from byocframe.io.files import check_parquet_rows, write_file
from byocframe.io.geoparquet_write import METADATA_KEY
from byocframe.scale.manifest import (
    MANIFEST,
    PARTITION_COUNT,
    PARTITION_NUMBER,
    PARTITION_WRITE,
    Manifest,
    write_manifest,
)
from byocframe.tools.groups import group_labels

__all__ = [
    "check_files",
    "dask_modules",
    "empty_frame",
    "file_settings",
    "partition_files",
    "read_partitions",
    "write_partitions",
]


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


def partition_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The partition files of a dataset's folder, in name order (``_`` files are not).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     partition_files(folder)
    []
    """
    return sorted(p for p in Path(folder).glob("*.parquet") if not p.name.startswith("_"))


def file_settings(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The byocframe attrs a GeoParquet file's footer records, without reading a row.

    An empty dict when there are none (e.g. a file that pandas or geopandas rewrote).

    Examples
    --------
    >>> import tempfile, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     byocframe.write_file(gdf, f"{folder}/t.parquet")
    ...     "load" in file_settings(f"{folder}/t.parquet")
    True
    """
    try:
        footer = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowException):
        return {}
    return _attrs(footer)


def _attrs(footer: dict[bytes, bytes]) -> dict[str, Any]:
    """The byocframe attrs in a footer's key-value metadata ({} when none or broken)."""
    try:
        settings = json.loads(footer[METADATA_KEY]).get("attrs")
    except (KeyError, ValueError, AttributeError):
        return {}
    return settings if isinstance(settings, dict) else {}


def check_files(folder: Path, manifest: Manifest | None, *, deleted: bool) -> dict[str, Any]:
    """Refuse a folder whose files are not one dataset; return how its rows were drawn.

    Each file `write_partitions` writes records its write (`PARTITION_WRITE`), its
    number and how many files the write made; its manifest, written last, records the
    write too. Refused, naming the file:

    * a file the manifest lists but that another write made (an older copy put back,
      or a write stopped half way over an earlier dataset);
    * a file the manifest does not list that holds loaded tiles (left by an earlier
      write with more files: its tiles would hide deletions and invent edits); a file
      of new rows only (creates) is welcome;
    * without a manifest: files of several writes; with ``deleted``, a write's files
      not all there (the write stopped before its manifest).

    Returns the dataset's ``densify`` and ``tolerance`` (the manifest's, or a file's).
    """
    files = partition_files(folder)
    footers = [_footer(path) for path in files]  # each file's rows bounded, footer read once
    _require_one_schema(files, footers)
    settings = {path.name: _attrs(meta) for path, (_, meta) in zip(files, footers, strict=True)}
    again = "write the dataset again with write_partitions from the frame as loaded"
    if manifest is not None:
        listed = set(manifest.files)
        for path in files:
            write = settings[path.name].get(PARTITION_WRITE)
            if path.name in listed:
                if manifest.write is not None and write is not None and write != manifest.write:
                    raise ValidationError(
                        f"{path}: written by another write_partitions call than {MANIFEST} "
                        f"(an older copy put back, or a write stopped half way); {again}"
                    )
            elif _holds_loaded_rows(path):
                twin = _sharing_ids(path, [folder / name for name in manifest.files])
                also = f", and some of its tiles are in {twin}" if twin else ""
                raise ValidationError(
                    f"{path}: holds loaded tiles but is not among the files {MANIFEST} lists "
                    f"(left by an earlier write, or a copy?{also}): move it out of the folder, "
                    f"or {again}"
                )
        if manifest.drawing:
            return dict(manifest.drawing)
    else:
        writes = {str(own[PARTITION_WRITE]) for own in settings.values() if PARTITION_WRITE in own}
        if len(writes) > 1:
            raise ValidationError(
                f"{folder}: its files come from {len(writes)} write_partitions calls and no "
                f"{MANIFEST} says which is the dataset; {again}"
            )
        if deleted and writes:
            written = [own for own in settings.values() if PARTITION_WRITE in own]
            numbers = {own.get(PARTITION_NUMBER) for own in written}
            count = written[0].get(PARTITION_COUNT)
            if not isinstance(count, int) or not numbers >= set(range(count)):
                raise ValidationError(
                    f"{folder}: the write of its files stopped before its {MANIFEST} (not "
                    f"all of its {count} files are here), so no deletion is planned from "
                    f"part of a dataset; {again}"
                )
    for own in settings.values():
        if "densify" in own or "tolerance" in own:
            return {k: own[k] for k in ("densify", "tolerance") if k in own}
    return {}


def _footer(path: Path) -> tuple[set[str], dict[bytes, bytes]]:
    """A partition file's column names and key-value metadata, its rows bounded first."""
    check_parquet_rows(path)  # refuses an unreadable footer too, by name
    try:
        footer = pq.read_metadata(path)
        names = set(footer.schema.to_arrow_schema().names)
    except (OSError, pa.ArrowException) as err:
        raise ValidationError(f"{path}: not a readable GeoParquet file ({err})") from err
    return names, dict(footer.metadata or {})


def _require_one_schema(
    files: list[Path], footers: list[tuple[set[str], dict[bytes, bytes]]]
) -> None:
    """Refuse, by file name, a file that is no GeoParquet tile partition like the first.

    Read from the footers only: without this, dask fails later on its first file's
    schema, naming no file (geopandas' "use pandas.read_parquet", a KeyError of ``id``).
    """
    first: set[str] | None = None
    for path, (names, meta) in zip(files, footers, strict=True):
        if b"geo" not in meta:
            raise ValidationError(
                f"{path}: no GeoParquet metadata (rewritten by pandas?): write the partition "
                "with byocframe.write_file or geopandas' to_parquet"
            )
        if "id" not in names:
            raise ValidationError(
                f"{path}: has no id column (written with index=False?): write the partition "
                "with its tile ids as the index"
            )
        if first is None:
            first = names
        elif names != first:
            extra, lacking = sorted(names - first), sorted(first - names)
            raise ValidationError(
                f"{path}: its columns differ from {files[0].name}'s (more: {extra or 'none'}; "
                f"fewer: {lacking or 'none'}): give every partition the same columns"
            )


def _sharing_ids(path: Path, others: list[Path]) -> str | None:
    """The first of ``others`` that holds a tile id ``path`` holds, by name.

    A refusal's detail: the ids are read only when a file is refused.
    """
    try:
        mine = set(pq.read_table(path, columns=["id"]).column("id").to_pylist())
        for other in others:
            if other.is_file() and mine & set(
                pq.read_table(other, columns=["id"]).column("id").to_pylist()
            ):
                return other.name
    except (OSError, KeyError, pa.ArrowException):
        return None
    return None


def _holds_loaded_rows(path: Path) -> bool:
    """Whether a GeoParquet file has rows with a ``loaded`` token (read: that column).

    Its rows are bounded already (`check_files` reads every footer first).
    """
    try:
        if "loaded" not in pq.read_schema(path).names:
            return False
        column = pq.read_table(path, columns=["loaded"]).column("loaded")
    except (OSError, pa.ArrowException) as err:
        raise ValidationError(f"{path}: not a readable GeoParquet file ({err})") from err
    return column.null_count < len(column)


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
            # a glob: its files, without the ``_`` ones (the manifest is no partition)
            matched = sorted(p for p in path.parent.glob(path.name) if not p.name.startswith("_"))
            if not matched:
                raise ValidationError(f"{path}: no file matches; check the path")
            for match in matched:
                check_parquet_rows(match)
            return dask_geopandas.read_parquet([str(p) for p in matched])
        files = [str(p) for p in partition_files(path)]
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
    own = {k: v for k, v in settings.items() if k not in LOADED_KEYS}
    write = secrets.token_hex(8)
    # an earlier write's manifest goes first: a write stopped half way (killed, a full
    # disk) leaves no manifest that would pass the new files off as the old dataset
    (Path(folder) / MANIFEST).unlink(missing_ok=True)
    out = []
    # the scratch of killed writers is looked for once for all the partitions, not once
    # a partition (a listing of the folder each: a cost growing with their square)
    with swept(Path(folder)):
        for i, rows in enumerate(blocks):
            path = Path(folder) / f"part.{i:05d}.parquet"
            part = frame.iloc[rows]
            mark = {PARTITION_WRITE: write, PARTITION_NUMBER: i, PARTITION_COUNT: len(blocks)}
            part.attrs = {**frame.attrs, ATTRS_KEY: {**own, **mark}}
            write_file(part, path)
            out.append(path)
    load = own.get("load")
    write_manifest(
        folder,
        [p.name for p in out],
        ids,
        write=write,
        load=load if isinstance(load, int) else None,
        drawing={k: own[k] for k in ("densify", "tolerance") if k in own},
    )
    return out
