"""Bulk updates against the local service: changes(), push(), conflicts, faults, resume."""

from __future__ import annotations

import collections

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe import ByocframeWarning, Faults, ValidationError
from byocframe.edits.diff import changes
from byocframe.edits.route import push
from byocframe.frame.records import ATTRS_KEY
from byocframe.frame.seal import loaded_ids


@pytest.fixture
def demo():
    with byocframe.local_service(demo=True, demo_tiles=120) as service:
        yield service


@pytest.fixture
def client(demo):
    return demo.client(backoff=0.01, max_backoff=0.05)


@pytest.fixture
def gdf(demo, client):
    frame = byocframe.read_tiles(client, demo.demo_collection)
    return frame[frame["status"] == "INGESTED"].copy()


def server_tiles(client, demo) -> dict[str, dict]:
    return {t["id"]: t for t in client.iter_tiles(demo.demo_collection)}


class TestChanges:
    def test_nothing_changed(self, gdf):
        assert changes(gdf).empty

    def test_each_kind_of_change(self, gdf):
        ids = gdf.index
        gdf.loc[ids[0], "sensing_time"] += pd.Timedelta(hours=2)
        gdf.loc[ids[1], "geometry"] = gdf.geometry[ids[1]].buffer(-0.05)
        gdf.loc[ids[2], "status"] = "FAILED"
        new = gpd.GeoDataFrame(
            {"path": ["new/(BAND).tif"]}, geometry=[shapely.box(10, 45, 11, 46)], crs=4326
        )
        edited = pd.concat([gdf.drop(index=ids[3]), new])
        # the rows carry what they were loaded as, so concat needs no help...
        assert len(changes(edited)) == 5
        # ...but it drops attrs, which remember the loaded ids that deletions need
        with pytest.raises(ValidationError, match="pass original="):
            changes(edited, deleted=True)
        found = changes(edited, original=gdf, deleted=True)
        actions = collections.Counter(zip(found["field"], found["action"], strict=True))
        assert actions[("sensing_time", "update")] == 1
        assert actions[("geometry", "update")] == 1
        assert actions[("status", "read-only")] == 1
        assert actions[("path", "create")] == 1
        assert actions[("geometry", "create")] == 1
        # deleted = loaded but absent: the dropped row and the rows the fixture filtered out
        assert actions[("tile", "delete")] == len(loaded_ids(gdf)) - len(gdf) + 1

    def test_loaded_state_survives_pandas_operations(self, gdf):
        pieces = [
            gdf[gdf["max_meters_per_pixel"] > 0],
            gdf.sort_values("path"),
            gdf.copy(),
            gdf.assign(extra=1),
            pd.concat([gdf.iloc[:10], gdf.iloc[10:]]),
        ]
        for piece in pieces:
            assert changes(piece).empty
            assert all(
                isinstance(v, str | float | int | type(None))
                for v in piece.attrs[ATTRS_KEY].values()
            )
        sorted_frame = gdf.sort_values("sensing_time")
        sorted_frame.loc[sorted_frame.index[0], "sensing_time"] = pd.NaT
        assert len(changes(sorted_frame)) == 1

    def test_without_loaded_state(self, gdf):
        lost = gdf.drop(columns="loaded")
        with pytest.raises(ValidationError, match="pass original="):
            changes(lost)
        lost.loc[lost.index[0], "sensing_time"] = pd.NaT
        assert len(changes(lost, original=gdf)) == 1


def not_crossing(gdf):
    """A tile that does not cross the antimeridian: the centroid of one that does lies
    half a world from its UTM zone, outside the CRS's area of use (the service refuses)."""
    bounds = gdf.geometry.bounds
    return gdf.index[(bounds["maxx"] - bounds["minx"]) < 10][0]


class TestPush:
    def test_sensing_time_edit_keeps_the_cover(self, gdf, client, demo):
        before = server_tiles(client, demo)
        ids = gdf.index[:5]
        gdf.loc[ids, "sensing_time"] += pd.Timedelta(days=1)
        result = push(gdf, client)
        assert result["outcome"].tolist() == ["ok"] * 5
        after = server_tiles(client, demo)
        for tid in ids:
            old = pd.Timestamp(before[tid]["sensingTime"])
            assert pd.Timestamp(after[tid]["sensingTime"]) == old + pd.Timedelta(days=1)
            old_ring = np.array(before[tid]["coverGeometry"]["coordinates"][0][0])
            new_ring = np.array(after[tid]["coverGeometry"]["coordinates"][0][0])
            np.testing.assert_allclose(new_ring, old_ring, atol=1e-3)
        untouched = gdf.index[5]
        assert after[untouched] == before[untouched]
        assert changes(gdf).empty  # the snapshot now holds what was pushed

    def test_clearing_a_sensing_time(self, gdf, client):
        tid = gdf.index[0]
        gdf.loc[tid, "sensing_time"] = pd.NaT
        cid = gdf.attrs["byocframe"]["collection"]
        with pytest.raises(ValidationError, match="clear_times=True"):
            push(gdf, client)  # a NaT may be a misaligned assignment: asked for by name
        assert "sensingTime" in client.get_tile(cid, tid)
        push(gdf, client, clear_times=True)
        assert "sensingTime" not in client.get_tile(cid, tid)

    def test_geometry_edited_in_wgs84_goes_back_in_the_native_crs(self, gdf, client):
        tid = not_crossing(gdf)
        cid = gdf.attrs["byocframe"]["collection"]
        edit = gdf.geometry[tid].centroid.buffer(0.2, quad_segs=4)
        gdf.loc[tid, "geometry"] = edit
        assert push(gdf, client)["outcome"].tolist() == ["ok"]
        cover = client.get_tile(cid, tid)["coverGeometry"]
        assert (
            cover["crs"]["properties"]["name"]
            == "urn:ogc:def:crs:EPSG::" + (gdf.loc[tid, "native_crs"].split(":")[1])
        )
        native = shapely.geometry.shape(cover)
        expected = gpd.GeoSeries([edit], crs=4326).to_crs(gdf.loc[tid, "native_crs"]).iloc[0]
        assert native.symmetric_difference(expected).area < 1e-3 * expected.area

    def test_more_than_100_points_is_simplified_with_a_warning(self, gdf, client):
        tid = not_crossing(gdf)
        gdf.loc[tid, "geometry"] = gdf.geometry[tid].centroid.buffer(0.3, quad_segs=64)
        with pytest.warns(ByocframeWarning, match="simplified from 257 to"):
            result = push(gdf, client)
        assert result["outcome"].tolist() == ["ok"]

    def test_read_only_edits_are_refused_before_sending(self, gdf, client, demo):
        gdf.loc[gdf.index[0], "status"] = "FAILED"
        gdf.loc[gdf.index[1], "path"] = "elsewhere/(BAND).tif"
        gdf.loc[gdf.index[2], "sensing_time"] += pd.Timedelta(days=1)
        served = demo.requests_served
        with pytest.raises(ValidationError, match=r"(?s)2 edit\(s\).*status.*path") as err:
            push(gdf, client)
        assert {p["field"] for p in err.value.problems} == {"status", "path"}
        assert demo.requests_served == served

    @pytest.mark.parametrize("edits", [1, 40])
    def test_conflict_with_a_second_writer(self, gdf, client, demo, edits):
        cid = gdf.attrs["byocframe"]["collection"]
        tid = gdf.index[0]
        gdf.loc[gdf.index[1:edits], "sensing_time"] += pd.Timedelta(days=2)
        client.update_tile(
            cid,
            tid,
            {
                "sensingTime": "2020-01-01T00:00:00Z",
                "coverGeometry": client.get_tile(cid, tid)["coverGeometry"],
            },
        )
        gdf.loc[tid, "sensing_time"] += pd.Timedelta(days=1)
        result = push(gdf, client)
        assert result.loc[tid, "outcome"] == "conflict"
        assert "2020-01-01" in result.loc[tid, "message"]
        assert (result.drop(index=tid)["outcome"] == "ok").all()
        assert client.get_tile(cid, tid)["sensingTime"].startswith("2020-01-01")
        assert push(gdf, client, force=True).loc[tid, "outcome"] == "ok"

    def test_create_and_delete(self, client, demo):
        gdf = byocframe.read_tiles(client, demo.demo_collection)  # everything, unfiltered
        new = gpd.GeoDataFrame(
            {
                "path": ["new/a/(BAND).tif", "new/b/(BAND).tif"],
                "sensing_time": pd.to_datetime(["2024-08-01T10:00Z", None], utc=True),
            },
            geometry=[shapely.box(10, 45, 11, 46), None],
            crs=4326,
        )
        frame = pd.concat([gdf.drop(index=gdf.index[0]), new])  # concat drops the attrs
        result = push(frame, client, delete_missing=True, original=gdf)
        assert sorted(result["action"]) == ["create", "create", "delete"]
        assert (result["outcome"] == "ok").all()
        created = result[result["action"] == "create"].index
        assert set(created) <= set(frame.index)  # new rows got their server ids
        tiles = server_tiles(client, demo)
        assert gdf.index[0] not in tiles
        assert {tiles[t]["path"] for t in created} == {"new/a/(BAND).tif", "new/b/(BAND).tif"}
        assert changes(frame, deleted=True).empty

    def test_dry_run_sends_nothing(self, gdf, client, demo):
        gdf.loc[gdf.index[:3], "sensing_time"] += pd.Timedelta(days=1)
        served = demo.requests_served
        result = push(gdf, client, dry_run=True)
        assert set(result["outcome"]) == {"would update"}
        assert demo.requests_served == served
        assert len(changes(gdf)) == 3


class TestFaults:
    def test_resume_after_a_partial_failure(self, gdf, client, demo):
        fragile = demo.client(retries=0, backoff=0.01)
        gdf.loc[gdf.index[:40], "sensing_time"] += pd.Timedelta(days=3)
        demo.faults = Faults(error_rate=0.3, seed=2)
        first = push(gdf, fragile, workers=4)
        failed = first[first["outcome"] != "ok"].index
        assert 0 < len(failed) < 40
        demo.faults = None
        second = push(gdf, client)
        assert sorted(second.index) == sorted(failed)
        assert (second["outcome"] == "ok").all()

    def test_creates_under_dropped_connections_never_duplicate(self, gdf, client, demo):
        paths = [f"dropped/{i:03d}/(BAND).tif" for i in range(40)]
        new = gpd.GeoDataFrame({"path": paths}, geometry=[None] * 40, crs=4326)
        frame = pd.concat([gdf, new])
        demo.faults = Faults(drop_rate=0.3, seed=4)
        sturdy = demo.client(retries=10, backoff=0.01, max_backoff=0.05)
        result = push(frame, sturdy, workers=4, original=gdf)
        demo.faults = None
        assert (result["outcome"] == "ok").all()
        found = [
            t["path"]
            for t in client.iter_tiles(demo.demo_collection)
            if t["path"].startswith("dropped/")
        ]
        assert sorted(found) == paths  # each exactly once

    def test_2000_edits_under_faults(self):
        with byocframe.local_service(demo=True, demo_tiles=2100) as service:
            # 12 % of requests fail or drop: 10 retries make a lost edit a 1e-9 event
            client = service.client(retries=10, backoff=0.005, max_backoff=0.02)
            gdf = byocframe.read_tiles(client, service.demo_collection)
            gdf = gdf[gdf["status"] == "INGESTED"].iloc[:2000].copy()
            before = {t["id"]: t for t in client.iter_tiles(service.demo_collection)}
            gdf["sensing_time"] += pd.Timedelta(minutes=7)
            service.faults = Faults(
                error_rate=0.10, throttle_rate=0.05, drop_rate=0.02, retry_after_ms=5, seed=11
            )
            result = push(gdf, client, workers=8)
            service.faults = None
            assert len(result) == 2000
            assert set(result.index) == set(gdf.index)
            assert (result["outcome"] == "ok").all(), result[result["outcome"] != "ok"].to_dict(
                "records"
            )
            after = {t["id"]: t for t in client.iter_tiles(service.demo_collection)}
            for tid in gdf.index:
                shifted = pd.Timestamp(before[tid]["sensingTime"]) + pd.Timedelta(minutes=7)
                assert pd.Timestamp(after[tid]["sensingTime"]) == shifted
                assert after[tid]["path"] == before[tid]["path"]
                assert after[tid]["status"] == before[tid]["status"]
            untouched = set(before) - set(gdf.index)
            assert all(after[t] == before[t] for t in untouched)


def test_reingest_failed_tiles_and_wait(demo, client):
    failed = byocframe.read_tiles(client, demo.demo_collection, status="FAILED")
    assert len(failed) > 0
    missing = {}
    for tid in failed.index:
        cause = failed.loc[tid, "failed_ingestion_cause"]
        key = cause.removeprefix("File ").removesuffix(" not found.")
        path = failed.loc[tid, "path"].replace("(BAND)", "B02")
        missing[key] = demo.store.files("byocframe-demo", path)[path]
    demo.register_files("byocframe-demo", missing)
    result = failed.byoc.reingest(client)
    assert set(result["outcome"]) == {"ok"}
    done = byocframe.wait_for_ingestion(client, demo.demo_collection, failed.index, poll=0.05)
    assert set(done["status"]) == {"INGESTED"}
    assert done.geometry.notna().all()


class TestCollections:
    @pytest.fixture
    def collections(self, demo, client):
        return byocframe.read_collections(client)

    def test_rename_no_data_and_bands(self, demo, client, collections):
        from byocframe.edits.collection_push import push_collections
        from byocframe.frame.records import dumps, loads

        cid = demo.demo_collection
        collections.loc[cid, "name"] = "renamed"
        collections.loc[cid, "no_data"] = 0.0
        extra = loads(collections.loc[cid, "additional_data"])
        extra["bands"]["blue"] = extra["bands"].pop("B02")
        collections.loc[cid, "additional_data"] = dumps(extra)
        result = push_collections(collections, client)
        assert result.loc[cid, "outcome"] == "ok"
        stored = client.get_collection(cid)
        assert stored["name"] == "renamed"
        assert stored["noData"] == 0.0
        assert "blue" in stored["additionalData"]["bands"]
        assert "B02" not in stored["additionalData"]["bands"]
        assert push_collections(collections, client).empty  # nothing left

    def test_read_only_and_conflicts(self, demo, client, collections):
        from byocframe.edits.collection_push import push_collections

        cid = demo.demo_collection
        edited = collections.copy()
        edited.loc[cid, "s3_bucket"] = "another-bucket"
        with pytest.raises(ValidationError, match="s3_bucket: read-only field edited"):
            push_collections(edited, client)
        client.update_collection(cid, {"name": "someone else", "s3Bucket": "byocframe-demo"})
        collections.loc[cid, "name"] = "mine"
        assert push_collections(collections, client).loc[cid, "outcome"] == "conflict"
        assert client.get_collection(cid)["name"] == "someone else"
        assert push_collections(collections, client, force=True).loc[cid, "outcome"] == "ok"
