"""Attacks on deletion planning: ids of one load, rows of another.

Each test documented one defect (branch ``attack``); all are fixed: they are regression tests now.
"""

from __future__ import annotations

import contextlib

import byocframe
from byocframe.frame.synthetic import synthetic_tiles


def test_original_of_another_load_plans_no_deletion():
    records = synthetic_tiles(10, seed=1)
    whole = byocframe.tiles_from_records(records)
    # a second load of part of the collection (as read_tiles(bbox=...) gives), not edited
    part = byocframe.tiles_from_records(records[:6])
    assert byocframe.changes(part, deleted=True).empty  # on its own: nothing to delete
    try:
        found = byocframe.changes(part, original=whole, deleted=True)
    except byocframe.ValidationError:
        return  # refused: fine
    assert found.empty  # today: 4 deletions, the tiles the second load never held


def test_original_of_the_same_load_still_finds_dropped_rows():
    """Held (and the behaviour a fix must keep): original= of the same load."""
    whole = byocframe.tiles_from_records(synthetic_tiles(10, seed=1))
    dropped = whole.drop(index=whole.index[:2])
    dropped.attrs = {}  # lost, e.g. by pd.concat
    found = byocframe.changes(dropped, original=whole, deleted=True)
    assert sorted(found["id"]) == sorted(whole.index[:2])
    assert set(found["action"]) == {"delete"}


def test_a_filtered_file_without_tokens_plans_no_deletion_outside_its_load(demo_service, tmp_path):
    from byocframe.io.overlay import overlay_edits

    client = demo_service.client()
    cid = demo_service.demo_collection
    failed = byocframe.read_tiles(client, cid, progress=False, status="FAILED")
    columns = ["path", "status", "sensing_time", "geometry"]  # a tidier file for a person
    path = tmp_path / "failed.gpkg"
    byocframe.write_file(failed[columns], path)
    edited = byocframe.read_file(path)
    assert edited.attrs["byocframe"]["whole"] is False  # the file knows it is partial
    frame, original = overlay_edits(client, cid, edited)  # what `byocframe push` does
    try:
        result = byocframe.push(
            frame, client, original=original, delete_missing=True, dry_run=True, collection=cid
        )
    except byocframe.ValidationError:
        return  # refused: fine
    deleted = set(result.index[result["action"] == "delete"])
    assert deleted <= set(failed.index)  # today: 393 deletions, every tile not FAILED


def test_apply_plan_deletes_only_what_the_plan_says(tmp_path):
    from byocframe.bucket.reconcile import apply_plan, reconcile
    from byocframe.emulator.cogs import write_cog

    days = ["2024-06-01", "2024-06-02", "2024-07-01", "2024-07-02"]
    for day in days:
        write_cog(f"{tmp_path}/t/{day}/B01.tif")
    with byocframe.local_service(s3=True) as service:
        service.s3.upload_folder(str(tmp_path), "bkt")
        client = service.client()
        cid = client.create_collection({"name": "d", "s3Bucket": "bkt"})["id"]
        for day in days:
            record = {"path": f"t/{day}/(BAND).tif", "sensingTime": f"{day}T00:00:00Z"}
            client.create_tile(cid, record)
        loaded = byocframe.read_tiles(client, cid, progress=False)
        byocframe.wait_for_ingestion(client, cid, list(loaded.index))
        s3 = service.s3.client()
        s3.delete_object(Bucket="bkt", Key="t/2024-06-02/B01.tif")  # one June file is gone
        tiles = byocframe.read_tiles(client, cid, progress=False)
        june = tiles[tiles["sensing_time"].dt.month == 6]  # reconcile June only
        files = byocframe.read_bucket("s3://bkt/t/", s3=s3, progress=False)
        pattern = r"t/(?P<sensing_time>[\d-]+)/(BAND)\.tif"
        plan = reconcile(june, files, pattern=pattern, delete=True, bands={}, s3_bucket="bkt")
        planned = set(plan.loc[plan["action"] == "delete", "path"])
        assert planned == {"t/2024-06-02/(BAND).tif"}
        apply_plan(plan, june, client, s3=s3, progress=False)
        left = {t["path"] for t in client.iter_tiles(cid)}
    # today: only t/2024-06-01 is left; both July tiles were deleted too
    assert left == {f"t/{day}/(BAND).tif" for day in days} - planned


def test_replacing_a_row_never_leaves_its_path_without_a_tile():
    import pandas as pd

    with byocframe.local_service(demo=True, demo_tiles=20) as service:  # private: written
        client = service.client()
        cid = service.demo_collection
        gdf = byocframe.read_tiles(client, cid, progress=False)
        tid = gdf.index[3]
        path = gdf.loc[tid, "path"]
        again = gdf.loc[[tid]].drop(columns="loaded").reset_index(drop=True)  # a new row
        again["sensing_time"] += pd.Timedelta(hours=1)
        frame = pd.concat([gdf.drop(index=tid), again])
        with contextlib.suppress(byocframe.ValidationError):  # refused before sending: fine
            byocframe.push(frame, client, delete_missing=True, workers=1, progress=False)
        left = [t["id"] for t in client.iter_tiles(cid) if t["path"] == path]
    assert len(left) == 1  # today: none (the create conflicted, the delete went through)
