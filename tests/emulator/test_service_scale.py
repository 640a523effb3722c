"""Issue 24, the service's part: a search finds its index ready, and seeding many tiles
stores exactly what one POST per tile would have stored."""

from __future__ import annotations

import logging

import pytest
import requests
from catalog_world import BANDS, CATALOG, TILES, build_world, token_for, truth

import byocframe
from byocframe.emulator.catalog import Catalog
from byocframe.emulator.search import SearchQuery
from byocframe.emulator.spatial import CatalogIndex
from byocframe.emulator.store import Store
from byocframe.exceptions import ValidationError
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_collection

BBOXES = {
    "europe": [10.0, 40.0, 20.0, 50.0],
    "antimeridian": [175.0, 60.0, -175.0, 70.0],
    "east-of-180-only": [-179.9, 64.0, -179.0, 66.0],
    "north-pole": [10.0, 88.0, 20.0, 89.0],
    "pole-other-side": [100.0, 88.0, 110.0, 89.0],
    "antarctic": [40.0, -80.0, 50.0, -75.0],
    "whole-globe": [-180.0, -90.0, 180.0, 90.0],
}
FIXED_CLOCK = 1_760_000_000.25


def _counts(store):
    with store.transaction() as conn:
        dirty = conn.execute("SELECT count(*) FROM catalog_dirty").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM catalog_items").fetchone()[0]
    return dirty, items


def _search_ids(service, session, catalog_id, bbox):
    body, ids = {"collections": [catalog_id], "bbox": bbox, "limit": 100}, []
    while True:
        page = session.post(service.base_url + CATALOG + "/search", json=body, timeout=10).json()
        ids += [f["id"] for f in page["features"]]
        if "next" not in page["context"]:
            return set(ids)
        body["next"] = page["context"]["next"]


def _world_bodies(client, world):
    """The POST bodies of the world's tiles, as a listing gives them back."""
    return [
        {k: t[k] for k in ("path", "sensingTime", "coverGeometry") if k in t}
        for t in client.iter_tiles(world.collection)
    ]


def test_first_search_builds_nothing_and_matches_brute_force():
    with byocframe.local_service(ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)  # through the API: create, ingest, PUT-free
        # before any search: every INGESTED tile already has its item, nothing is marked
        assert _counts(service.store) == (0, len(TILES))
        catalog = Catalog(service.store)  # opening the index finds nothing to convert
        assert catalog.index.migrated == 0
        records = list(client.iter_tiles(world.collection))
        everything = SearchQuery.parse({"collections": [world.catalog_id]}, get=False)
        assert {c[2] for c in catalog.matches(everything)} == set(world.ids.values())
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        for name, bbox in BBOXES.items():
            query = SearchQuery.parse({"collections": [world.catalog_id], "bbox": bbox}, get=False)
            assert {c[2] for c in catalog.matches(query)} == truth(records, bbox), name
            assert _search_ids(service, session, world.catalog_id, bbox) == truth(records, bbox)
        assert catalog.index.built_on_read == 0
        # edits keep it current too: a PUT moving utm33-1's time, a DELETE, a reingest
        tid = world.ids["utm33-1"]
        client.update_tile(world.collection, tid, {"sensingTime": "2021-01-01T00:00:00Z"})
        client.delete_tile(world.collection, world.ids["utm33-2"])
        client.reingest_tile(world.collection, world.ids["utm33-3"])  # WAITING: no item
        assert _counts(service.store) == (0, len(TILES) - 2)
        query = SearchQuery.parse(
            {"collections": [world.catalog_id], "datetime": "2021-01-01T00:00:00Z"}, get=False
        )
        assert [c[2] for c in catalog.matches(query)] == [tid]
        assert catalog.index.built_on_read == 0


def test_seeded_tiles_are_searchable_at_once(tmp_path):
    with byocframe.local_service(ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)
        bodies = _world_bodies(client, world)
    # another service, on a file, ingesting at once: seeding ingests chunk by chunk
    with byocframe.local_service(db=tmp_path / "seeded.sqlite") as service:
        client = service.client()
        spec = {"s3Bucket": "world", "additionalData": {"bands": BANDS}}
        cid = client.create_collection({"name": "seeded", **spec})["id"]
        for body in bodies:
            service.register_files("world", _files_of(body))
        service.seed(cid, bodies, chunk_size=5)
        assert _counts(service.store) == (0, len(bodies) - 2)  # missing-*: FAILED
        records = list(client.iter_tiles(cid))
        catalog = Catalog(service.store)
        for name, bbox in BBOXES.items():
            query = SearchQuery.parse({"collections": ["byoc-" + cid], "bbox": bbox}, get=False)
            assert {c[2] for c in catalog.matches(query)} == truth(records, bbox), name
        assert catalog.index.built_on_read == 0


def _files_of(body):
    """The files `build_world` registers for a world tile (missing-*: none, they fail)."""
    name = body["path"].split("/")[0]
    name = "utm33-1" if name.startswith("waiting-") else name
    if name not in TILES:
        return {}
    epsg, bounds, _ = TILES[name]
    return {
        body["path"].replace("(BAND)", band): {
            "crs": f"EPSG:{epsg}",
            "bounds": list(bounds),
            "resolution": 10 if epsg != 4326 else 0.001,
            "bitDepth": 16,
            "sampleFormat": "UINT",
        }
        for band in BANDS
    }


def _without_ids(tiles):
    return [{k: v for k, v in t.items() if k != "id"} for t in tiles]


@pytest.mark.parametrize("delay", [0.0, None], ids=["ingested-at-once", "ingested-later"])
def test_seed_stores_what_the_api_stores(delay):
    records, files = synthetic_collection(60, seed=3)
    records.append({"id": "x", "path": "nowhere/(BAND).tif", "status": "INGESTED"})  # no files
    fields = ("path", "sensingTime", "coverGeometry")
    bodies = [{k: r[k] for k in fields if k in r} for r in records]
    with byocframe.local_service(ingestion_delay=delay, clock=lambda: FIXED_CLOCK) as service:
        client = service.client()
        service.register_files("syn", files)
        spec = {"s3Bucket": "syn", "additionalData": {"bands": SYNTHETIC_BANDS}}
        by_api = client.create_collection({"name": "api", **spec})["id"]
        by_seed = client.create_collection({"name": "seed", **spec})["id"]
        for body in bodies:
            client.create_tile(by_api, body)
        # whole listing records: fields a POST ignores (status, id, ...) are ignored here too
        ids = service.seed(by_seed, records, chunk_size=7)
        if delay is None:
            assert service.ingest_pending() == 2 * len(records)
        api_tiles = list(client.iter_tiles(by_api))
        seed_tiles = list(client.iter_tiles(by_seed))
    assert [t["id"] for t in seed_tiles] == ids
    assert not set(ids) & {r["id"] for r in records}  # new ids, as a POST gives
    assert _without_ids(seed_tiles) == _without_ids(api_tiles)
    statuses = {t["status"] for t in seed_tiles}
    assert statuses == {"INGESTED", "FAILED"}


def test_seed_from_a_frame_and_a_geoparquet_file(tmp_path):
    records, files = synthetic_collection(25, seed=5)
    with byocframe.local_service(clock=lambda: FIXED_CLOCK) as service:
        client = service.client()
        service.register_files("syn", files)
        spec = {"s3Bucket": "syn", "additionalData": {"bands": SYNTHETIC_BANDS}}
        source = client.create_collection({"name": "source", **spec})["id"]
        service.seed(source, records)
        frame = byocframe.read_tiles(client, source)
        # the truth: the frame's records, one POST each
        by_api = client.create_collection({"name": "api", **spec})["id"]
        for record in byocframe.to_records(frame):
            client.create_tile(by_api, record)
        from_frame = client.create_collection({"name": "frame", **spec})["id"]
        service.seed(from_frame, frame)
        path = tmp_path / "tiles.parquet"
        frame.to_parquet(path)
        from_file = client.create_collection({"name": "file", **spec})["id"]
        service.seed(from_file, path)
        listed = [_without_ids(client.iter_tiles(c)) for c in (by_api, from_frame, from_file)]
    assert len(listed[0]) == len(records)
    assert listed[1] == listed[0]
    assert listed[2] == listed[0]


def test_seed_refuses_what_a_post_refuses():
    with byocframe.local_service() as service:
        client = service.client()
        cid = client.create_collection({"name": "c", "s3Bucket": "b"})["id"]
        with pytest.raises(ValidationError, match=r"tile 1 \(path ''\): .*path"):
            service.seed(cid, [{"path": "a"}, {"path": ""}])
        assert list(client.iter_tiles(cid)) == []  # refused before anything was stored
        with pytest.raises(ValidationError, match=r"tile 3: .*already exists.*tiles 2 to 3"):
            service.seed(cid, [{"path": f"t{k % 3}"} for k in range(4)], chunk_size=2)
        # the first chunk was stored, the chunk with the repeated path was not
        assert sorted(t["path"] for t in client.iter_tiles(cid)) == ["t0", "t1"]
        with pytest.raises(TypeError, match="tiles must be"):
            service.seed(cid, {"path": "x"})
        with pytest.raises(ValueError, match="chunk_size"):
            service.seed(cid, [], chunk_size=0)


def test_an_old_database_is_indexed_once_at_start_with_progress(tmp_path, caplog):
    db = tmp_path / "old.sqlite"
    with byocframe.local_service(db=db, ingestion_delay=None) as service:
        world = build_world(service, service.client())
    store = Store(str(db))  # as a service before the index kept itself would have left it
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'catalog_index'")
        conn.execute("DELETE FROM catalog_items")
    store.close()
    store = Store(str(db))
    with caplog.at_level(logging.INFO, logger="byocframe.emulator"):
        index = CatalogIndex(store, batch=5)
    assert index.migrated == len(TILES) + 4
    lines = [r.getMessage() for r in caplog.records if "Catalog index" in r.getMessage()]
    assert lines[0] == f"Catalog index: converting {len(TILES) + 4} tiles, once"
    assert lines[1:] == [
        f"Catalog index: {n} of {len(TILES) + 4} tiles converted" for n in (5, 10, 15, 16)
    ]
    assert index.refresh() == 0
    assert {c[2] for c in index.candidates(world.collection)} == set(world.ids.values())
    store.close()


def test_a_tile_the_index_cannot_read_does_not_fail_its_write(caplog):
    with byocframe.local_service(ingestion_delay=None) as service:
        store = service.store
        world = build_world(service, service.client())
        tid = world.ids["utm33-1"]
        doc = '{"sensingTime": "not a time"}'  # a document the index cannot convert
        with caplog.at_level(logging.ERROR, logger="byocframe.emulator"), store.transaction() as c:
            c.execute("UPDATE tiles SET doc = ? WHERE id = ?", (doc, tid))
        assert "converting changed tiles failed" in caplog.text
        with store.transaction() as conn:  # the write committed, its mark too
            assert conn.execute("SELECT doc FROM tiles WHERE id = ?", (tid,)).fetchone() == (doc,)
            assert conn.execute("SELECT id FROM catalog_dirty").fetchall() == [(tid,)]
