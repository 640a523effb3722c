"""Coverage and changes over a partitioned GeoParquet dataset, with dask-geopandas.

Nothing here holds every tile at once. Coverage cuts each partition's footprints along
equal-area cells (`byocframe.scale.cells.cell_pieces`), shuffles the pieces by group and
cell, counts depth per group and cell (`byocframe.scale.cells.cell_depths`) and adds the
cells up.
Changes run `byocframe.edits.diff.plan` on each partition, then combine: the ids of every
partition (and the loaded ids, for deletions) are shuffled by id, so a tile in two
partitions is found, and so is a loaded tile in none. The scheduler is dask's current one
(``dask.config.set(scheduler=...)``, a ``distributed.Client``); docs/design/scale.md
says how a 100M-tile run would be partitioned and what it would cost.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from byocframe.edits.diff import plan
from byocframe.exceptions import ValidationError
from byocframe.io.files import write_file
from byocframe.io.geoparquet import restore_columns
from byocframe.scale.cells import (
    CELL_SIZE,
    DEPTH_META,
    cell_depths,
    cell_pieces,
    check_cell_size,
    combine_coverage,
    equal_area_aoi,
    group_name,
)
from byocframe.tools.stats import CoverageTable, group_labels
from byocframe.typing import AoiLike

__all__ = [
    "ID_FINDINGS",
    "id_findings",
    "partitioned_changes",
    "partitioned_coverage",
    "read_partitions",
    "write_partitions",
]

#: What the id shuffle of `partitioned_changes` reports, per id: ``repeated`` (in two
#: partitions or more) or ``deleted`` (loaded, in none).
ID_FINDINGS = {
    "id": object,
    "finding": object,
    "first": np.int64,
    "second": np.int64,
    "position": np.int64,
}
_PIECE_META = {
    "group": object,
    "cell": np.int64,
    "piece": object,
    "tiles": np.int64,
    "footprint_m2": np.float64,
}
_ID_META = {"id": object, "partition": np.int64, "position": np.int64}


def _dask() -> tuple[Any, Any, Any]:
    """dask, dask.dataframe and dask_geopandas, or an error that says how to get them."""
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


def _empty(meta: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in meta.items()})


def read_partitions(source: Any) -> Any:
    """A partitioned tile dataset as a dask-geopandas GeoDataFrame.

    Parameters
    ----------
    source : str, Path or dask_geopandas.GeoDataFrame
        A folder (or glob) of GeoParquet files, one partition each (as `write_partitions`
        writes them), or a dask-geopandas frame, returned as it is.

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
    _, _, dask_geopandas = _dask()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.is_dir() and not any(path.glob("*.parquet")):
            raise ValidationError(f"{path}: no .parquet file in this folder; check the path")
        return dask_geopandas.read_parquet(str(path))
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
        The files written.

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
    out = []
    for i, rows in enumerate(blocks):
        path = Path(folder) / f"part.{i:05d}.parquet"
        write_file(frame.iloc[rows], path)
        out.append(path)
    return out


def partitioned_coverage(
    source: Any,
    aoi: AoiLike | None = None,
    *,
    by: str | None = None,
    cell_size: float = CELL_SIZE,
    shuffle_partitions: int | None = None,
) -> CoverageTable:
    """`byocframe.tools.coverage` of a partitioned dataset, cell by cell, with dask.

    Partitions may overlap in space (time partitions of one grid always do): footprints
    are cut along equal-area cells and shuffled by group and cell, so each cell's depth is
    counted once, from every partition's pieces. Areas add up over the disjoint cells.

    Parameters
    ----------
    source : str, Path or dask_geopandas.GeoDataFrame
        See `read_partitions`.
    aoi, by : optional
        As in `byocframe.tools.coverage`.
    cell_size : float
        Side of the equal-area cells in metres (`byocframe.scale.cells.CELL_SIZE`,
        1,000 km): the most one worker holds at once is one cell's pieces over every
        group and partition. Lower it for deep stacks of many years.
    shuffle_partitions : int, optional
        Partitions after the shuffle by group and cell (default: as many as the dataset
        has).

    Returns
    -------
    CoverageTable
        The same table as `byocframe.tools.coverage` (equal to rounding, see
        docs/design/scale.md).

    Examples
    --------
    >>> import tempfile, dask, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> from byocframe.tools import coverage
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(40, seed=1))
    >>> with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="sync"):
    ...     _ = write_partitions(gdf, folder, by="sensing_time")
    ...     table = partitioned_coverage(folder)
    >>> in_memory = coverage(gdf)["covered_km2"].iloc[0]
    >>> table.index.tolist(), bool(abs(table["covered_km2"].iloc[0] / in_memory - 1) < 1e-8)
    (['all'], True)
    """
    dask, _, _ = _dask()
    check_cell_size(cell_size)
    frame = read_partitions(source)
    region = equal_area_aoi(aoi) if aoi is not None else None
    with dask.config.set({"dataframe.convert-string": False}):
        pieces = frame.map_partitions(
            _restored_pieces,
            region,
            by=by,
            cell_size=cell_size,
            projected_aoi=True,
            meta=_empty(_PIECE_META),
            enforce_metadata=False,
        )
        # a cell of a group is counted on its own: shuffling on both spreads dated groups
        # over as many tasks as they have cells, not only as many as there are cells
        shuffled = pieces.shuffle(
            ["group", "cell"], npartitions=shuffle_partitions or frame.npartitions
        )
        depths = shuffled.map_partitions(cell_depths, meta=_empty(DEPTH_META)).compute()
    name = group_name(by, list(frame.columns))
    categories = None
    if name == by:
        # categories are unknown until read (GeoParquet keeps them per file, or stores a
        # frame's categorical columns as text): `coverage` lists a categorical's groups in
        # their order, so read them from one file, as a frame holds it
        first = restore_columns(frame[[by]].partitions[0].compute())
        if isinstance(first[by].dtype, pd.CategoricalDtype):
            categories = list(first[by].dtype.categories)
    return combine_coverage(
        depths, name=name, aoi=region, projected_aoi=True, categories=categories
    )


#: The rows of `_partition_report`: each partition's changes, then one row (``action``
#: None, ``new`` its collection) saying which collection it came from.
_REPORT_META = {
    "id": object,
    "field": object,
    "old": object,
    "new": object,
    "action": object,
    "partition": np.int64,
}


def _restored_pieces(part: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """`cell_pieces` of a partition with the columns a frame has (see `restore_columns`)."""
    return cell_pieces(restore_columns(part), *args, **kwargs)


def _partition_report(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> Any:
    """One partition's changes, in its own row order, and the collection it came from."""
    number = int((partition_info or {}).get("number", 0))
    found = plan(restore_columns(part))
    marker = {"id": None, "field": None, "old": None, "new": found.collection, "action": None}
    table = pd.concat(
        [found.changes.astype(object), pd.DataFrame([marker], dtype=object)], ignore_index=True
    )
    table["partition"] = np.int64(number)
    return table


def _partition_ids(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> Any:
    """The tile ids a partition holds (rows added without an id have none)."""
    number = int((partition_info or {}).get("number", 0))
    ids = pd.Series(part.index.to_numpy(dtype=object))
    ids = ids[ids.map(lambda v: isinstance(v, str) and v != "")]
    return pd.DataFrame(
        {
            "id": ids.to_numpy(dtype=object),
            "partition": np.full(len(ids), number, np.int64),
            "position": np.zeros(len(ids), np.int64),
        }
    ).astype(_ID_META)


def id_findings(ids: pd.DataFrame) -> pd.DataFrame:
    """Ids in several partitions, and loaded ids in none, among rows shuffled by id.

    Parameters
    ----------
    ids : pandas.DataFrame
        ``id``, ``partition`` (-1 for a loaded id) and ``position`` (in the loaded list);
        every row of one id must be here.

    Returns
    -------
    pandas.DataFrame
        `ID_FINDINGS`: ``repeated`` ids (with their first two partitions) and ``deleted``
        ones (with their position in the loaded list).

    Examples
    --------
    >>> ids = pd.DataFrame({"id": ["a", "a", "b", "c"], "partition": [0, 2, -1, -1],
    ...                     "position": [0, 0, 1, 0]})
    >>> id_findings(ids)[["id", "finding"]].values.tolist()
    [['a', 'repeated'], ['b', 'deleted'], ['c', 'deleted']]
    """
    present = ids[ids["partition"] >= 0]
    counts = present.groupby("id", sort=True)["partition"].agg(["size", "min", "max"])
    repeated = counts[counts["size"] > 1]
    loaded = ids[ids["partition"] < 0]
    gone = loaded[~loaded["id"].isin(present["id"])]
    out = pd.concat(
        [
            _empty(ID_FINDINGS),
            pd.DataFrame(
                {
                    "id": repeated.index.to_numpy(dtype=object),
                    "finding": "repeated",
                    "first": repeated["min"].to_numpy(np.int64),
                    "second": repeated["max"].to_numpy(np.int64),
                    "position": np.zeros(len(repeated), np.int64),
                }
            ),
            pd.DataFrame(
                {
                    "id": gone["id"].to_numpy(dtype=object),
                    "finding": "deleted",
                    "first": np.full(len(gone), -1, np.int64),
                    "second": np.full(len(gone), -1, np.int64),
                    "position": gone["position"].to_numpy(np.int64),
                }
            ),
        ],
        ignore_index=True,
    )
    return out.astype(ID_FINDINGS)


def _loaded_part(part: pd.DataFrame, partition_info: dict[str, Any] | None = None) -> Any:
    """One partition of loaded ids as `_ID_META` rows; positions keep the ids' order."""
    number = int((partition_info or {}).get("number", 0))
    return pd.DataFrame(
        {
            "id": part["id"].to_numpy(dtype=object),
            "partition": np.full(len(part), -1, np.int64),
            "position": (number << 32) + np.arange(len(part), dtype=np.int64),
        }
    )


def _loaded_frame(dd: Any, loaded_ids: Any, npartitions: int) -> Any:
    """The loaded ids as a dask frame of `_ID_META` rows (partition -1)."""
    if hasattr(loaded_ids, "to_frame") and hasattr(loaded_ids, "map_partitions"):
        # a dask Series or Index: stays distributed
        return loaded_ids.to_frame("id").map_partitions(_loaded_part, meta=_empty(_ID_META))
    values = np.asarray(list(loaded_ids), dtype=object)
    table = pd.DataFrame({"id": values})
    loaded = dd.from_pandas(table, npartitions=max(1, min(npartitions, len(values) or 1)))
    return loaded.map_partitions(_loaded_part, meta=_empty(_ID_META))


def partitioned_changes(
    source: Any, *, deleted: bool = False, loaded_ids: Sequence[str] | Any = None
) -> pd.DataFrame:
    """`byocframe.changes` of a partitioned dataset, partition by partition, with dask.

    Each partition is compared with its own ``loaded`` tokens; the combine step then
    shuffles every partition's ids by id: a tile id in two partitions is refused (a tile
    is one row, as in one frame), and a loaded id in no partition is a deletion.

    Parameters
    ----------
    source : str, Path or dask_geopandas.GeoDataFrame
        See `read_partitions`: tile frames, edited, one per partition.
    deleted : bool
        Also list the loaded tiles that no partition holds (action ``delete``).
    loaded_ids : sequence of str, or a dask Series / Index, optional
        The ids as loaded (``gdf.index`` right after `byocframe.read_tiles`); needed
        for ``deleted``, since a GeoParquet partition does not keep the frame's attrs.

    Returns
    -------
    pandas.DataFrame
        The columns of `byocframe.changes` plus ``partition``: each partition's rows in
        its own order, partitions in order, then the deletions in ``loaded_ids`` order.

    Raises
    ------
    ValidationError
        When a tile id is in two partitions, partitions come from several collections,
        or ``deleted`` is asked for without ``loaded_ids``.

    Examples
    --------
    >>> import tempfile, dask, byocframe
    >>> from byocframe.frame.synthetic import synthetic_tiles
    >>> gdf = byocframe.tiles_from_records(synthetic_tiles(8, seed=1))
    >>> edited = gdf.drop(index=gdf.index[7])
    >>> edited.loc[edited.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    >>> with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="sync"):
    ...     _ = write_partitions(edited, folder, partitions=3)
    ...     found = partitioned_changes(folder, deleted=True, loaded_ids=gdf.index)
    >>> found[["field", "action"]].to_dict("records")
    [{'field': 'sensing_time', 'action': 'update'}, {'field': 'tile', 'action': 'delete'}]
    """
    dask, dd, _ = _dask()
    if deleted and loaded_ids is None:
        raise ValidationError(
            "deleted=True needs loaded_ids=<the ids as loaded> (e.g. gdf.index right after "
            "read_tiles): partitions do not keep the frame's attrs"
        )
    frame = read_partitions(source)
    with dask.config.set({"dataframe.convert-string": False}):
        reports = frame.map_partitions(_partition_report, meta=_empty(_REPORT_META))
        ids = frame.map_partitions(_partition_ids, meta=_empty(_ID_META))
        if deleted:
            ids = dd.concat([ids, _loaded_frame(dd, loaded_ids, frame.npartitions)])
        findings = ids.shuffle("id").map_partitions(id_findings, meta=_empty(ID_FINDINGS))
        report, found = dask.compute(reports, findings)
    _refuse_repeats(found)
    marker = report["action"].isna()
    collections = sorted({c for c in report.loc[marker, "new"] if c})
    if len(collections) > 1:
        raise ValidationError(
            f"the partitions come from {len(collections)} collections ({', '.join(collections)}):"
            " compare each collection's partitions on their own"
        )
    tables = [report[~marker]] if (~marker).any() else []
    gone = found[found["finding"] == "deleted"].sort_values("position")
    if len(gone):
        tables.append(
            pd.DataFrame(
                {
                    "id": gone["id"].to_numpy(dtype=object),
                    "field": "tile",
                    "old": None,
                    "new": None,
                    "action": "delete",
                    "partition": -1,
                }
            )
        )
    columns = ["id", "field", "old", "new", "action", "partition"]
    if not tables:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(tables, ignore_index=True)[columns].astype(object)
    return pd.DataFrame([_plain(row) for row in rows.to_dict("records")], columns=columns)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with NaT as None again.

    pandas infers a partition's column of times and None as datetimes and NaT; the
    combined table is inferred from all its rows, as `changes` infers its own (where a
    NaT is always a None).
    """
    return {k: None if v is pd.NaT else v for k, v in row.items()}


def _refuse_repeats(found: pd.DataFrame) -> None:
    repeated = found[found["finding"] == "repeated"].sort_values("id")
    if not len(repeated):
        return
    first = repeated.iloc[0]
    more = f" (and {len(repeated) - 1} more ids)" if len(repeated) > 1 else ""
    raise ValidationError(
        f"tile {first['id']!r} is in partitions {first['first']} and {first['second']}{more}:"
        " a tile must be in one partition only; keep one row per tile and run again"
    )
