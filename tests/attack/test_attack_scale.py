"""Attacks on the partitioned (dask) path: deletions planned wrongly, edits unseen.

Branch ``attack10`` (tests/attack/FINDINGS.md, findings 80 on). `byocframe.scale`
plans the changes of a folder of GeoParquet partitions (`partitioned_changes`,
`partitioned_plan`) from the manifest `write_partitions` keeps beside them
(``_loaded_ids.parquet``: the ids as loaded and the names of the files written). A test
marked ``xfail(strict=True)`` pins a defect open today (its reason names the finding);
it must lose its mark once fixed. Unmarked tests show what holds, including the
everyday flow the guards must not refuse. Loopback only (the embedded service), dask's
synchronous scheduler, tens of tiles.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

import byocframe
from byocframe.exceptions import ValidationError
from byocframe.frame.synthetic import synthetic_tiles

dask = pytest.importorskip("dask")
partitioned = pytest.importorskip("byocframe.scale.partitioned")

partitioned_changes = partitioned.partitioned_changes
partitioned_plan = partitioned.partitioned_plan
write_partitions = partitioned.write_partitions

#: The demo collection's June tiles (a filtered load: ``whole`` False).
JUNE = ("2024-06-01", "2024-06-30")


@pytest.fixture(autouse=True)
def sync_scheduler() -> Any:
    with dask.config.set(scheduler="sync"):
        yield


@pytest.fixture
def service() -> Any:
    with byocframe.local_service(demo=True, demo_tiles=40) as svc:
        yield svc


def deletes(table: pd.DataFrame) -> set[str]:
    return set(table.loc[table["action"] == "delete", "id"])


def updates(table: pd.DataFrame) -> set[str]:
    return set(table.loc[table["action"] == "update", "id"])


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def two_months(n: int = 30) -> gpd.GeoDataFrame:
    """A whole synthetic load of ``n`` tiles, half in June, half in July."""
    return byocframe.tiles_from_records(
        synthetic_tiles(n, seed=3, dates=("2024-06-10", "2024-07-10"), polar=False)
    )


#: Run in a child process: `write_partitions` of a frame read from a file, killed
#: with SIGKILL at a chosen point (before its file number ``after`` is written, or,
#: with ``after`` -1, once every partition file is written and before the manifest).
_KILLED_WRITE = textwrap.dedent(
    """
    import os, signal, sys
    import byocframe
    import byocframe.scale.dataset as dataset

    frame = byocframe.read_file(sys.argv[1])
    after = int(sys.argv[3])
    written = []
    real_write = dataset.write_file

    def write_file(part, path):
        if len(written) == after:
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(part, path)
        written.append(path)

    def write_manifest(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    dataset.write_file = write_file
    dataset.write_manifest = write_manifest
    dataset.write_partitions(frame, sys.argv[2], partitions=int(sys.argv[4]))
    """
)


def killed_write(frame: gpd.GeoDataFrame, where: Path, *, after: int, partitions: int) -> None:
    """`write_partitions(frame, where)` in a child process killed by SIGKILL midway."""
    source = where.parent / f"{where.name}-frame.parquet"
    byocframe.write_file(frame, source)
    root = Path(byocframe.__file__).resolve().parents[1]  # this checkout, not another
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITE, str(source), str(where), str(after), str(partitions)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]


# --- 80. a partition file of an older load: the tiles created since are deleted ---


def test_a_partition_of_an_older_load_plans_no_deletion_of_newer_tiles(service, tmp_path):
    client, cid = service.client(), service.demo_collection
    before = byocframe.read_tiles(client, cid)
    old = folder(tmp_path, "last-week")
    write_partitions(before, old, partitions=3)  # kept as a backup copy
    for i in range(6):  # the collection grows, as collections do
        client.create_tile(
            cid, {"path": f"new/{i}/(BAND).tif", "sensingTime": "2024-06-05T00:00:00Z"}
        )
    now = byocframe.read_tiles(client, cid)
    created = set(now.index) - set(before.index)
    assert len(created) == 6
    here = folder(tmp_path, "partitions")
    files = write_partitions(now, here, partitions=3)
    # the file holding a created tile is restored from last week's copy
    hit = next(f for f in files if set(byocframe.read_file(f).index) & created)
    shutil.copy(old / hit.name, hit)
    try:
        found = partitioned_changes(here, deleted=True)
    except ValidationError:
        return  # refused: fine
    assert not deletes(found) & created  # today: the created tiles of that file


# --- 81, 82. write_partitions killed midway (SIGKILL in a child process) ---


def test_a_write_killed_before_its_manifest_plans_no_deletion_from_the_old_one(service, tmp_path):
    client, cid = service.client(), service.demo_collection
    whole = byocframe.read_tiles(client, cid)
    here = folder(tmp_path, "partitions")
    write_partitions(whole, here, partitions=3)  # an earlier run, of the whole collection
    june = byocframe.read_tiles(client, cid, datetime=JUNE)  # today's load: June only
    june.loc[june.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    killed_write(june, here, after=-1, partitions=3)  # every file written, then killed
    outside = set(whole.index) - set(june.index)
    assert len(outside) >= 10
    try:
        found = partitioned_changes(here, deleted=True)
    except ValidationError:
        return  # refused: fine
    assert not deletes(found) & outside  # today: every tile outside June


def test_a_write_killed_after_its_first_file_plans_no_deletion(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    killed_write(gdf, here, after=1, partitions=3)
    assert sorted(p.name for p in here.glob("*.parquet")) == ["part.00000.parquet"]
    kept = set(byocframe.read_file(here / "part.00000.parquet").index)
    try:
        # loaded_ids= as the docstring says: gdf.index right after read_tiles
        found = partitioned_changes(here, deleted=True, loaded_ids=gdf.index)
    except ValidationError:
        return  # refused: fine
    assert not deletes(found), len(set(gdf.index) - kept)  # today: 2/3 of the tiles


def test_a_write_killed_after_its_first_file_is_refused_without_loaded_ids(tmp_path):
    """Held: a fresh folder whose write was killed has no manifest; deleted=True refuses."""
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    killed_write(gdf, here, after=1, partitions=3)
    # since finding 82's fix the files' own write marks refuse it first, naming the cause
    with pytest.raises(ValidationError, match=r"loaded_ids=|stopped before its _loaded_ids"):
        partitioned_changes(here, deleted=True)


def test_a_write_killed_over_the_same_load_plans_no_deletion(tmp_path):
    """Held: killed after one file over a folder of the same load: the old manifest's ids
    are this load's, so the mixed folder (one new file, two old ones) plans no deletion;
    it plans the new file's edits only (a refusal would do as well)."""
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    write_partitions(gdf, here, partitions=3)
    edited = gdf.copy()
    edited.loc[edited.index, "sensing_time"] += pd.Timedelta(minutes=5)
    killed_write(edited, here, after=1, partitions=3)
    try:
        found = partitioned_changes(here, deleted=True)
    except ValidationError:
        return  # refused: fine
    assert not deletes(found)
    first = set(byocframe.read_file(here / "part.00000.parquet").index)
    assert updates(found) == first  # only the file written before the kill


# --- 83. files of an earlier write stay in the folder and are read as partitions ---


def test_rewriting_with_fewer_files_hides_no_deletion(tmp_path):
    gdf = two_months()
    july = gdf.index[gdf["sensing_time"] >= pd.Timestamp("2024-07-01", tz="UTC")]
    assert 0 < len(july) < len(gdf)
    here = folder(tmp_path, "partitions")
    edited = gdf.copy()
    edited.loc[july[0], "sensing_time"] += pd.Timedelta(hours=2)
    assert len(write_partitions(edited, here, by="month")) == 2  # work saved: June, July
    dropped = edited.drop(index=july)  # then: July goes, every tile of it
    assert [p.name for p in write_partitions(dropped, here, by="month")] == ["part.00000.parquet"]
    try:
        found = partitioned_changes(here, deleted=True)
    except ValidationError:
        return  # refused: fine
    # today: no deletion at all, and the stale retime of a dropped tile as an update
    assert deletes(found) == set(july)
    assert not updates(found)


def test_a_month_emptied_by_hand_plans_its_deletions(tmp_path):
    """Held (the control of 83): the design's way, a partition file kept without rows."""
    gdf = two_months()
    july = gdf.index[gdf["sensing_time"] >= pd.Timestamp("2024-07-01", tz="UTC")]
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, by="month")
    part = byocframe.read_file(files[1])
    assert set(part.index) == set(july)
    byocframe.write_file(part.iloc[:0], files[1])
    found = partitioned_changes(here, deleted=True)
    assert found["id"].tolist() == [i for i in gdf.index if i in set(july)]
    assert set(found["action"]) == {"delete"}


# --- 84. loaded_ids= of a wider load ---


def test_loaded_ids_of_a_wider_load_plan_no_deletion(service, tmp_path):
    client, cid = service.client(), service.demo_collection
    whole = byocframe.read_tiles(client, cid)
    june = byocframe.read_tiles(client, cid, datetime=JUNE)
    here = folder(tmp_path, "partitions")
    write_partitions(june, here, partitions=3)
    outside = set(whole.index) - set(june.index)
    try:
        found = partitioned_changes(here, deleted=True, loaded_ids=whole.index)
    except ValidationError:
        return  # refused: fine
    assert not deletes(found) & outside  # today: every tile outside June


def test_a_filtered_load_plans_deletions_only_inside_its_filter(service, tmp_path):
    """Held: a datetime-filtered load written as partitions (its manifest keeps the
    filtered load's ids); two dropped tiles are the only deletions, in load order."""
    client, cid = service.client(), service.demo_collection
    june = byocframe.read_tiles(client, cid, datetime=JUNE)
    assert june.attrs["byocframe"]["whole"] is False
    here = folder(tmp_path, "partitions")
    files = write_partitions(june, here, partitions=3)
    gone = []
    for f in files[:2]:  # one tile dropped from each of two partition files
        part = byocframe.read_file(f)
        gone.append(part.index[0])
        byocframe.write_file(part.drop(index=part.index[0]), f)
    found = partitioned_changes(here, deleted=True)
    assert found["id"].tolist() == [i for i in june.index if i in set(gone)]
    assert set(found["action"]) == {"delete"}


# --- 85. a partition rewritten by another tool, or cut short: refused, but not by name ---


def _pandas_rewrite(path: Path) -> None:
    pd.read_parquet(path).to_parquet(path)  # pandas: the geo metadata is gone


def _cut_short(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _no_index(path: Path) -> None:
    gpd.read_parquet(path).to_parquet(path, index=False)  # the tile ids are dropped


def _extra_column(path: Path) -> None:
    gpd.read_parquet(path).assign(note="checked").to_parquet(path)


@pytest.mark.parametrize(
    ("spoil", "which"),
    [(_pandas_rewrite, 1), (_cut_short, 2), (_no_index, 1), (_extra_column, 0)],
    ids=["pandas-rewrite", "cut-short", "no-index", "extra-column-in-first"],
)
def test_a_spoilt_partition_file_is_refused_by_name(spoil, which, tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    spoil(files[which])
    with pytest.raises(ValidationError, match=files[which].name):
        partitioned_plan(here, deleted=True)


def test_a_partition_rewritten_by_geopandas_plans_its_edits(tmp_path):
    """Held: edited with geopandas itself (read_parquet, to_parquet), a partition keeps
    its ids and tokens: the retime and the dropped row are planned, nothing else."""
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    part = gpd.read_parquet(files[1])
    retimed, dropped = part.index[0], part.index[1]
    part.loc[retimed, "sensing_time"] += pd.Timedelta(hours=1)
    part.drop(index=dropped).to_parquet(files[1])
    found = partitioned_changes(here, deleted=True)
    assert found[["id", "field", "action"]].values.tolist() == [
        [retimed, "sensing_time", "update"],
        [dropped, "tile", "delete"],
    ]


def test_a_glob_of_the_folder_plans_as_the_folder(tmp_path):
    """85 too: read_partitions takes "a folder (or glob)"; only a folder leaves out the
    ``_`` files, so ``folder/*.parquet`` reads ``_loaded_ids.parquet`` as a partition."""
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    write_partitions(gdf, here, partitions=3)
    try:
        found = partitioned_changes(str(here / "*.parquet"))
    except ValidationError:
        return  # refused by name: fine
    assert found.empty


# --- 86. a loaded id given twice is deleted twice ---


def test_a_repeated_loaded_id_is_one_deletion(tmp_path):
    gdf = two_months()
    gone = gdf.index[3]
    here = folder(tmp_path, "partitions")
    write_partitions(gdf.drop(index=gone), here, partitions=3)
    ids = [*gdf.index, gone]  # e.g. the indexes of two overlapping reads, concatenated
    try:
        found = partitioned_changes(here, deleted=True, loaded_ids=ids)
    except ValidationError:
        return  # refused: fine
    assert found["id"].tolist() == [gone]  # today: [gone, gone]


# --- what holds: rows moved, repeated, mixed; read-only edits; the guide's flow ---


def test_a_row_moved_to_another_partition_is_no_edit(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    first, second = byocframe.read_file(files[0]), byocframe.read_file(files[1])
    moved = first.index[0]
    byocframe.write_file(first.drop(index=moved), files[0])
    byocframe.write_file(pd.concat([second, first.loc[[moved]]]), files[1])
    found = partitioned_changes(here, deleted=True)
    assert found.empty


def test_a_partition_file_copied_within_the_folder_is_refused(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    shutil.copy(files[2], here / "part.00002-copy.parquet")
    # since finding 83's fix a file the manifest does not list is refused by name first
    with pytest.raises(ValidationError, match=r"one partition only|copy\.parquet: holds loaded"):
        partitioned_changes(here, deleted=True)


def test_one_tile_with_different_edits_in_two_partitions_is_refused(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    first, second = byocframe.read_file(files[0]), byocframe.read_file(files[1])
    twin = first.loc[[first.index[0]]].copy()
    twin["sensing_time"] += pd.Timedelta(hours=5)
    first.loc[first.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(first, files[0])
    byocframe.write_file(pd.concat([second, twin]), files[1])
    for deleted in (False, True):
        with pytest.raises(ValidationError, match=str(first.index[0])):
            partitioned_plan(here, deleted=deleted)


def test_partitions_of_two_collections_are_refused(service, tmp_path):
    client, cid = service.client(), service.demo_collection
    other = client.create_collection({"name": "other", "s3Bucket": "other-bucket"})["id"]
    client.create_tile(other, {"path": "o/(BAND).tif", "sensingTime": "2024-06-05T00:00:00Z"})
    mine, theirs = byocframe.read_tiles(client, cid), byocframe.read_tiles(client, other)
    here = folder(tmp_path, "partitions")
    files = write_partitions(mine, here, partitions=2)
    part = byocframe.read_file(files[1])
    mixed = pd.concat([part, theirs])  # one partition holding rows of both
    byocframe.write_file(mixed, files[1])
    with pytest.raises(ValidationError, match="collections"):
        partitioned_changes(here)
    byocframe.write_file(part, files[1])
    byocframe.write_file(theirs, here / "part.00002.parquet")  # a partition of its own
    # since finding 83's fix: refused as a file the manifest does not list, by name
    with pytest.raises(ValidationError, match=r"collections|00002\.parquet: holds loaded"):
        partitioned_changes(here)


def test_a_read_only_edit_in_a_partition_is_listed_and_refused(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    part = byocframe.read_file(files[2])
    tid = part.index[0]
    part.loc[tid, "native_crs"] = (
        "EPSG:32633" if part.loc[tid, "native_crs"] != "EPSG:32633" else "EPSG:32634"
    )
    byocframe.write_file(part, files[2])
    found = partitioned_plan(here, deleted=True)
    assert found.changes[["id", "field", "action"]].values.tolist() == [
        [tid, "native_crs", "read-only"]
    ]
    with pytest.raises(ValidationError, match="cannot be pushed"):
        found.check()


def test_a_manifest_cut_short_is_refused(tmp_path):
    """Held: a manifest killed while written (not atomic) is refused, not read as empty."""
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    write_partitions(gdf, here, partitions=3)
    _cut_short(here / "_loaded_ids.parquet")
    with pytest.raises(ValidationError, match="not a partition manifest"):
        partitioned_changes(here, deleted=True)


def test_the_guides_flow_edited_partition_by_partition_then_pushed(service, tmp_path):
    """Held: docs/guide/coverage.md's flow (by month), each partition edited with pandas
    through read_file / write_file (a retime, a dropped tile, a month emptied), planned
    with partitioned_plan and pushed; the server ends as planned, no other tile moves."""
    client, cid = service.client(), service.demo_collection
    gdf = byocframe.read_tiles(client, cid)
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, by="month")
    assert len(files) == 2
    june, july = byocframe.read_file(files[0]), byocframe.read_file(files[1])
    retimed, dropped = june.index[0], june.index[1]
    june.loc[retimed, "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(june.drop(index=dropped), files[0])
    byocframe.write_file(july.iloc[:0], files[1])  # every July tile goes
    found = partitioned_plan(here, deleted=True)
    found.check()
    gone = {dropped, *july.index}
    assert updates(found.changes) == {retimed}
    assert deletes(found.changes) == gone
    # the push: the partitions' updates, and the plan's deletions, through push
    edited = pd.concat([byocframe.read_file(f) for f in files])
    result = byocframe.push(
        edited, client, delete_missing=True, original=gdf, delete_only=deletes(found.changes)
    )
    assert set(result.index[result["action"] == "delete"]) == gone
    assert set(result["outcome"]) == {"ok"}
    after = byocframe.read_tiles(client, cid)
    assert set(after.index) == set(gdf.index) - gone
    moved = after.loc[retimed, "sensing_time"] - gdf.loc[retimed, "sensing_time"]
    assert moved == pd.Timedelta(hours=1)
    kept = sorted(set(after.index) - {retimed})
    assert after.loc[kept, "sensing_time"].equals(gdf.loc[kept, "sensing_time"])


def test_a_partition_pushed_on_its_own_deletes_nothing(service, tmp_path):
    """Held: one partition file pushed with delete_missing is refused (it keeps no
    loaded ids), so it never deletes the other partitions' tiles (finding 6's kind)."""
    client, cid = service.client(), service.demo_collection
    gdf = byocframe.read_tiles(client, cid)
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    part = byocframe.read_file(files[0])
    with pytest.raises(ValidationError, match="original="):
        byocframe.push(part.drop(index=part.index[0]), client, delete_missing=True)
    assert len(byocframe.read_tiles(client, cid)) == len(gdf)


# --- 87. a new row named by the user: deletions refused as "another load's" ---


def test_a_named_new_row_is_a_create_with_deletions(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    part = byocframe.read_file(files[0])
    new = part.iloc[[0]].copy()
    new.index = pd.Index(["my-new-tile"], dtype=object)
    new["loaded"], new["path"] = None, "new/a/(BAND).tif"
    byocframe.write_file(pd.concat([part, new]), files[0])
    whole = pd.concat([gdf, new])
    whole.attrs = gdf.attrs
    truth = byocframe.changes(whole, deleted=True)  # in memory: a create, no refusal
    assert set(truth["action"]) == {"create"}
    found = partitioned_changes(here, deleted=True)  # today: ValidationError
    assert found[["field", "action"]].values.tolist() == truth[["field", "action"]].values.tolist()


# --- 88. pushing a partitioned plan: a partition pushed on its own ---


def test_a_partition_pushed_on_its_own_leaves_the_dataset_plannable(service, tmp_path):
    client, cid = service.client(), service.demo_collection
    gdf = byocframe.read_tiles(client, cid)
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    part = byocframe.read_file(files[0])
    part.loc[part.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    new = part.iloc[[0]].copy()
    new.index = pd.Index([None], dtype=object)
    new["loaded"], new["path"] = None, "new/a/(BAND).tif"
    part = pd.concat([part, new])
    pushed = byocframe.push(part, client)  # updates and creates: the per-partition route
    assert sorted(pushed["outcome"]) == ["ok", "ok"]
    byocframe.write_file(part, files[0])  # the row took its new id; kept, as push asks
    assert partitioned_changes(here).empty
    found = partitioned_changes(here, deleted=True)  # today: "another load's"
    assert found.empty


# --- 89. refusals name dask's partition numbers, not the files ---


def test_a_tile_in_two_files_is_refused_naming_both_files(tmp_path):
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    copy = here / "part.00002-copy.parquet"  # sorts before part.00002.parquet
    shutil.copy(files[2], copy)
    with pytest.raises(ValidationError) as refused:
        partitioned_changes(here)
    # today: "is in partitions 2 and 3": there is no part.00003, and 2 is the copy
    assert copy.name in str(refused.value)
    assert files[2].name in str(refused.value)


# --- 90. partitions are planned without their files' drawing settings ---


def test_a_to_crs_round_trip_of_a_densified_load_is_no_edit(tmp_path):
    gdf = byocframe.tiles_from_records(synthetic_tiles(40, seed=5), densify=20_000.0)
    here = folder(tmp_path, "partitions")
    files = write_partitions(gdf, here, partitions=3)
    for f in files:  # e.g. areas measured in metres, then back: no edit meant
        part = byocframe.read_file(f)
        byocframe.write_file(part.to_crs("EPSG:3857").to_crs("EPSG:4326"), f)
    # the same files in memory: nothing edited, by the file's own settings
    again = pd.concat([byocframe.read_file(f) for f in files])
    assert byocframe.changes(again, original=gdf, deleted=True).empty
    assert all(byocframe.changes(byocframe.read_file(f)).empty for f in files)
    found = partitioned_plan(here, deleted=True)
    assert found.changes.empty  # today: 40 of 40 covers as geometry updates
    assert not found.problems


def test_a_densified_load_unedited_is_no_edit(tmp_path):
    """Held (the control of 90): the same load written and planned untouched."""
    gdf = byocframe.tiles_from_records(synthetic_tiles(40, seed=5), densify=20_000.0)
    here = folder(tmp_path, "partitions")
    write_partitions(gdf, here, partitions=3)
    found = partitioned_plan(here, deleted=True)
    assert found.changes.empty
    assert not found.problems


def test_files_of_two_writes_without_a_manifest_are_refused(tmp_path):
    """Held (82's fix, its other branch): a folder holding files of two write_partitions
    calls and no manifest is refused by name before anything is planned, with or without
    deletions; one write's files alone plan as before."""
    gdf = two_months()
    here = folder(tmp_path, "partitions")
    write_partitions(gdf, here, partitions=3)  # part.00000-00002
    write_partitions(gdf, here, partitions=2)  # rewrites 00000-00001; 00002 is the first's
    (here / "_loaded_ids.parquet").unlink()
    for deleted in (False, True):
        with pytest.raises(ValidationError, match=r"come from 2 write_partitions calls"):
            partitioned_changes(here, deleted=deleted, loaded_ids=gdf.index if deleted else None)
    (here / "part.00002.parquet").unlink()
    assert partitioned_changes(here, deleted=True, loaded_ids=gdf.index).empty
