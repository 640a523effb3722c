"""Bulk seeding (issue 24) stores what one POST per tile stores, seen through both APIs,
and a ``kill -9`` during a seed leaves whole chunks or nothing."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import requests
from catalog_world import CATALOG, token_for

import byocframe
from byocframe.exceptions import ValidationError
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_collection

FIXED_CLOCK = 1_760_000_000.25
SEARCHES = {
    "everything": {},
    "east-of-177": {"bbox": [177.0, 0.0, 180.0, 90.0]},
    "antimeridian": {"bbox": [179.0, 60.0, -179.0, 68.0]},
    "june-first": {"datetime": "2024-06-01T00:00:00Z/2024-06-01T23:59:59Z"},
    "box-and-time": {"bbox": [-180.0, 0.0, -175.0, 64.0], "datetime": "2024-06-02T00:00:00Z/.."},
}


def _moved(files, old, new):
    """The files of the tile at path ``old`` (with ``(BAND)``), again under ``new``."""
    head = old.split("(BAND)")[0]
    return {new + key[len(head) :]: info for key, info in files.items() if key.startswith(head)}


def _world():
    """Records and files: synthetic tiles plus every way ingestion can end or rewrite."""
    records, files = synthetic_collection(40, seed=11, dates=("2024-06-01", "2024-06-05"))
    bodies = [
        {k: r[k] for k in ("path", "sensingTime", "coverGeometry") if k in r} for r in records
    ]
    first = bodies[0]["path"]
    extra = [
        {"path": "nocover/(BAND).tif", "sensingTime": "2024-06-03T10:00:00Z"},  # a box cover
        {"path": "clash/x/(BAND).tif"},
        {"path": "clash/x"},  # rewritten onto the tile before's path: FAILED
        {"path": "nowhere/(BAND).tif"},  # no files: FAILED
    ]
    for new in ("nocover/", "folder/one/", "clash/x/", "late/"):
        files.update(_moved(files, first, new))
    # a file no band names: ingested only by a tile that sees a collection without bands
    files["folder/one/EXTRA.tif"] = files["folder/one/B02.tif"]
    # a folder path whose rewrite an earlier chunk's tile holds: FAILED in a later chunk
    tail = [{"path": "late/(BAND).tif"}, *bodies[20:], {"path": "late"}]
    # in the first chunk: seen by the first ingested tile's chunk, once bands are set
    folder = {"path": "folder/one"}  # a folder: rewritten to folder/one/(BAND).tif
    return [bodies[0], folder, *bodies[1:20], *extra, *tail], files


def _items(session, base, catalog_id, query, names):
    """Every item of a search, paged, keyed by its tile's path (ids differ between ways)."""
    body, out = {"collections": [catalog_id], "limit": 7, **query}, {}
    while True:
        page = session.post(base + CATALOG + "/search", json=body, timeout=10)
        page.raise_for_status()
        page = page.json()
        for item in page["features"]:
            path = names[item["id"]]
            item = {k: v for k, v in item.items() if k not in ("id", "links", "collection")}
            out[path] = item
        if "next" not in page.get("context", {}):
            return out
        body["next"] = page["context"]["next"]


def _collection_view(doc):
    return {k: v for k, v in doc.items() if k not in ("id", "name", "created")}


@pytest.mark.parametrize("configured", [True, False], ids=["bands-given", "bands-from-first-tile"])
def test_a_seeded_tile_is_indistinguishable_from_a_posted_one(configured):
    bodies, files = _world()
    spec = {"s3Bucket": "syn"}
    if configured:
        spec["additionalData"] = {"bands": SYNTHETIC_BANDS}
    with byocframe.local_service(ingestion_delay=0, clock=lambda: FIXED_CLOCK) as service:
        client = service.client()
        service.register_files("syn", files)
        by_api = client.create_collection({"name": "api", **spec})["id"]
        by_seed = client.create_collection({"name": "seed", **spec})["id"]
        for body in bodies:
            client.create_tile(by_api, body)
        ids = service.seed(by_seed, bodies, chunk_size=7)
        listed = {cid: list(client.iter_tiles(cid)) for cid in (by_api, by_seed)}
        views = [_collection_view(client.get_collection(cid)) for cid in (by_api, by_seed)]
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        searched = {}
        for cid, tiles in listed.items():
            names = {t["id"]: t["path"] for t in tiles}
            searched[cid] = {
                name: _items(session, service.base_url, "byoc-" + cid, query, names)
                for name, query in SEARCHES.items()
            }
    api_tiles, seed_tiles = listed[by_api], listed[by_seed]
    assert [t["id"] for t in seed_tiles] == ids
    assert [{**t, "id": None} for t in seed_tiles] == [{**t, "id": None} for t in api_tiles]
    assert views[1] == views[0]
    assert views[0]["isConfigured"]
    assert views[0]["additionalData"]["bands"]
    for name in SEARCHES:
        assert searched[by_seed][name] == searched[by_api][name], name
    # the searches are not empty, and the listing covers every way a tile can end
    counts = {name: len(items) for name, items in searched[by_api].items()}
    assert 0 < min(counts.values()) < max(counts.values()) == 44, counts
    by_path = {t["path"]: t for t in api_tiles}
    assert by_path["folder/one/(BAND).tif"]["status"] == "INGESTED"
    assert by_path["clash/x"]["status"] == by_path["late"]["status"] == "FAILED"
    assert "already has path" in by_path["late"]["additionalData"]["failedIngestionCause"]
    assert by_path["nowhere/(BAND).tif"]["status"] == "FAILED"
    assert by_path["nocover/(BAND).tif"]["coverGeometry"]["type"] == "Polygon"


_SEEDER = textwrap.dedent(
    """
    import logging, sys
    import byocframe
    from byocframe.emulator.problems import ApiProblem
    from byocframe.emulator.validate import new_tile
    from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_collection

    db, chunk = sys.argv[1], int(sys.argv[2])
    records, files = synthetic_collection(400 * chunk, seed=2)

    def accepted(record):
        try:
            new_tile(record)
        except ApiProblem:
            return False
        return True

    records = [r for r in records if accepted(r)]  # a few covers beyond 84 N are refused
    handler = logging.StreamHandler(sys.stdout)
    logging.getLogger("byocframe.emulator").addHandler(handler)
    logging.getLogger("byocframe.emulator").setLevel(logging.INFO)
    with byocframe.local_service(db=db, ingestion_delay=0) as service:
        client = service.client()
        service.register_files("syn", files)
        spec = {"s3Bucket": "syn", "additionalData": {"bands": SYNTHETIC_BANDS}}
        cid = client.create_collection({"name": "killed", **spec})["id"]
        print("collection", cid, flush=True)
        service.seed(cid, records, chunk_size=chunk)
        print("finished", flush=True)
    """
)


def test_kill_9_during_a_seed_leaves_whole_chunks(tmp_path):
    db, chunk = tmp_path / "seeded.sqlite", 25  # 400 chunks: more than can run before the kill
    script = tmp_path / "seeder.py"
    script.write_text(_SEEDER)
    process = subprocess.Popen(
        [sys.executable, str(script), str(db), str(chunk)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        lines = []
        while not any(line.startswith("seeded") for line in lines):  # a chunk committed
            line = process.stdout.readline()
            assert line, "the seeder ended before committing a chunk"
            lines.append(line)
        os.kill(process.pid, signal.SIGKILL)  # during a later chunk: no clean shutdown
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        process.stdout.close()
    assert "finished\n" not in lines
    cid = next(line.split()[1] for line in lines if line.startswith("collection"))
    # the file as the kill left it, read with sqlite3 alone (nothing may repair it first)
    with sqlite3.connect(db) as conn:
        statuses = dict(
            conn.execute(
                "SELECT status, count(*) FROM tiles WHERE collection_id = ? GROUP BY status",
                (cid,),
            ).fetchall()
        )
        stored = sum(statuses.values())
        items = conn.execute(
            "SELECT count(*) FROM catalog_items WHERE collection_id = ?", (cid,)
        ).fetchone()[0]
        dirty = conn.execute("SELECT count(*) FROM catalog_dirty").fetchone()[0]
        docs = [json.loads(d) for (d,) in conn.execute("SELECT doc FROM tiles").fetchall()]
    assert 0 < stored < 400 * chunk
    assert stored % chunk == 0
    assert set(statuses) <= {"INGESTED", "FAILED"}  # ingested with their chunk
    assert items == statuses.get("INGESTED", 0)
    assert dirty == 0
    assert all(d["status"] == "INGESTED" and "tileGeometry" in d for d in docs[:5])


@pytest.mark.parametrize("delay", [0.0, None], ids=["ingested-at-once", "ingested-later"])
def test_a_path_taken_by_a_rewrite_is_taken_as_after_posts(delay):
    # at once: the folder's tile is ingested (its path rewritten) before the next POST
    files = {f"f/x/{band}.tif": info for band, info in _one_tile_files().items()}
    bodies = [{"path": "f/x"}, {"path": "f/x/(BAND).tif"}]
    with byocframe.local_service(ingestion_delay=delay) as service:
        client = service.client()
        service.register_files("syn", files)
        spec = {"s3Bucket": "syn", "additionalData": {"bands": SYNTHETIC_BANDS}}
        by_api, by_seed = (client.create_collection({"name": n, **spec})["id"] for n in "ab")
        client.create_tile(by_api, bodies[0])
        if delay == 0:
            with pytest.raises(byocframe.ConflictError):
                client.create_tile(by_api, bodies[1])
            with pytest.raises(ValidationError, match=r"tile 1: .*'f/x/\(BAND\).tif' already"):
                service.seed(by_seed, bodies)
            assert list(client.iter_tiles(by_seed)) == []
            return
        client.create_tile(by_api, bodies[1])
        service.seed(by_seed, bodies)
        service.ingest_pending()
        listed = [
            [(t["path"], t["status"]) for t in client.iter_tiles(c)] for c in (by_api, by_seed)
        ]
    assert listed[0] == listed[1] == [("f/x", "FAILED"), ("f/x/(BAND).tif", "INGESTED")]


def _one_tile_files():
    """A synthetic tile's files by band."""
    records, files = synthetic_collection(1, seed=4)
    head = records[0]["path"].split("(BAND)")[0]
    return {key[len(head) :].split(".")[0]: info for key, info in files.items()}


def test_a_frame_is_seeded_chunk_by_chunk_as_its_records_are():
    records, files = synthetic_collection(23, seed=8)
    with byocframe.local_service(clock=lambda: FIXED_CLOCK) as service:
        client = service.client()
        service.register_files("syn", files)
        spec = {"s3Bucket": "syn", "additionalData": {"bands": SYNTHETIC_BANDS}}
        source, from_records, from_frame = (
            client.create_collection({"name": n, **spec})["id"] for n in "abc"
        )
        service.seed(source, records)
        frame = byocframe.read_tiles(client, source)
        service.seed(from_records, byocframe.to_records(frame), chunk_size=5)
        service.seed(from_frame, frame, chunk_size=5)  # converted 5 rows at a time
        listed = [
            [{**t, "id": None} for t in client.iter_tiles(c)] for c in (from_records, from_frame)
        ]
    assert len(listed[0]) == 23
    assert listed[1] == listed[0]
