"""Edits the way people really work: reload from files, pandas row operations, reruns,
a push killed part way and resumed, and two editors at once. Every test reads the
server's final state back on its own (not just the result frame)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import byocframe
from byocframe import Faults, ValidationError
from byocframe.cli import main
from byocframe.frame.native import as_geometries
from byocframe.frame.records import ATTRS_KEY


@pytest.fixture
def demo():
    with byocframe.local_service(demo=True, demo_tiles=400) as service:
        yield service


@pytest.fixture
def client(demo):
    return demo.client(backoff=0.01, max_backoff=0.05)


@pytest.fixture
def gdf(demo, client):
    frame = byocframe.read_tiles(client, demo.demo_collection)
    return frame[frame["status"] == "INGESTED"].copy()


def server(client, demo) -> dict[str, dict]:
    return {t["id"]: t for t in client.iter_tiles(demo.demo_collection)}


def when(record: dict) -> pd.Timestamp:
    return pd.Timestamp(record["sensingTime"])


class CountingClient:
    """A client whose writes are counted (the real one underneath)."""

    def __init__(self, inner):
        self._inner = inner
        self.writes = 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if name in ("update_tile", "create_tile", "delete_tile"):

            def counted(*args, **kwargs):
                with self.lock:
                    self.writes += 1
                return attr(*args, **kwargs)

            return counted
        return attr


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg", ".geojson", ".fgb", ".csv"])
def test_reloaded_frame_behaves_like_the_loaded_one(gdf, client, demo, tmp_path, suffix):
    path = tmp_path / f"tiles{suffix}"
    byocframe.write_file(gdf, path)
    back = byocframe.read_file(path)
    assert byocframe.changes(back).empty
    assert back.dtypes.equals(gdf.dtypes)
    assert back.index.equals(gdf.index)
    for column in ("tile_geometry", "native_cover", "native_tile"):
        ours, theirs = as_geometries(back[column]), as_geometries(gdf[column])
        same = shapely.equals_exact(ours, theirs, tolerance=0)
        assert (same | (shapely.is_missing(ours) & shapely.is_missing(theirs))).all(), column
    # attrs stay a few scalars: nothing pandas must deep-copy on every operation
    assert all(
        isinstance(v, str | float | int | type(None)) for v in back.attrs[ATTRS_KEY].values()
    )
    ids = back.index[:4]
    back.loc[ids[:3], "sensing_time"] += pd.Timedelta(hours=5)
    back.loc[ids[3], "geometry"] = back.geometry[ids[3]].buffer(-0.02)
    found = byocframe.changes(back)
    assert sorted(found["field"]) == ["geometry", "sensing_time", "sensing_time", "sensing_time"]
    before = server(client, demo)
    result = byocframe.push(back, client)
    assert (result["outcome"] == "ok").all()
    after = server(client, demo)
    for tid in ids[:3]:
        assert when(after[tid]) == when(before[tid]) + pd.Timedelta(hours=5)
    moved = shapely.geometry.shape(after[ids[3]]["coverGeometry"])
    assert not moved.equals_exact(shapely.geometry.shape(before[ids[3]]["coverGeometry"]), 1)
    untouched = set(before) - set(ids)
    assert all(after[t] == before[t] for t in untouched)


def test_geojson_rounded_by_another_program_is_not_an_edit(gdf, tmp_path):
    path = tmp_path / "tiles.geojson"
    byocframe.write_file(gdf, path)
    back = byocframe.read_file(path)
    # what QGIS / GDAL do to a GeoJSON file: 15 significant digits
    rounded = shapely.transform(back.geometry.array, lambda xy: np.round(xy, 12))
    assert not shapely.equals_exact(rounded, back.geometry.array, tolerance=0).all()
    back["geometry"] = rounded
    assert byocframe.changes(back).empty
    back.loc[back.index[0], "geometry"] = shapely.affinity.translate(rounded[0], 1e-4)
    assert byocframe.changes(back)["field"].tolist() == ["geometry"]  # 10 m is an edit


def test_pandas_row_operations(gdf, client, demo):
    new = gpd.GeoDataFrame(
        {
            "path": ["added/a/(BAND).tif", "added/b/(BAND).tif"],
            "sensing_time": pd.to_datetime(["2024-08-01T10:00Z", "2024-08-02T10:00Z"], utc=True),
        },
        geometry=[shapely.box(10, 45, 11, 46), None],
        crs=4326,
    )
    edited = gdf.copy()
    edited.loc[edited.index[0], "sensing_time"] += pd.Timedelta(days=1)
    frame = pd.concat([edited, new])  # concat drops attrs; the rows keep their state
    result = byocframe.push(frame, client)
    assert sorted(result["action"]) == ["create", "create", "update"]
    assert (result["outcome"] == "ok").all()
    assert byocframe.changes(frame).empty  # new rows got ids and are now loaded rows
    paths = [t["path"] for t in server(client, demo).values()]
    assert paths.count("added/a/(BAND).tif") == paths.count("added/b/(BAND).tif") == 1

    # a boolean filter pushes its rows' edits and deletes nothing
    subset = gdf[gdf["path"].str.contains("/06/")].copy()
    subset["sensing_time"] += pd.Timedelta(minutes=1)
    before = server(client, demo)
    result = byocframe.push(subset, client)
    assert len(result) == len(subset)
    # the first tile was pushed from another copy above: that is a real conflict
    assert result.loc[gdf.index[0], "outcome"] == "conflict"
    assert (result.drop(index=gdf.index[0])["outcome"] == "ok").all()
    assert set(server(client, demo)) == set(before)

    # .drop + delete_missing deletes exactly the dropped rows
    dropped = gdf.index[-2:]
    result = byocframe.push(gdf.drop(index=dropped), client, delete_missing=True)
    deleted = result[result["action"] == "delete"].index
    assert set(deleted) >= set(dropped)
    assert not set(dropped) & set(server(client, demo))


def test_rows_that_lost_their_state_are_never_taken_for_new(gdf):
    frame = gdf.copy()
    frame.loc[frame.index[0], "loaded"] = None
    with pytest.raises(ValidationError, match="have a tile id but no 'loaded' value"):
        byocframe.changes(frame)
    other = gdf.copy()
    other["loaded"] = other["loaded"].str.replace(
        gdf.attrs[ATTRS_KEY]["collection"], "another-collection"
    )
    with pytest.raises(ValidationError, match="mixes tiles of 2 collections"):
        byocframe.changes(pd.concat([gdf.iloc[:2], other.iloc[2:4]]))


def test_rerun_sends_nothing(gdf, client, demo, tmp_path):
    path = tmp_path / "edited.parquet"
    edited = gdf.copy()
    edited.loc[edited.index[:50], "sensing_time"] += pd.Timedelta(hours=3)
    byocframe.write_file(edited, path)
    first = byocframe.push(edited, client)
    assert (first["outcome"] == "ok").all()
    assert len(first) == 50
    after_first = server(client, demo)

    counting = CountingClient(client)
    assert byocframe.push(edited, counting).empty  # the pushed frame knows
    again = gdf.copy()  # the same edits, from the same loaded frame
    again.loc[again.index[:50], "sensing_time"] += pd.Timedelta(hours=3)
    result = byocframe.push(again, counting)
    assert (result["outcome"] == "unchanged").all()
    assert len(result) == 50
    assert counting.writes == 0
    assert server(client, demo) == after_first

    env = {"SH_BASE_URL": demo.base_url, "SH_CLIENT_ID": demo.client_id}
    env["SH_CLIENT_SECRET"] = demo.client_secret
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert main(["push", demo.demo_collection, str(path)]) == 0  # from the saved file
    assert server(client, demo) == after_first


def test_cli_push_checks_collection_and_service(gdf, demo, tmp_path, capsys, monkeypatch):
    path = tmp_path / "tiles.gpkg"
    gdf.loc[gdf.index[0], "sensing_time"] += pd.Timedelta(hours=1)
    byocframe.write_file(gdf, path)
    monkeypatch.setenv("SH_CLIENT_ID", demo.client_id)
    monkeypatch.setenv("SH_CLIENT_SECRET", demo.client_secret)
    monkeypatch.setenv("SH_BASE_URL", demo.base_url)
    served = demo.requests_served
    assert main(["push", "some-other-collection", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not some-other-collection" in err
    assert len(err.strip().splitlines()) == 1
    with byocframe.local_service() as elsewhere:
        monkeypatch.setenv("SH_BASE_URL", elsewhere.base_url)
        monkeypatch.setenv("SH_CLIENT_ID", elsewhere.client_id)
        monkeypatch.setenv("SH_CLIENT_SECRET", elsewhere.client_secret)
        assert main(["push", demo.demo_collection, str(path)]) == 1
        err = capsys.readouterr().err
        assert f"not {elsewhere.base_url}" in err
        assert "Traceback" not in err
        assert elsewhere.requests_served == 0  # refused before any request
    assert demo.requests_served == served


def test_dry_run_counts_requests_and_time(gdf, client, demo):
    gdf.loc[gdf.index[:10], "sensing_time"] += pd.Timedelta(days=1)
    served = demo.requests_served
    result = byocframe.push(gdf, client, dry_run=True)
    assert demo.requests_served == served
    summary = result.attrs[ATTRS_KEY]["summary"]
    # 10 checks + 10 writes + a verify (4 listing pages of 400 tiles, fewer than 10 GETs)
    assert summary.startswith("would update 10 / would create 0 / would delete 0: 24 requests")
    assert "300 to 1,200 requests a minute" in summary
    assert result["message"].str.contains("sensing_time: 20").all()
    client.requests_per_minute = 60
    paced = byocframe.push(gdf, client, dry_run=True).attrs[ATTRS_KEY]["summary"]
    assert "about 24 s at 60 requests a minute" in paced


class TestSecondWriter:
    """The two detections, made deterministic by writing from inside the client."""

    def test_change_before_our_check_is_a_conflict_and_another_field_merges(
        self, gdf, client, demo
    ):
        cid = demo.demo_collection
        a, b = gdf.index[:2]
        for tid in (a, b):  # someone else moves both sensing times
            record = client.get_tile(cid, tid)
            client.update_tile(
                cid,
                tid,
                {
                    "path": record["path"],
                    "sensingTime": "2021-01-01T00:00:00Z",
                    "coverGeometry": record["coverGeometry"],
                },
            )
        gdf.loc[a, "sensing_time"] += pd.Timedelta(days=1)  # same field: conflict
        shrunk = gdf.geometry[b].buffer(-0.05)
        gdf.loc[b, "geometry"] = shrunk  # another field: merged, nothing conflicts
        result = byocframe.push(gdf, client)
        assert result.loc[a, "outcome"] == "conflict"
        assert result.loc[b, "outcome"] == "ok"
        assert "kept the server's sensing_time" in result.loc[b, "message"]
        final = server(client, demo)
        assert final[a]["sensingTime"].startswith("2021-01-01")
        assert final[b]["sensingTime"].startswith("2021-01-01")
        assert gdf.loc[b, "sensing_time"] == pd.Timestamp("2021-01-01", tz="UTC")
        cover = gpd.GeoSeries(
            [shapely.geometry.shape(final[b]["coverGeometry"])],
            crs=gdf.loc[b, "native_crs"],
        ).to_crs(4326)[0]
        assert cover.symmetric_difference(shrunk).area < 1e-3 * shrunk.area

    def test_change_after_our_write_is_reported_overwritten(self, gdf, client, demo):
        cid = demo.demo_collection
        victim = gdf.index[0]

        class Meddler(CountingClient):
            def __getattr__(self, name):
                attr = getattr(self._inner, name)
                if name != "update_tile":
                    return attr

                def then_meddle(collection, tile, body, **turns):
                    attr(collection, tile, body, **turns)
                    if tile == victim:  # another writer, right after our PUT
                        self._inner.update_tile(
                            collection, tile, {**body, "sensingTime": "2022-02-02T00:00:00Z"}
                        )

                return then_meddle

        gdf.loc[gdf.index[:3], "sensing_time"] += pd.Timedelta(days=1)
        result = byocframe.push(gdf, Meddler(client))
        assert result.loc[victim, "outcome"] == "overwritten"
        assert "2022-02-02" in result.loc[victim, "message"]
        assert (result.drop(index=victim)["outcome"] == "ok").all()
        assert client.get_tile(cid, victim)["sensingTime"].startswith("2022-02-02")
        # not marked as loaded: pushing again reports the collision, never hides it
        assert byocframe.push(gdf, client).loc[victim, "outcome"] == "conflict"


def test_two_editors_at_once_never_lose_an_edit_silently(client, demo):
    loaded = byocframe.read_tiles(client, demo.demo_collection)
    ids = loaded.index[:300]
    mine, theirs = loaded.copy(), loaded.copy()
    mine.loc[ids[:200], "sensing_time"] += pd.Timedelta(hours=1)  # overlap: ids[100:200]
    theirs.loc[ids[100:300], "sensing_time"] += pd.Timedelta(hours=2)
    results: dict[str, pd.DataFrame] = {}
    start = threading.Barrier(2)

    def run(name, frame):
        start.wait()
        results[name] = byocframe.push(frame, demo.client(), workers=8)

    threads = [threading.Thread(target=run, args=a) for a in (("mine", mine), ("theirs", theirs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = server(client, demo)
    for tid in ids[100:200]:
        base = loaded.loc[tid, "sensing_time"]
        held = when(final[tid])
        assert held in (base + pd.Timedelta(hours=1), base + pd.Timedelta(hours=2))
        # whoever's value is not on the server was told
        loser = "theirs" if held == base + pd.Timedelta(hours=1) else "mine"
        assert results[loser].loc[tid, "outcome"] in ("conflict", "overwritten"), tid
    for name, only in (("mine", ids[:100]), ("theirs", ids[200:300])):
        assert (results[name].loc[only, "outcome"] == "ok").all()


class Counting(Faults):
    """The service's faults, that also set ``reached`` once ``limit`` API requests
    reached the service (counted where the service draws each request's fate)."""

    def __init__(self, limit: int, reached: threading.Event, **faults) -> None:
        super().__init__(**faults)
        self.limit, self.reached, self.seen = limit, reached, 0
        self.counting = threading.Lock()

    def decide(self):
        with self.counting:
            self.seen += 1
            if self.seen >= self.limit:
                self.reached.set()
        return super().decide()


@pytest.mark.slow
def test_resume_after_kill_9_at_several_points(tmp_path):

    with byocframe.local_service(demo=True, demo_tiles=700) as service:
        client = service.client(backoff=0.01, max_backoff=0.05)
        loaded = byocframe.read_tiles(client, service.demo_collection)
        edited = loaded.copy()
        edited["sensing_time"] += pd.Timedelta(minutes=13)
        new = gpd.GeoDataFrame(
            {"path": [f"resumed/{i:03d}/(BAND).tif" for i in range(60)]},
            geometry=[shapely.box(i % 30, 40, i % 30 + 1, 41) for i in range(60)],
            crs=4326,
        )
        path = tmp_path / "edited.parquet"
        byocframe.write_file(pd.concat([edited, new]), path)
        want = {tid: t for tid, t in edited["sensing_time"].items()}
        env = {
            **os.environ,
            "SH_BASE_URL": service.base_url,
            "SH_CLIENT_ID": service.client_id,
            "SH_CLIENT_SECRET": service.client_secret,
        }
        for requests in (40, 300, 700):  # kill -9 after this many requests reached the service
            reached = threading.Event()
            service.faults = Counting(requests, reached, latency=0.005, seed=3)
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "byocframe.cli",
                    "push",
                    service.demo_collection,
                    str(path),
                    "--workers",
                    "8",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            ended = threading.Thread(target=lambda p=process, r=reached: (p.wait(), r.set()))
            ended.start()  # a push that ends before that many requests ends the wait too
            assert reached.wait(120), "the push never got going"
            process.send_signal(signal.SIGKILL)
            ended.join()
            assert process.returncode == -signal.SIGKILL  # killed part way, not done before
        service.faults = None
        frame = byocframe.read_file(path)
        result = byocframe.push(frame, client, workers=8)
        assert set(result["outcome"]) <= {"ok", "unchanged"}, result["outcome"].value_counts()
        assert (result["outcome"] == "unchanged").any()  # some were done before a kill
        final = server(client, service)
        for tid, wanted in want.items():
            assert when(final[tid]) == wanted.floor("ms")
        paths = [t["path"] for t in final.values() if t["path"].startswith("resumed/")]
        assert sorted(paths) == sorted(new["path"])  # each exactly once
        assert np.all(result.index.notna())
