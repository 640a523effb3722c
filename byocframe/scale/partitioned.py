"""Coverage and changes over a partitioned GeoParquet dataset, with dask-geopandas.

Nothing here holds every tile at once. Coverage cuts each partition's footprints along
equal-area cells (`byocframe.scale.cells.cell_pieces`), shuffles the pieces by group and
cell, counts depth per group and cell (`byocframe.scale.cells.cell_depths`) and adds the
cells up. Changes (`byocframe.scale.changes`, re-exported here) plan each partition and
combine by id; the dataset itself is `byocframe.scale.dataset` (``read_partitions``,
``write_partitions``). The scheduler is dask's current one
(``dask.config.set(scheduler=...)``, a ``distributed.Client``); docs/design/scale.md
says how a 100M-tile run would be partitioned and what it would cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from byocframe.io.geoparquet_read import restore_columns
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
from byocframe.scale.changes import (
    ID_FINDINGS,
    PartitionedPlan,
    id_findings,
    partitioned_changes,
    partitioned_plan,
)
from byocframe.scale.dataset import dask_modules, empty_frame, read_partitions, write_partitions
from byocframe.tools.tables import CoverageTable
from byocframe.typing import AoiLike

__all__ = [
    "ID_FINDINGS",
    "PartitionedPlan",
    "id_findings",
    "partitioned_changes",
    "partitioned_coverage",
    "partitioned_plan",
    "read_partitions",
    "write_partitions",
]

_PIECE_META = {
    "group": object,
    "cell": np.int64,
    "piece": object,
    "tiles": np.int64,
    "footprint_m2": np.float64,
}


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
    dask, _, _ = dask_modules()
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
            meta=empty_frame(_PIECE_META),
            enforce_metadata=False,
        )
        # a cell of a group is counted on its own: shuffling on both spreads dated groups
        # over as many tasks as they have cells, not only as many as there are cells
        shuffled = pieces.shuffle(
            ["group", "cell"], npartitions=shuffle_partitions or frame.npartitions
        )
        depths = shuffled.map_partitions(cell_depths, meta=empty_frame(DEPTH_META)).compute()
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


def _restored_pieces(part: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """`cell_pieces` of a partition with the columns a frame has (see `restore_columns`)."""
    return cell_pieces(restore_columns(part), *args, **kwargs)
