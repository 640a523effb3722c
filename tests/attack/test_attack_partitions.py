"""Attacks on partitioned changes: deletions planned from a partial or foreign dataset.

Each test documents one defect found by attacking the million-tile work (branch
``attack``, tests/attack/FINDINGS.md); all are fixed and the tests pass.
"""

from __future__ import annotations

import pytest

import byocframe
from byocframe.frame.synthetic import synthetic_tiles

dask = pytest.importorskip("dask")
partitioned = pytest.importorskip("byocframe.scale.partitioned")


def test_a_missing_partition_file_plans_no_deletion(tmp_path):
    gdf = byocframe.tiles_from_records(synthetic_tiles(30, seed=1))
    files = partitioned.write_partitions(gdf, tmp_path, partitions=3)
    lost = byocframe.read_file(files[1]).index
    files[1].unlink()  # the dataset is now partial; no row was dropped by the user
    with dask.config.set(scheduler="sync"):
        try:
            found = partitioned.partitioned_changes(tmp_path, deleted=True, loaded_ids=gdf.index)
        except byocframe.ValidationError:
            return  # refused: fine
    deletes = set(found.loc[found["action"] == "delete", "id"])
    assert not deletes & set(lost)  # today: every tile of the missing file


def test_loaded_ids_of_another_load_plan_no_deletion(tmp_path):
    gdf = byocframe.tiles_from_records(synthetic_tiles(12, seed=1))
    elsewhere = byocframe.tiles_from_records(synthetic_tiles(12, seed=2))
    assert not set(gdf.index) & set(elsewhere.index)
    partitioned.write_partitions(gdf, tmp_path, partitions=3)
    # today: 12 deletions of tiles that are not in this dataset at all
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(byocframe.ValidationError, match="loaded"),
    ):
        partitioned.partitioned_changes(tmp_path, deleted=True, loaded_ids=elsewhere.index)
