"""What `byocframe.scale.partitioned.write_partitions` writes beside the partitions.

A partition is a GeoParquet file of some of a frame's rows; the frame's attrs (the
sealed list of the ids that were loaded, which deletions need) belong to no one
partition. `write_partitions` therefore writes them once, in a ``_loaded_ids.parquet``
file of the folder (`MANIFEST`): one ``id`` column, in load order, and in its key-value
metadata (`MANIFEST_KEY`) the names of the partition files written and the number of
ids. Readers of the dataset skip it (its name starts with ``_``, as Spark's and
pyarrow's ``_metadata`` files do).

Deletions are planned only from a whole dataset: a partition file that is missing
would make every tile in it look deleted, so `check_complete` refuses a folder that
lacks any file the manifest lists, and `recovered_ids` refuses a manifest whose id
count does not match its rows, or that holds no ids (the frame written had lost or
broken its loaded ids).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     _ = write_manifest(folder, ["part.00000.parquet"], ["a", "b"])
...     found = read_manifest(folder)
>>> found.files, found.ids
(['part.00000.parquet'], 2)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from byocframe.exceptions import ValidationError
from byocframe.io.files import check_parquet_rows

__all__ = [
    "MANIFEST",
    "MANIFEST_KEY",
    "PARTITION_COUNT",
    "PARTITION_NUMBER",
    "PARTITION_WRITE",
    "Manifest",
    "check_complete",
    "read_manifest",
    "recovered_ids",
    "write_manifest",
]

#: The file `write_partitions` writes the loaded ids and the file list to.
MANIFEST = "_loaded_ids.parquet"
#: Its key-value metadata key: ``{"files": [names], "ids": count or null, "write": id,
#: "load": number or null, "drawing": {...}}`` (the last three since December 2026).
MANIFEST_KEY = b"byocframe_partitions"

#: The byocframe attrs each partition file of one `write_partitions` call carries: the
#: write's random id, the file's number and how many files the write made.
PARTITION_WRITE, PARTITION_NUMBER, PARTITION_COUNT = (
    "partition_write",
    "partition_number",
    "partition_count",
)


@dataclass(frozen=True)
class Manifest:
    """A dataset's manifest: where it is, the partition files written, the id count.

    ``ids`` is None when the frame written could not say which ids were loaded;
    ``write`` (the id every partition file of the write carries), ``load`` (the load
    the frame's rows were stamped by) and ``drawing`` (how its geometries were drawn)
    are None, None and empty in manifests written before December 2026.
    """

    path: Path
    files: list[str]
    ids: int | None
    write: str | None = None
    load: int | None = None
    drawing: dict[str, Any] = field(default_factory=dict)


def write_manifest(
    folder: str | os.PathLike[str],
    files: list[str],
    ids: list[str] | None,
    *,
    write: str | None = None,
    load: int | None = None,
    drawing: Mapping[str, Any] | None = None,
) -> Path:
    """Write the manifest of a partitioned dataset (see the module's description).

    Parameters
    ----------
    folder : str or Path
        The dataset's folder.
    files : list of str
        Names of the partition files written, in order.
    ids : list of str or None
        The ids as loaded, in load order; None when they are not known.
    write : str, optional
        The id of the write, which each partition file carries (`PARTITION_WRITE`).
    load : int, optional
        The load the frame's rows were stamped by (its attrs ``"load"``).
    drawing : mapping, optional
        How the frame's geometries were drawn (its attrs ``densify``, ``tolerance``).

    Returns
    -------
    Path
        The manifest file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_manifest(folder, [], None).name
    '_loaded_ids.parquet'
    """
    path = Path(folder) / MANIFEST
    meta = {
        "files": list(files),
        "ids": None if ids is None else len(ids),
        "write": write,
        "load": load,
        "drawing": dict(drawing or {}),
    }
    table = pa.table({"id": pa.array(list(ids or []), pa.string())})
    pq.write_table(table.replace_schema_metadata({MANIFEST_KEY: json.dumps(meta)}), path)
    return path


def read_manifest(folder: str | os.PathLike[str]) -> Manifest | None:
    """The manifest of a dataset's folder, or None when it has none.

    Raises
    ------
    ValidationError
        When the manifest is not one `write_manifest` wrote, or its id count does not
        match its rows (the file was cut short or rewritten).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     read_manifest(folder) is None
    True
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    fix = "write the dataset again with write_partitions, or pass loaded_ids="
    try:
        footer = pq.read_metadata(path)
        meta: Any = json.loads((footer.metadata or {})[MANIFEST_KEY])
    except (OSError, KeyError, ValueError, RecursionError, pa.ArrowException) as err:
        raise ValidationError(f"{path}: not a partition manifest byocframe wrote; {fix}") from err
    check_parquet_rows(path)  # its ids are read whole later: bounded before
    if not isinstance(meta, dict):
        raise ValidationError(f"{path}: the manifest's metadata is not an object; {fix}")
    files, ids = meta.get("files"), meta.get("ids")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise ValidationError(f"{path}: the manifest's file list is broken; {fix}")
    if ids is not None and (not isinstance(ids, int) or ids != footer.num_rows):
        raise ValidationError(
            f"{path}: the manifest lists {ids!r} loaded ids but holds {footer.num_rows}; {fix}"
        )
    write, load, drawn = meta.get("write"), meta.get("load"), meta.get("drawing") or {}
    if (
        not isinstance(write, str | None)
        or not (load is None or (isinstance(load, int) and not isinstance(load, bool)))
        or not isinstance(drawn, dict)
    ):
        raise ValidationError(f"{path}: the manifest's write, load or drawing is broken; {fix}")
    return Manifest(path=path, files=files, ids=ids, write=write, load=load, drawing=drawn)


def check_complete(folder: str | os.PathLike[str], manifest: Manifest) -> None:
    """Refuse a dataset that lacks a partition file its manifest lists.

    Raises
    ------
    ValidationError
        Naming the first missing file and how many are missing.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     check_complete(folder, Manifest(Path(folder) / MANIFEST, ["part.0.parquet"], 0))
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: 1 of the 1 partition files written are missing \
(part.0.parquet): no deletion is planned from part of a dataset; restore them (a partition \
whose tiles are all deleted stays, as a file without rows)
    """
    missing = [name for name in manifest.files if not (Path(folder) / name).is_file()]
    if missing:
        raise ValidationError(
            f"{len(missing)} of the {len(manifest.files)} partition files written are missing "
            f"({missing[0]}{', ...' if len(missing) > 1 else ''}): no deletion is planned "
            "from part of a dataset; restore them (a partition whose tiles are all deleted "
            "stays, as a file without rows)"
        )


def recovered_ids(manifest: Manifest | None, where: str) -> Path:
    """The manifest file holding the loaded ids, or a refusal saying why there is none.

    ``where`` names the source in the message (a folder, or a dask frame).

    Raises
    ------
    ValidationError
        When there is no manifest, or it holds no ids.

    Examples
    --------
    >>> recovered_ids(None, "a dask frame")
    Traceback (most recent call last):
    ...
    byocframe.exceptions.ValidationError: deleted=True needs the ids as loaded, and a dask \
frame keeps none (no _loaded_ids.parquet, which write_partitions writes): pass \
loaded_ids=<the ids as loaded> (e.g. gdf.index right after read_tiles)
    """
    if manifest is None:
        raise ValidationError(
            f"deleted=True needs the ids as loaded, and {where} keeps none (no {MANIFEST}, "
            "which write_partitions writes): pass loaded_ids=<the ids as loaded> (e.g. "
            "gdf.index right after read_tiles)"
        )
    if manifest.ids is None:
        raise ValidationError(
            f"deleted=True needs the ids as loaded, and {manifest.path} holds none (the frame "
            "written had lost its loaded ids, or they were not sealed): pass "
            "loaded_ids=<the ids as loaded>, or write the partitions from the frame as loaded"
        )
    return manifest.path
