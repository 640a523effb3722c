"""Ingestion never reverts a change committed while it was working (issue 12, class 1).

The ingestor reads a tile, resolves its files, then commits its outcome. A PUT that is
acknowledged between the read and the commit must survive. The interleaving is forced
deterministically: the test wraps the store's read of the tile so that a PUT goes
through the HTTP API right after the ingestor took its snapshot.
"""

from __future__ import annotations

import threading

import pytest
from conftest import UTM33_URN, ServiceApi, box_ring, geojson, utm33_files

import byocframe


@pytest.fixture
def manual():
    """A service whose tiles wait until the test runs the ingestion."""
    with byocframe.local_service(ingestion_delay=None) as service:
        yield service


def _new_tile(service, http, **fields):
    cid = http("POST", "/collections", json={"name": "race", "s3Bucket": "bkt"}).json()["data"][
        "id"
    ]
    service.register_files("bkt", utm33_files("t/(BAND).tif"))
    body = {"path": "t/(BAND).tif", "sensingTime": "2024-01-01T00:00:00Z", **fields}
    tid = http("POST", f"/collections/{cid}/tiles", json=body).json()["data"]["id"]
    return cid, tid


def _put_after_snapshot(service, monkeypatch, method, path, body):
    """Make the next read of a tile's stored state send ``method path`` right after it."""
    store = service.store
    read = store.tile_state
    answers: list[int] = []

    def read_then_write(cid, tid):
        state = read(cid, tid)
        if not answers:
            # another client, on another connection, while the ingestor holds `state`
            answers.append(ServiceApi(service)(method, path, json=body).status_code)
        return state

    monkeypatch.setattr(store, "tile_state", read_then_write)
    return answers


def test_sensing_time_put_during_ingestion_is_kept(manual, monkeypatch):
    http = ServiceApi(manual)
    cid, tid = _new_tile(manual, http)
    url = f"/collections/{cid}/tiles/{tid}"
    answers = _put_after_snapshot(
        manual, monkeypatch, "PUT", url, {"sensingTime": "2025-05-05T05:05:05Z"}
    )
    assert manual.ingest_pending() == 1
    assert answers == [204]
    tile = http("GET", url).json()["data"]
    assert tile["status"] == "INGESTED"
    assert tile["sensingTime"] == "2025-05-05T05:05:05.000Z"


def test_cover_put_during_ingestion_is_kept(manual, monkeypatch):
    http = ServiceApi(manual)
    cid, tid = _new_tile(manual, http)
    url = f"/collections/{cid}/tiles/{tid}"
    small = geojson("Polygon", [box_ring(410_000, 5_010_000, 420_000, 5_020_000)], UTM33_URN)
    answers = _put_after_snapshot(manual, monkeypatch, "PUT", url, {"coverGeometry": small})
    manual.ingest_pending()
    assert answers == [204]
    tile = http("GET", url).json()["data"]
    assert tile["status"] == "INGESTED"
    xs = [p[0] for p in tile["coverGeometry"]["coordinates"][0]]
    # the PUT's 10 km cover, not the 110 km bounding box the ingestion would draw
    assert min(xs) == pytest.approx(410_000, abs=1e-3)
    assert max(xs) == pytest.approx(420_000, abs=1e-3)


def test_tile_deleted_during_ingestion_stays_deleted(manual, monkeypatch):
    http = ServiceApi(manual)
    cid, tid = _new_tile(manual, http)
    url = f"/collections/{cid}/tiles/{tid}"
    answers = _put_after_snapshot(manual, monkeypatch, "DELETE", url, None)
    manual.ingest_pending()
    assert answers == [204]
    assert http("GET", url).status_code == 404


def test_concurrent_puts_and_ingestion_lose_no_acknowledged_time():
    """Many tiles ingested on a timer while another thread PUTs their sensing times."""
    with byocframe.local_service(ingestion_delay=0.03) as service:
        http = ServiceApi(service)
        cid = http("POST", "/collections", json={"name": "r", "s3Bucket": "bkt"}).json()["data"][
            "id"
        ]
        files: dict = {}
        for i in range(60):
            files.update(utm33_files(f"t{i}/(BAND).tif"))
        service.register_files("bkt", files)
        tids = [
            http("POST", f"/collections/{cid}/tiles", json={"path": f"t{i}/(BAND).tif"}).json()[
                "data"
            ]["id"]
            for i in range(60)
        ]
        acknowledged: dict[str, str] = {}

        def writer():
            other = ServiceApi(service)
            for k, tid in enumerate(tids):
                when = f"2024-02-{1 + k % 28:02d}T00:00:00Z"
                answer = other("PUT", f"/collections/{cid}/tiles/{tid}", json={"sensingTime": when})
                if answer.status_code == 204:
                    acknowledged[tid] = when.replace("Z", ".000Z")

        thread = threading.Thread(target=writer)
        thread.start()
        thread.join()
        service.ingest_pending()
        tiles = {t["id"]: t for t in service.client().iter_tiles(cid)}
    assert len(acknowledged) == 60
    lost = [tid for tid, when in acknowledged.items() if tiles[tid].get("sensingTime") != when]
    assert lost == []
