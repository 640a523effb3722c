"""changes() of a partitioned dataset (dask) against `byocframe.changes` of the whole frame."""

from __future__ import annotations

import re

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.edits.diff import plan
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.io.geoparquet_read import restore_columns
from byocframe.scale.partitioned import (
    id_findings,
    partitioned_changes,
    partitioned_plan,
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
    named = rf"tile '{twice}' is in files part\.0\.parquet and part\.1\.parquet:"
    with (
        dask.config.set(scheduler="sync"),
        pytest.raises(byocframe.ValidationError, match=named),
    ):
        partitioned_changes(tmp_path)


def test_deletions_read_the_loaded_ids_that_write_partitions_keeps(loaded, edited, tmp_path):
    write_partitions(edited, tmp_path, partitions=3)
    with dask.config.set(scheduler="sync"):
        got = partitioned_changes(tmp_path, deleted=True)
        given = partitioned_changes(tmp_path, deleted=True, loaded_ids=loaded.index)
    assert got.equals(given)
    want = byocframe.changes(edited, deleted=True)
    assert comparable(got) == comparable(want)
    gone = got[got["action"] == "delete"]["id"].tolist()
    assert gone == [i for i in loaded.index if i not in set(edited.index)]  # in load order


def test_a_partition_on_its_own_plans_no_deletion_of_the_others(edited, tmp_path):
    """Each file used to carry every loaded id: one partition read back saw all others'
    tiles as deleted."""
    paths = write_partitions(edited, tmp_path, partitions=3)
    part = byocframe.read_file(paths[0])
    assert len(part) < len(edited)
    with pytest.raises(byocframe.ValidationError, match="no longer lists the ids that were"):
        byocframe.changes(part, deleted=True)


def test_deletions_without_recoverable_ids_are_refused(loaded, edited, tmp_path):
    # a dask frame carries no manifest
    frame = read_partitions(write_partitions(edited, tmp_path, partitions=2)[0].parent)
    with pytest.raises(byocframe.ValidationError, match=r"a dask frame keeps none .*loaded_ids="):
        partitioned_changes(frame, deleted=True)
    # a folder written without write_partitions
    by_hand = tmp_path / "by_hand"
    by_hand.mkdir()
    byocframe.write_file(edited, by_hand / "part.0.parquet")
    with pytest.raises(byocframe.ValidationError, match=r"no _loaded_ids\.parquet"):
        partitioned_changes(by_hand, deleted=True)
    # a frame that lost its attrs (or whose ids were edited, unsealed) has no ids to keep
    for name, attrs in [("lost", {}), ("edited", None)]:
        frame = edited.copy()
        if attrs is None:
            settings = dict(loaded.attrs["byocframe"])
            settings["loaded_ids"] = settings["loaded_ids"].replace(loaded.index[0], "x")
            frame.attrs = {"byocframe": settings}
        else:
            frame.attrs = attrs
        folder = tmp_path / name
        folder.mkdir()
        write_partitions(frame, folder, partitions=2)
        with pytest.raises(byocframe.ValidationError, match=r"holds none .*pass loaded_ids="):
            partitioned_changes(folder, deleted=True)


def test_a_dataset_missing_a_partition_file_plans_no_deletion(loaded, edited, tmp_path):
    paths = write_partitions(edited, tmp_path, partitions=3)
    paths[1].unlink()  # its tiles would all look deleted
    message = r"1 of the 3 partition files written are missing \(part.00001.parquet\)"
    for ids in (None, loaded.index):  # given ids do not make a partial dataset whole
        with (
            dask.config.set(scheduler="sync"),
            pytest.raises(byocframe.ValidationError, match=message),
        ):
            partitioned_changes(tmp_path, deleted=True, loaded_ids=ids)
    with dask.config.set(scheduler="sync"):  # without deletions there is nothing to refuse
        assert "delete" not in set(partitioned_changes(tmp_path)["action"])


def test_a_manifest_cut_short_is_refused(edited, tmp_path):
    import pyarrow.parquet as pq

    from byocframe.scale.manifest import MANIFEST

    write_partitions(edited, tmp_path, partitions=2)
    table = pq.read_table(tmp_path / MANIFEST)
    pq.write_table(table.slice(0, 10), tmp_path / MANIFEST)  # keeps its metadata
    with pytest.raises(byocframe.ValidationError, match="lists 5000 loaded ids but holds 10"):
        partitioned_changes(tmp_path, deleted=True)


def test_repeated_new_paths_are_found_across_partitions_as_in_one_frame(loaded, tmp_path):
    """Two new rows with one path in two partitions, a new row with a loaded row's path in
    another partition, and with a loaded row's edited path: the problems `plan` finds in
    the frame of all partitions, row for row."""
    base = loaded.iloc[:300].copy()
    base.attrs = loaded.attrs
    base.loc[base.index[5], "path"] = "moved/(BAND).tif"  # read-only edit
    new = base.iloc[[1, 2, 3, 4, 6]].reset_index(drop=True)
    new["loaded"] = None
    new["path"] = [
        "dup/(BAND).tif",  # first of two: fine
        base["path"].iloc[250],  # a loaded row's (partition 2)
        None,  # no path
        "dup/(BAND).tif",  # the second: refused
        "moved/(BAND).tif",  # the edited path of a loaded row (partition 0)
    ]
    parts = [
        pd.concat([base.iloc[:100], new.iloc[[0]]]),
        pd.concat([base.iloc[100:200], new.iloc[[1, 2]]]),
        pd.concat([base.iloc[200:], new.iloc[[3, 4]]]),
    ]
    for number, part in enumerate(parts):
        byocframe.write_file(part, tmp_path / f"part.{number}.parquet")
    whole = pd.concat(parts)
    whole.attrs = loaded.attrs
    with dask.config.set(scheduler="sync"):
        found = partitioned_plan(tmp_path)
        table = partitioned_changes(tmp_path)
    truth = plan(whole)
    starts = np.cumsum([0] + [len(p) for p in parts])

    def local(text: str) -> str:  # "new row G" of the whole frame -> "new row r of partition p"
        head = re.match(r"new row (\d+)", text)
        if not head:
            return text
        at = int(head.group(1))
        number = int(np.searchsorted(starts, at, side="right") - 1)
        return f"new row {at - starts[number]} of partition {number}{text[head.end() :]}"

    want = [(p["id"], p["field"], p["value"], local(p["problem"])) for p in truth.problems]
    got = [(p["id"], p["field"], p["value"], p["problem"]) for p in found.problems]
    assert len(want) == 5  # read-only edit, a loaded path, no path, repeated, an edited path
    assert sum("another row has the path" in w[3] for w in want) == 3
    assert got == want
    assert [p["partition"] for p in found.problems] == [0, 1, 1, 2, 2]
    assert comparable(found.changes) == comparable(truth.changes)
    assert table.equals(found.changes)  # changes() lists them, as one frame's does
    with pytest.raises(byocframe.ValidationError, match="another row has the path 'dup/"):
        found.check()


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


def test_each_partitions_tokens_are_decoded_once(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan of a partition says its loads too: no second pass over its tokens."""
    import sys

    from byocframe.frame import tokens

    decoded: list[int] = []
    decode = tokens.loaded_state

    def counted(frame: pd.DataFrame) -> object:
        decoded.append(len(frame))
        return decode(frame)

    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("byocframe") and (
            getattr(module, "loaded_state", None) is decode
        ):
            monkeypatch.setattr(module, "loaded_state", counted)
    with dask.config.set(scheduler="sync"):
        write_partitions(
            byocframe.tiles_from_records(synthetic_tiles(600, seed=5)), tmp_path, partitions=3
        )
        decoded.clear()
        found = partitioned_plan(tmp_path, deleted=True)
    assert found.changes.empty
    decoded = [n for n in decoded if n]  # dask may try a partition's empty head
    assert len(decoded) == 3  # one pass a partition
    assert sum(decoded) == 600
