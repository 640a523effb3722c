"""pystac-client and sentinelhub-py's SentinelHubCatalog against the local Catalog, unchanged."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest
from catalog_world import CATALOG, TILES, build_world, token_for, truth

import byocframe

pystac_client = pytest.importorskip("pystac_client")
sentinelhub = pytest.importorskip("sentinelhub")

from pystac_client import Client  # noqa: E402 - after the importorskip
from pystac_client.exceptions import APIError as StacAPIError  # noqa: E402
from sentinelhub import (  # noqa: E402
    CRS,
    BBox,
    DataCollection,
    DownloadFailedException,
    Geometry,
    SentinelHubCatalog,
)
from sentinelhub.api.catalog import get_available_timestamps  # noqa: E402
from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient  # noqa: E402
from shapely.geometry import box  # noqa: E402

APRIL = ("2020-04-01", "2020-04-30")
EUROPE = [10.0, 40.0, 20.0, 50.0]


@pytest.fixture(scope="module")
def world_service():
    with byocframe.local_service(ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)
        yield service, world, list(client.iter_tiles(world.collection))


@pytest.fixture
def stac(world_service):
    service, world, records = world_service
    token = token_for(service)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NoConformsTo / MissingLink warnings
        cl = Client.open(
            service.base_url + CATALOG + "/", headers={"Authorization": f"Bearer {token}"}
        )
    return cl, world, records


@pytest.fixture
def catalog(world_service, tmp_path, monkeypatch):
    service, world, records = world_service
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # SHConfig must not touch ~/.config
    SentinelHubDownloadClient.clear_cache()
    config = service.sh_config(download_sleep_time=0.01, max_download_attempts=1)
    yield SentinelHubCatalog(config=config), config, world, records
    SentinelHubDownloadClient.clear_cache()


def _april(records, bbox):
    """Truth: tiles intersecting bbox with a sensing time in April 2020."""
    hits = truth(records, bbox)
    return {
        r["id"]
        for r in records
        if r["id"] in hits and (r.get("sensingTime") or "").startswith("2020-04")
    }


# ---------------------------------------------------------------- pystac-client
def test_pystac_client_opens_and_conforms(stac):
    cl, _, _ = stac
    for name in ("ITEM_SEARCH", "FILTER", "FIELDS", "CONTEXT", "COLLECTIONS"):
        assert cl.conforms_to(name), name


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_pystac_client_search_pages(stac, method):
    cl, world, records = stac
    search = cl.search(
        collections=[world.catalog_id], bbox=EUROPE, datetime="2020-04", limit=3, method=method
    )
    items = list(search.items())
    expected = _april(records, EUROPE)
    assert len(expected) >= 7
    assert {i.id for i in items} == expected
    assert len(items) == len(expected)
    assert search.matched() == len(expected)
    collection = search.item_collection()
    assert len(collection) == len(expected)
    assert all(i.collection_id == world.catalog_id for i in collection)


def test_pystac_client_antimeridian_and_intersects(stac):
    cl, world, records = stac
    bbox = [175.0, 60.0, -175.0, 70.0]
    found = {i.id for i in cl.search(collections=[world.catalog_id], bbox=bbox).items()}
    assert found == truth(records, bbox)
    assert world.names(found) == {"cross-60", "cross-01"}
    point = {"type": "Point", "coordinates": [45.0, 88.0]}
    found = {i.id for i in cl.search(collections=[world.catalog_id], intersects=point).items()}
    assert world.names(found) == {"north-pole"}


def test_pystac_client_max_items_filter_fields(stac):
    cl, world, _ = stac
    few = list(cl.search(collections=[world.catalog_id], max_items=3, limit=2).items())
    assert len(few) == 3
    text = cl.search(collections=[world.catalog_id], filter="proj:epsg = 32660", method="GET")
    assert world.names(i.id for i in text.items()) == {"cross-60"}
    # POST with a text filter goes through the cql2 package into cql2-json (32660.0)
    as_json = cl.search(collections=[world.catalog_id], filter="proj:epsg = 32660")
    assert world.names(i.id for i in as_json.items()) == {"cross-60"}
    trimmed = cl.search(
        collections=[world.catalog_id], fields=["id", "properties.datetime"], max_items=2
    )
    dicts = list(trimmed.items_as_dicts())
    assert all(set(d) == {"id", "properties"} for d in dicts)


def test_pystac_client_collections_and_items(stac):
    cl, world, records = stac
    assert [c.id for c in cl.get_collections()] == [world.catalog_id]
    collection = cl.get_collection(world.catalog_id)
    assert collection.title == "catalog world"
    # pystac refuses items with a null datetime (CATALOG_API.md 10.5): ask for the others
    timed = {r["id"] for r in records if r["status"] == "INGESTED" and r.get("sensingTime")}
    assert {i.id for i in collection.get_items(*timed)} == timed
    assert len(timed) == len(TILES) - 1
    one = collection.get_item(world.ids["utm33-2"])
    assert one is not None
    assert one.id == world.ids["utm33-2"]
    assert cl.get_collection("byoc-00000000-0000-0000-0000-000000000000") is None  # a 404


def test_pystac_client_without_token(world_service):
    service, world, _ = world_service
    cl = Client.open(service.base_url + CATALOG + "/")
    with pytest.raises(StacAPIError) as err:
        list(cl.search(collections=[world.catalog_id], max_items=1).items())
    assert err.value.status_code == 401


# ---------------------------------------------------------------- sentinelhub-py
def test_sentinelhub_info_conformance_collections(catalog):
    cat, _, world, _ = catalog
    info = cat.get_info()
    assert "conformsTo" in info
    assert info["links"]
    assert len(cat.get_conformance()["conformsTo"]) == 18
    assert [c["id"] for c in cat.get_collections()] == [world.catalog_id]
    byoc = DataCollection.define_byoc(world.collection)
    doc = cat.get_collection(byoc)
    assert doc["id"] == world.catalog_id
    assert [b["name"] for b in doc["summaries"]["eo:bands"]] == ["B02", "B03"]
    assert cat.get_collection(world.catalog_id)["id"] == world.catalog_id
    with pytest.raises(DownloadFailedException, match="404"):
        cat.get_collection("byoc-00000000-0000-0000-0000-000000000000")


def test_sentinelhub_feature_and_search(catalog):
    cat, _, world, records = catalog
    byoc = DataCollection.define_byoc(world.collection)
    tid = world.ids["utm33-4"]
    assert cat.get_feature(byoc, tid)["id"] == tid
    bbox = BBox(EUROPE, crs=CRS.WGS84)
    found = cat.search(byoc, bbox=bbox, time=APRIL, limit=2)
    ids = found.get_ids()
    assert set(ids) == _april(records, EUROPE)
    assert len(ids) == len(set(ids))
    assert not set(ids) & {*world.failed, *world.waiting}
    times = found.get_timestamps()
    assert all(isinstance(t, dt.datetime) for t in times)
    assert all(g.crs == CRS.WGS84 for g in found.get_geometries())


def test_sentinelhub_time_forms_and_ids(catalog):
    cat, _, world, _ = catalog
    byoc = DataCollection.define_byoc(world.collection)
    day = cat.search(byoc, time="2020-04-05").get_ids()
    assert world.names(day) == {"utm33-1"}
    open_end = cat.search(byoc, time=("2020-04-20", None)).get_ids()
    assert world.names(open_end) == {"north-pole", "utm33-5", "utm33-6", "cross-01"}
    assert cat.search(byoc, ids=[world.ids["south-38"]]).get_ids() == [world.ids["south-38"]]


def test_sentinelhub_utm_bbox_geometry_filter_fields(catalog):
    cat, _, world, records = catalog
    byoc = DataCollection.define_byoc(world.collection)
    utm_box = BBox((450_000, 4_950_000, 460_000, 4_960_000), crs=CRS("32633"))
    expected = truth(records, list(utm_box.transform_bounds(CRS.WGS84)))
    assert set(cat.search(byoc, bbox=utm_box).get_ids()) == expected
    assert expected
    triangle_only = Geometry(box(420_000, 4_920_000, 421_000, 4_921_000), crs=CRS("32633"))
    assert world.ids["utm33-0"] in cat.search(byoc, geometry=triangle_only).get_ids()
    text = cat.search(byoc, filter="proj:epsg=32601").get_ids()
    as_json = cat.search(
        byoc,
        filter={"op": "=", "args": [{"property": "proj:epsg"}, 32601]},
        filter_lang="cql2-json",
    ).get_ids()
    assert world.names(text) == world.names(as_json) == {"cross-01"}
    trimmed = list(
        cat.search(byoc, fields={"include": ["id", "properties.datetime"], "exclude": []})
    )
    assert all(set(f) == {"id", "properties"} for f in trimmed)


def test_sentinelhub_available_timestamps(catalog):
    _, config, world, _ = catalog
    byoc = DataCollection.define_byoc(world.collection)
    bbox = BBox(EUROPE, crs=CRS.WGS84)
    stamps = get_available_timestamps(bbox, APRIL, byoc, config=config)
    expected = sorted(
        dt.datetime.fromisoformat(TILES[f"utm33-{k}"][2].rstrip("Z")) for k in range(7)
    )
    assert stamps == expected
    thinned = get_available_timestamps(
        bbox, APRIL, byoc, time_difference=dt.timedelta(days=5), config=config
    )
    assert thinned == [expected[k] for k in (0, 2, 4, 6)]
