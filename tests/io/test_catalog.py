"""The local service's Catalog API on the wire: search semantics against independent truths."""

from __future__ import annotations

import json

import pytest
import requests
from catalog_world import CATALOG, TILES, build_world, token_for, truth

import byocframe
from byocframe.emulator.catalog import CONFORMANCE, Catalog
from byocframe.emulator.search import SearchQuery
from byocframe.emulator.spatial import CatalogIndex
from byocframe.emulator.store import Store


@pytest.fixture(scope="module")
def world_service():
    with byocframe.local_service(ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)
        records = list(client.iter_tiles(world.collection))
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        yield service, world, records, session


def _search(ctx, **body):
    service, world, _, session = ctx
    body.setdefault("collections", [world.catalog_id])
    ids, page, pages = [], None, 0
    while True:
        answer = session.post(service.base_url + CATALOG + "/search", json=body, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"] == "application/geo+json"
        page = answer.json()
        pages += 1
        ids += [f if isinstance(f, str) else f["id"] for f in page["features"]]
        if "next" not in page["context"]:
            return ids, page, pages
        body = {**body, "next": page["context"]["next"]}


BBOXES = {
    "europe": [10.0, 40.0, 20.0, 50.0],
    "one-utm-tile": [13.9, 44.5, 14.0, 44.6],
    "antimeridian": [175.0, 60.0, -175.0, 70.0],
    "east-of-180-only": [-179.9, 64.0, -179.0, 66.0],
    "west-of-180-only": [179.0, 64.0, 179.9, 66.0],
    "north-pole": [10.0, 88.0, 20.0, 89.0],
    "pole-other-side": [100.0, 88.0, 110.0, 89.0],
    "antarctic": [40.0, -80.0, 50.0, -75.0],
    "empty-ocean": [-150.0, -10.0, -140.0, 0.0],
    "whole-globe": [-180.0, -90.0, 180.0, 90.0],
}


@pytest.mark.parametrize("name", list(BBOXES))
def test_bbox_search_matches_independent_truth(world_service, name):
    _, world, records, _ = world_service
    bbox = BBOXES[name]
    ids, _, _ = _search(world_service, bbox=bbox, limit=3)
    assert len(ids) == len(set(ids))
    assert set(ids) == truth(records, bbox)
    # FAILED and WAITING tiles are never items, even where they would match
    assert not set(ids) & {*world.failed, *world.waiting}


def test_truth_is_not_trivial(world_service):
    _, world, records, _ = world_service
    assert world.names(truth(records, BBOXES["antimeridian"])) == {"cross-60", "cross-01"}
    assert world.names(truth(records, BBOXES["east-of-180-only"])) >= {"cross-60"}
    assert world.names(truth(records, BBOXES["north-pole"])) == {"north-pole"}
    assert truth(records, BBOXES["empty-ocean"]) == set()


def test_a_cover_not_the_tile_box_decides(world_service):
    # utm33-0 has a triangular cover: its tile box corner opposite the hypotenuse is empty
    _, world, _, _ = world_service
    corner = [15.1, 45.0, 15.15, 45.05]  # inside the tile box, outside the triangle
    ids, _, _ = _search(world_service, bbox=corner)
    assert world.ids["utm33-0"] not in ids


def test_crosser_item_geometry_is_cut_and_bbox_spans_the_antimeridian(world_service):
    service, world, _, session = world_service
    tid = world.ids["cross-60"]
    url = f"{service.base_url}{CATALOG}/collections/{world.catalog_id}/items/{tid}"
    item = session.get(url, timeout=5).json()
    assert item["geometry"]["type"] == "MultiPolygon"
    assert item["geometry"]["crs"]["properties"]["name"] == "urn:ogc:def:crs:OGC::CRS84"
    lons = [p[0] for poly in item["geometry"]["coordinates"] for p in poly[0]]
    assert min(lons) == -180 or max(lons) == 180
    assert all(-180 <= x <= 180 for x in lons)
    west, _, east, _ = item["bbox"]
    assert west > east  # STAC's way of saying "crosses the antimeridian"
    assert item["properties"]["proj:epsg"] == 32660
    expected = [500_000, 7_200_000, 700_000, 7_300_000]
    assert item["properties"]["proj:bbox"] == pytest.approx(expected, abs=0.01)
    assert item["collection"] == world.catalog_id
    assert item["links"][1]["href"] == url


def test_intersects_and_get_search(world_service):
    service, world, records, session = world_service
    point = {"type": "Point", "coordinates": [14.0, 44.55]}
    ids, _, _ = _search(world_service, intersects=point)
    expected = truth(records, [14.0, 44.55, 14.0, 44.55])
    assert set(ids) == expected
    assert expected
    params = {"collections": world.catalog_id, "bbox": "175,60,-175,70", "limit": "1"}
    url = service.base_url + CATALOG + "/search"
    got = []
    while url:
        page = session.get(url, params=params, timeout=5).json()
        got += [f["id"] for f in page["features"]]
        nxt = [link for link in page["links"] if link["rel"] == "next"]
        url, params = (nxt[0]["href"], None) if nxt else (None, None)
    assert world.names(got) == {"cross-60", "cross-01"}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2020-04-05T10:01:00Z", {"utm33-1"}),
        ("2020-04-01T00:00:00Z/2020-04-09T23:59:59Z", {"utm33-0", "utm33-1", "utm33-2"}),
        ("2020-04-20T00:00:00Z/..", {"north-pole", "utm33-5", "utm33-6", "cross-01"}),
        ("../2020-04-05T10:01:00Z", {"utm33-0", "utm33-1"}),
        ("2020-04-20T00:00:00Z/", {"north-pole", "utm33-5", "utm33-6", "cross-01"}),
        ("2020-04-20T02:00:00+02:00/2020-04-20T02:00:00+02:00", {"north-pole"}),
    ],
)
def test_datetime_forms(world_service, when, expected):
    _, world, _, _ = world_service
    ids, _, _ = _search(world_service, datetime=when)
    assert world.names(ids) == expected


def test_order_and_timeless_items(world_service):
    _, world, _, _ = world_service
    ids, page, _ = _search(world_service, limit=100)
    names = [world.names([i]).pop() for i in ids]
    assert names[-1] == "timeless"  # no datetime: last, and absent from datetime searches
    times = [TILES[n][2] for n in names[:-1]]
    assert times == sorted(times, reverse=True)
    assert page["context"]["matched"] == len(TILES)


def test_timeless_switch():
    store_service = byocframe.local_service(ingestion_delay=None)
    with store_service as service:
        world = build_world(service, service.client())
        catalog = Catalog(service.store, timeless_match_datetime=True)
        query = SearchQuery.parse(
            {"collections": [world.catalog_id], "datetime": "2020-04-05T10:01:00Z"}, get=False
        )
        assert world.names(c[2] for c in catalog.matches(query)) == {"utm33-1", "timeless"}


def test_ids_fields_and_filter(world_service):
    _service, world, _, _session = world_service
    wanted = [world.ids["utm33-3"], world.ids["cross-01"], world.failed[0]]
    ids, _, _ = _search(world_service, ids=wanted)
    assert set(ids) == set(wanted[:2])  # a FAILED tile is no item
    _, page, _ = _search(
        world_service, ids=wanted, fields={"include": ["id", "properties.datetime"], "exclude": []}
    )
    assert all(set(f) == {"id", "properties"} for f in page["features"])
    assert all(set(f["properties"]) == {"datetime"} for f in page["features"])
    _, page, _ = _search(world_service, ids=wanted, fields={})
    assert set(page["features"][0]) == {"id", "type", "geometry", "bbox", "links", "assets"} | {
        "properties"
    }
    text, _, _ = _search(world_service, filter="proj:epsg = 32660 AND datetime < '2020-05-01'")
    cql_json = {
        "op": "and",
        "args": [{"op": "=", "args": [{"property": "proj:epsg"}, 32660.0]}],
    }
    as_json, _, _ = _search(world_service, filter=cql_json, **{"filter-lang": "cql2-json"})
    assert world.names(text) == {"cross-60"}
    assert world.names(as_json) == {"cross-60"}
    between, _, _ = _search(world_service, filter="proj:epsg BETWEEN 32601 AND 32660")
    assert world.names(between) == {f"utm33-{k}" for k in range(7)} | {"cross-60", "cross-01"} | {
        "timeless"
    }


def test_distinct_dates(world_service):
    _, _, _, _ = world_service
    days, _page, pages = _search(world_service, distinct="date", limit=4)
    assert pages == 3
    expected = sorted({TILES[n][2][:10] for n in TILES if TILES[n][2]}, reverse=True)
    assert days == expected


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (
            {"bbox": [0, 0, 1, 1], "intersects": {"type": "Point", "coordinates": [0, 0]}},
            400,
            "not both",
        ),
        ({"collections": []}, 400, "exactly one"),
        ({"collections": ["a", "b"]}, 400, "exactly one"),
        ({"collections": ["sentinel-2-l1c"]}, 400, "not a BYOC"),
        ({"collections": ["byoc-00000000-0000-0000-0000-000000000000"]}, 404, "not found"),
        ({"next": -1}, 400, "next"),
        ({"limit": 0}, 400, "limit"),
        ({"bbox": [0, 10, 1, 5]}, 400, "south <= north"),
        ({"datetime": "yesterday"}, 400, "RFC 3339"),
        ({"datetime": "../.."}, 400, "one end"),
        ({"filter": "eo:cloud_cover > 5"}, 400, "eo:cloud_cover"),
        ({"filter": "proj:epsg = 1 OR id = 'x'"}, 400, "'or'"),
        ({"distinct": "month"}, 400, "distinct"),
    ],
)
def test_bad_searches(world_service, body, status, words):
    service, world, _, session = world_service
    body = {"collections": [world.catalog_id], **body}
    answer = session.post(service.base_url + CATALOG + "/search", json=body, timeout=5)
    assert answer.status_code == status
    assert words in answer.json()["description"]


def test_limit_is_clamped_and_unknown_keys_ignored(world_service):
    _, _, _, _ = world_service
    _, page, pages = _search(world_service, limit=500, sortby="x", **{"filter-lang": "cql2-text"})
    assert page["context"]["limit"] == 100
    assert pages == 1


def test_anonymous_and_token_rules(world_service):
    service, _world, _, _ = world_service
    root = service.base_url + CATALOG
    for url in (root, root + "/", root + "/conformance"):
        answer = requests.get(url, timeout=5)
        assert answer.status_code == 200
        assert answer.json().get("conformsTo") == CONFORMANCE
    for url in (root + "/collections", root + "/search"):
        assert requests.get(url, timeout=5).status_code == 401
    landing = requests.get(root, timeout=5).json()
    search_links = [link for link in landing["links"] if link["rel"] == "search"]
    assert {link["method"] for link in search_links} == {"GET", "POST"}
    assert all(link["href"].startswith(service.base_url) for link in landing["links"])


def test_search_follows_tile_edits_and_deletes(world_service):
    service, world, records, _session = world_service
    client = service.client()
    tid = world.ids["utm33-6"]
    record = next(r for r in records if r["id"] == tid)
    moved = {
        "sensingTime": "2021-01-01T00:00:00Z",
        "coverGeometry": record["coverGeometry"],
    }
    client.update_tile(world.collection, tid, moved)
    try:
        ids, _, _ = _search(world_service, datetime="2021-01-01T00:00:00Z")
        assert ids == [tid]
    finally:
        client.update_tile(world.collection, tid, {**moved, "sensingTime": TILES["utm33-6"][2]})
    ids, _, _ = _search(world_service, datetime="2021-01-01T00:00:00Z")
    assert ids == []


@pytest.fixture
def own_world():
    with byocframe.local_service(ingestion_delay=None) as service:
        world = build_world(service, service.client())
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + token_for(service)
        yield service, world, None, session


def test_pages_are_stable_while_tiles_change(own_world):
    service, world, _, session = own_world
    client = service.client()
    body = {"collections": [world.catalog_id], "limit": 4}
    url = service.base_url + CATALOG + "/search"
    first = session.post(url, json=body, timeout=5).json()
    # a tile that sorts first appears and another one is deleted between two pages
    path = "late/(BAND).tif"
    service.register_files("world", {path.replace("(BAND)", b): _file() for b in ("B02", "B03")})
    new = client.create_tile(
        world.collection, {"path": path, "sensingTime": "2030-01-01T00:00:00Z"}
    )
    service.ingest_pending()
    try:
        pages = [first]
        while "next" in pages[-1]["context"]:
            nxt = {**body, "next": pages[-1]["context"]["next"]}
            pages.append(session.post(url, json=nxt, timeout=5).json())
        ids = [f["id"] for p in pages for f in p["features"]]
        assert new["id"] not in ids
        assert sorted(ids) == sorted(world.ids.values())
        fresh, _, _ = _search(own_world, limit=100)
        assert fresh[0] == new["id"]
    finally:
        client.delete_tile(world.collection, new["id"])


def test_a_search_of_another_page_size_does_not_shift_pages_being_read(own_world):
    """Two searches that differ only in ``limit``, paged at once while a tile changes.

    The one paging with 4 must read every item once although a first page of 3 was
    made between its pages, after a tile moved to the front of the order.
    """
    service, world, _, session = own_world
    client = service.client()
    url = service.base_url + CATALOG + "/search"
    body = {"collections": [world.catalog_id], "limit": 4}
    pages = [session.post(url, json=body, timeout=5).json()]
    every, _, _ = _search(own_world, limit=100)
    tid = every[-1]  # after the first page: moved to the front, it would shift the rest
    record = client.get_tile(world.collection, tid)
    client.update_tile(
        world.collection,
        tid,
        {"sensingTime": "2031-01-01T00:00:00Z", "coverGeometry": record["coverGeometry"]},
    )
    other = session.post(url, json={**body, "limit": 3}, timeout=5).json()
    assert other["features"][0]["id"] == tid  # the other search sees the change
    while "next" in pages[-1]["context"]:
        nxt = {**body, "next": pages[-1]["context"]["next"]}
        pages.append(session.post(url, json=nxt, timeout=5).json())
    ids = [f["id"] for p in pages for f in p["features"]]
    assert sorted(ids) == sorted(world.ids.values())


def _file():
    return {
        "crs": "EPSG:32633",
        "bounds": [400_000, 5_000_000, 500_000, 5_100_000],
        "resolution": 10,
        "bitDepth": 16,
        "sampleFormat": "UINT",
    }


def test_collection_document(world_service):
    service, world, _, session = world_service
    url = f"{service.base_url}{CATALOG}/collections/{world.catalog_id}"
    doc = session.get(url, timeout=5).json()
    assert doc["id"] == world.catalog_id
    assert doc["title"] == "catalog world"
    assert [b["name"] for b in doc["summaries"]["eo:bands"]] == ["B02", "B03"]
    assert doc["summaries"]["raster:bands"][0]["data_type"] == "uint16"
    assert doc["extent"]["temporal"]["interval"] == [
        ["2020-04-01T10:00:00Z", "2020-05-02T00:00:00Z"]
    ]
    items = session.get(url + "/items", params={"limit": 100}, timeout=5).json()
    assert items["numberMatched"] == len(TILES) == items["numberReturned"]


def test_index_survives_a_restart_and_catches_up(tmp_path):
    db = tmp_path / "catalog.sqlite"
    with byocframe.local_service(db=db, ingestion_delay=None) as service:
        world = build_world(service, service.client())
        CatalogIndex(service.store).refresh()
    with byocframe.local_service(db=db, ingestion_delay=None) as service:
        index = CatalogIndex(service.store)
        assert index.refresh() == 0  # nothing left to do: the index was kept
        ids = [c[2] for c in index.candidates(world.collection)]
        assert sorted(ids) == sorted(world.ids.values())
    # a database from before the Catalog: the index is rebuilt from every tile, at opening
    store = Store(str(db))
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'catalog_index'")
    rebuilt = CatalogIndex(store)
    assert rebuilt.migrated == len(TILES) + 4
    assert rebuilt.refresh() == 0
    assert sorted(c[2] for c in rebuilt.candidates(world.collection)) == sorted(ids)
    store.close()


def test_bad_json_and_unknown_paths(world_service):
    service, world, _, session = world_service
    root = service.base_url + CATALOG
    answer = session.post(root + "/search", data=b"{not json", timeout=5)
    assert answer.status_code == 400
    assert "JSON" in answer.json()["description"]
    assert session.get(root + "/nothing", timeout=5).status_code == 404
    assert session.delete(root + "/search", timeout=5).status_code == 405
    item = f"{root}/collections/{world.catalog_id}/items/{world.failed[0]}"
    assert session.get(item, timeout=5).status_code == 404
    assert json.loads(session.get(root + "/queryables", timeout=5).text)["properties"]


def _ingested(store, cid, body):
    """A tile stored and marked INGESTED through the store's public methods."""
    import json as _json

    from byocframe.emulator.validate import new_tile

    tid = _json.loads(store.create_tile(cid, new_tile(body)))["id"]

    def ingest(state):
        state["status"] = "INGESTED"
        return True

    store.change_tile(cid, tid, ingest)
    return tid


def test_polar_stereographic_tile_holding_the_pole():
    from byocframe.emulator.store import Store
    from byocframe.emulator.validate import new_collection

    store = Store()
    cid = store.create_collection(new_collection({"name": "polar", "s3Bucket": "b"}))["id"]
    cover = {
        "type": "Polygon",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3413"}},
        "coordinates": [[[-3e5, -3e5], [3e5, -3e5], [3e5, 3e5], [-3e5, 3e5], [-3e5, -3e5]]],
    }
    pole = _ingested(store, cid, {"path": "pole/(BAND).tif", "coverGeometry": cover})
    catalog = Catalog(store)

    def found(bbox):
        query = SearchQuery.parse({"collections": [f"byoc-{cid}"], "bbox": bbox}, get=False)
        return [c[2] for c in catalog.matches(query)]

    # 300 km around the pole reaches below 88 N on every meridian, 87.3 N at the corners
    assert found([100.0, 88.5, 110.0, 89.0]) == [pole]
    assert found([-170.0, 88.0, -160.0, 88.2]) == [pole]
    assert found([170.0, 89.9, -170.0, 90.0]) == [pole]
    assert found([0.0, 80.0, 10.0, 85.0]) == []
    assert found([0.0, -90.0, 10.0, -89.0]) == []


def test_concurrent_writers_and_searches(own_world):
    import threading

    service, world, _, _ = own_world
    errors = []
    tid = world.ids["utm33-2"]
    client = service.client()
    record = client.get_tile(world.collection, tid)

    def write(k):
        try:
            for day in range(1, 11):
                body = {
                    "sensingTime": f"2022-0{k + 1}-{day:02d}T00:00:00Z",
                    "coverGeometry": record["coverGeometry"],
                }
                client.update_tile(world.collection, tid, body)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    def search(limit):
        try:
            for _ in range(10):
                ids, _, _ = _search(own_world, bbox=[10.0, 40.0, 20.0, 50.0], limit=limit)
                assert len(ids) == len(set(ids))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    # each searcher pages its own query (their limits differ, and the page size is part of
    # what the service keeps a result list for): a search's later pages come from the list
    # its first page made, whatever is written meanwhile. (Two identical searches paged at
    # once share that list, as they share offsets on Sentinel Hub: `next` is a plain offset.
    # Before the limit was part of it, one searcher's first page could replace the list
    # the other was paging through, and a machine under load showed a duplicate.)
    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    threads += [threading.Thread(target=search, args=(limit,)) for limit in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # whichever writer finished last, the Catalog says what the BYOC API says
    final = client.get_tile(world.collection, tid)["sensingTime"]
    _, page, _ = _search(own_world, ids=[tid])
    assert page["features"][0]["properties"]["datetime"] == final.replace(".000Z", "Z")


def test_writes_never_searched_before_a_stop_are_indexed_after_it(tmp_path):
    # the items are written with the tiles: stopping before any search (or a crash
    # right after the writes) leaves nothing unindexed
    db = tmp_path / "stopped.sqlite"
    with byocframe.local_service(db=db, ingestion_delay=None) as service:
        world = build_world(service, service.client())
        with service.store.transaction() as conn:
            pending = conn.execute("SELECT count(*) FROM catalog_dirty").fetchone()[0]
            items = conn.execute("SELECT count(*) FROM catalog_items").fetchone()[0]
        assert (pending, items) == (0, len(TILES))
    with byocframe.local_service(db=db, ingestion_delay=None) as service:
        catalog = Catalog(service.store)
        query = SearchQuery.parse({"collections": [world.catalog_id]}, get=False)
        assert sorted(c[2] for c in catalog.matches(query)) == sorted(world.ids.values())
