"""changes() of a partitioned dataset (dask) against `byocframe.changes` of the whole frame."""

from __future__ import annotations

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.io.geoparquet import restore_columns
from byocframe.scale.partitioned import (
    id_findings,
    partitioned_changes,
    read_partitions,
    write_partitions,
)


@pytest.fixture(scope="module")
def loaded() -> gpd.GeoDataFrame:
    return byocframe.tiles_from_records(synthetic_tiles(5000, seed=4))


@pytest.fixture(scope="module")
def edited(loaded) -> gpd.GeoDataFrame:
    """Retimed, moved, a read-only edit, three dropped and one new row."""
    frame = loaded.copy()
    frame.attrs = loaded.attrs
    ids = frame.index
    frame.loc[ids[[3, 1200, 4100]], "sensing_time"] += pd.Timedelta(hours=1)
    frame.loc[ids[2600], "geometry"] = shapely.affinity.translate(
        frame.geometry.loc[ids[2600]], 0.001
    )
    frame.loc[ids[777], "path"] = "elsewhere/(BAND).tif"
    frame = frame.drop(index=ids[[10, 2000, 4999]])
    new = frame.iloc[[5]].drop(columns="loaded").reset_index(drop=True)
    new["path"] = "new/(BAND).tif"
    return pd.concat([frame, new])


def comparable(table: pd.DataFrame) -> list[tuple]:
    """Rows as sortable tuples; NaT as None (pandas reads a column of times and None,
    as in a small table, as datetimes and NaT)."""
    rows = []
    for row in table.itertuples(index=False):
        values = tuple(
            v.wkb if isinstance(v, shapely.Geometry) else None if v is pd.NaT else v
            for v in (row.id, row.field, row.old, row.new, row.action)
        )
        rows.append(values)
    return sorted(rows, key=repr)


@pytest.mark.parametrize("by", ["id", "sensing_time"])
def test_same_changes_as_in_memory(loaded, edited, tmp_path, by):
    write_partitions(edited, tmp_path, by=by, partitions=4)
    with dask.config.set(scheduler="sync"):
        got = partitioned_changes(tmp_path, deleted=True, loaded_ids=loaded.index)
    want = byocframe.changes(edited, deleted=True)
    assert len(want) == 11  # 3 retimed, 1 moved, 1 read-only, 3 deleted, 1 new (3 fields)
    assert comparable(got) == comparable(want)
    # partitions in order, then the deletions in the order they were loaded
    assert got["partition"].tolist() == sorted(got["partition"], key=lambda p: (p < 0, p))
    gone = got[got["action"] == "delete"]["id"].tolist()
    assert gone == [i for i in loaded.index if i in set(gone)]


def test_each_partition_keeps_its_row_order(loaded, edited, tmp_path):
    write_partitions(edited, tmp_path, partitions=3)
    frame = read_partitions(tmp_path)
    with dask.config.set(scheduler="threads"):
        got = partitioned_changes(tmp_path)
        parts = [restore_columns(frame.get_partition(i).compute()) for i in range(3)]
    for number, part in enumerate(parts):
        mine = got[got["partition"] == number].drop(columns="partition").reset_index(drop=True)
        assert comparable(mine) == comparable(byocframe.changes(part))
        assert mine["id"].tolist() == byocframe.changes(part)["id"].tolist()


def test_a_tile_in_two_partitions_is_refused_by_id(loaded, tmp_path):
    twice = loaded.index[99]
    first = loaded.iloc[:100]
    second = loaded.iloc[99:200].copy()
    second.loc[twice, "sensing_time"] += pd.Timedelta(hours=1)  # edited in one of them
    byocframe.write_file(first, tmp_path / "part.0.parquet")
    byocframe.write_file(second, tmp_path / "part.1.parquet")
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(byocframe.ValidationError, match=f"tile '{twice}' is in partitions 0 and 1:"),
    ):
        partitioned_changes(tmp_path)


def test_deletions_need_the_loaded_ids(edited, tmp_path):
    write_partitions(edited, tmp_path, partitions=2)
    with pytest.raises(byocframe.ValidationError, match="needs loaded_ids="):
        partitioned_changes(tmp_path, deleted=True)


def test_loaded_ids_as_a_dask_series(loaded, edited, tmp_path):
    import dask.dataframe as dd

    write_partitions(edited, tmp_path, partitions=2)
    ids = dd.from_pandas(pd.Series(loaded.index.to_numpy(dtype=object)), npartitions=3)
    with dask.config.set(scheduler="sync"):
        got = partitioned_changes(tmp_path, deleted=True, loaded_ids=ids)
    gone = got[got["action"] == "delete"]["id"].tolist()
    assert gone == [i for i in loaded.index if i not in set(edited.index)]  # in load order


def test_nothing_edited_is_an_empty_table(loaded, tmp_path):
    write_partitions(loaded, tmp_path, partitions=3)
    with dask.config.set(scheduler="sync"):
        got = partitioned_changes(tmp_path, deleted=True, loaded_ids=loaded.index)
    assert got.empty
    assert list(got.columns) == ["id", "field", "old", "new", "action", "partition"]


def test_id_findings_on_its_own():
    ids = pd.DataFrame(
        {"id": ["a", "a", "a", "b", "c", "c"], "partition": [0, 3, -1, -1, 1, -1]}
    ).assign(position=[0, 0, 0, 5, 0, 2])
    found = id_findings(ids)
    assert found.to_dict("records") == [
        {"id": "a", "finding": "repeated", "first": 0, "second": 3, "position": 0},
        {"id": "b", "finding": "deleted", "first": -1, "second": -1, "position": 5},
    ]


def test_write_partitions_by_id_puts_each_row_in_one_file(loaded, tmp_path):
    paths = write_partitions(loaded, tmp_path, partitions=5)
    parts = [byocframe.read_file(p) for p in paths]
    assert sum(map(len, parts)) == len(loaded)
    assert sorted(np.concatenate([p.index.to_numpy() for p in parts])) == sorted(loaded.index)
    assert min(map(len, parts)) > 800  # a hash spreads them
    with pytest.raises(ValueError, match="partitions must be a positive int"):
        write_partitions(loaded, tmp_path, partitions=0)
