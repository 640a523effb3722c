"""The Catalog's items commit with their tiles: ``kill -9`` of ``byocframe serve --db``
in the middle of creates, ingestions, PUTs and DELETEs never leaves a tile row and its
item apart (issue 24: the index is kept at write time, not built by the next search)."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading

import numpy as np
import requests
from test_service_durability import serve, session

WRITERS = 4
ACKS_BEFORE_KILL = 150
API = "/api/v1/byoc"


def _files(count):
    """A manifest of one band per tile path ``t{i}/(BAND).tif`` (UTM 33N, 10 km apart)."""
    out = {}
    for i in range(count):
        x, y = 300_000 + 10_000 * (i % 40), 4_800_000 + 10_000 * (i // 40)
        out[f"t{i}/B01.tif"] = {
            "crs": "EPSG:32633",
            "bounds": [x, y, x + 10_000, y + 10_000],
            "resolution": 10,
            "bitDepth": 16,
            "sampleFormat": "UINT",
        }
    return out


def _writers(base_url, cid, acknowledged, lock, enough):
    """Create tiles (ingested at once), PUT their time, delete every fourth, until killed."""

    def writer(k):
        http = session(base_url)
        api = f"{base_url}{API}/collections/{cid}/tiles"
        for i in range(k, 4000, WRITERS):
            try:
                created = http.post(api, json={"path": f"t{i}/(BAND).tif"}, timeout=5)
                if created.status_code != 201:
                    continue
                tid = created.json()["data"]["id"]
                when = f"2024-03-{1 + i % 28:02d}T00:00:00Z"
                if http.put(f"{api}/{tid}", json={"sensingTime": when}, timeout=5).ok and (
                    i % 4 == 0
                ):
                    http.delete(f"{api}/{tid}", timeout=5)
                with lock:
                    acknowledged.append(tid)
                    if len(acknowledged) >= ACKS_BEFORE_KILL:
                        enough.set()
            except requests.RequestException:
                return  # the server was killed

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(WRITERS)]
    for thread in threads:
        thread.start()
    return threads


def test_items_and_tiles_never_come_apart_under_sigkill(tmp_path):
    db = tmp_path / "byoc.sqlite"
    acknowledged: list[str] = []
    lock = threading.Lock()
    process, base_url = serve(db)
    try:
        http = session(base_url)
        bands = {"B01": {"bitDepth": 16}}
        body = {"name": "kept", "s3Bucket": "b", "additionalData": {"bands": bands}}
        cid = http.post(base_url + API + "/collections", json=body).json()["data"]["id"]
        assert http.put(base_url + API + "/_emulator/buckets/b", json=_files(4000)).ok
        enough = threading.Event()
        threads = _writers(base_url, cid, acknowledged, lock, enough)
        assert enough.wait(timeout=60)
        os.kill(process.pid, signal.SIGKILL)  # mid-write: no clean shutdown, no search ever
        process.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    # read the file as the kill left it: nothing may catch up before these checks
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM catalog_dirty").fetchone() == (0,)
        ingested = dict(
            conn.execute("SELECT seq, sensing_time FROM tiles WHERE status = 'INGESTED'").fetchall()
        )
        items = dict(conn.execute("SELECT seq, dt_us FROM catalog_items").fetchall())
        boxes = conn.execute("SELECT item, count(*) FROM catalog_rtree GROUP BY item").fetchall()
        parts = dict(conn.execute("SELECT seq, parts FROM catalog_items").fetchall())
    assert len(acknowledged) >= ACKS_BEFORE_KILL
    assert len(ingested) >= ACKS_BEFORE_KILL * 3 // 4 - WRITERS
    assert set(items) == set(ingested)  # an item for every INGESTED tile, and no other
    for seq, text in ingested.items():  # each item has its tile's latest sensing time
        expected = None if text is None else int(np.datetime64(text.rstrip("Z"), "us").astype(int))
        assert items[seq] == expected
    assert dict(boxes) == parts  # every item's boxes are in the R*Tree, no stray box
