"""sentinelhub-py's own SentinelHubBYOC client works against the local service unchanged."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import utm33_files

sentinelhub = pytest.importorskip("sentinelhub")

from sentinelhub import (  # noqa: E402 - after the importorskip
    CRS,
    ByocCollection,
    ByocCollectionBand,
    ByocTile,
    DownloadFailedException,
    Geometry,
    SentinelHubBYOC,
)
from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient  # noqa: E402
from shapely.geometry import box  # noqa: E402


@pytest.fixture
def byoc(service, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # SHConfig must not touch ~/.config
    SentinelHubDownloadClient.clear_cache()  # sessions are cached per process
    yield SentinelHubBYOC(config=service.sh_config(download_sleep_time=0.01))
    SentinelHubDownloadClient.clear_cache()


def test_the_seed_tutorial_flow(service, byoc):
    # create a collection from the dataclass (nulls and "otherData": {} on the wire)
    band = ByocCollectionBand(bit_depth=16)
    new = ByocCollection(
        name="new collection",
        s3_bucket="my-s3-bucket",
        additional_data={"bands": {"B02": band, "B03": band}},
    )
    created = byoc.create_collection(new)
    assert created["name"] == "new collection"
    collection = ByocCollection.from_dict(created)
    assert collection.collection_id == created["id"]

    # list, get and rename it (update sends the whole dict back)
    assert [c["name"] for c in byoc.iter_collections()] == ["new collection"]
    fetched = byoc.get_collection(collection)
    fetched["name"] = "renamed"
    assert byoc.update_collection(fetched) == ""
    assert byoc.get_collection(collection)["name"] == "renamed"

    # create a tile from the dataclass, with a cover geometry in UTM
    service.register_files("my-s3-bucket", utm33_files("2019/11/27/33T/(BAND).tif"))
    cover = Geometry(box(400_000, 5_000_000, 500_000, 5_100_000), crs=CRS("32633"))
    tile = ByocTile(
        path="2019/11/27/33T/(BAND).tif",
        cover_geometry=cover,
        sensing_time=dt.datetime(2019, 11, 27),
    )
    created_tile = byoc.create_tile(collection, tile)
    assert created_tile["status"] == "WAITING"

    # read it back into the dataclass: geometry CRS, times and status parse
    tiles = [ByocTile.from_dict(t) for t in byoc.iter_tiles(collection)]
    assert len(tiles) == 1
    read = tiles[0]
    assert read.status == "INGESTED"
    assert read.cover_geometry.crs == CRS("32633")
    assert read.tile_geometry.crs == CRS("32633")
    assert read.sensing_time.replace(tzinfo=None) == dt.datetime(2019, 11, 27)
    wgs84 = read.cover_geometry.transform(CRS.WGS84).geometry
    assert 13.0 < wgs84.bounds[0] < 14.0

    # update, reingest, copy, delete
    read.sensing_time = dt.datetime(2020, 1, 1)
    assert byoc.update_tile(collection, read) == ""
    assert byoc.get_tile(collection, read.tile_id)["sensingTime"].startswith("2020-01-01")
    assert byoc.reingest_tile(collection, read) == ""
    other = ByocCollection.from_dict(
        byoc.create_collection({"name": "copy", "s3Bucket": "my-s3-bucket"})
    )
    assert byoc.copy_tiles(collection, other) == ""
    assert len(list(byoc.iter_tiles(other))) == 1
    assert byoc.delete_tile(collection, read) == ""
    assert list(byoc.iter_tiles(collection)) == []
    assert byoc.delete_collection(collection) == ""
    with pytest.raises(DownloadFailedException, match="COMMON_NOT_FOUND"):
        byoc.get_collection(collection)


def test_paging_filters_and_sort(service, byoc):
    client = service.client()
    cid = client.create_collection({"name": "many", "s3Bucket": "b"})["id"]
    for i in range(230):
        client.create_tile(cid, {"path": f"tile_{i:03d}_(BAND).tif"})
    tiles = list(byoc.iter_tiles(cid))
    assert len(tiles) == 230
    assert len({t["id"] for t in tiles}) == 230
    newest = next(byoc.iter_tiles(cid, sort="created:desc"))
    assert newest["path"] == "tile_229_(BAND).tif"
    found = list(byoc.iter_tiles(cid, path="tile_007_(BAND).tif"))
    assert [t["path"] for t in found] == ["tile_007_(BAND).tif"]
    failed = list(byoc.iter_tiles(cid, count=100, status="FAILED"))
    assert len(failed) == 230
    assert next(iter(byoc.iter_collections(search="many", count=100)))["id"] == cid


def test_demo_collection_reads_into_dataclasses(demo_service, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    SentinelHubDownloadClient.clear_cache()
    byoc = SentinelHubBYOC(config=demo_service.sh_config())
    tiles = [ByocTile.from_dict(t) for t in byoc.iter_tiles(demo_service.demo_collection)]
    assert len(tiles) == 400
    ingested = [t for t in tiles if t.status == "INGESTED"]
    assert all(t.cover_geometry is not None for t in ingested)
    assert {t.cover_geometry.crs.epsg for t in ingested} <= set(range(32601, 32761))
    SentinelHubDownloadClient.clear_cache()


def test_byocframe_client_creates_from_the_tutorials_dataclasses(service):
    """The tutorial's ByocCollection and ByocTile go to byocframe's Client as they are
    (they used to fail: "TypeError: ... not iterable")."""
    client = service.client()
    made = client.create_collection(ByocCollection(name="from-dataclass", s3_bucket="b"))
    assert (made["name"], made["s3Bucket"]) == ("from-dataclass", "b")
    tile = client.create_tile(
        made["id"],
        ByocTile(path="x/(BAND).tif", sensing_time=dt.datetime(2024, 6, 1, tzinfo=dt.UTC)),
    )
    assert tile["path"] == "x/(BAND).tif"
    assert tile["sensingTime"].startswith("2024-06-01T00:00:00")
    assert [t["id"] for t in client.iter_tiles(made["id"])] == [tile["id"]]
