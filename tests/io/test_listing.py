"""read_collections / read_tiles against the local service."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

import byocframe


def test_read_tiles_equals_the_records(demo_service):
    client = demo_service.client()
    gdf = byocframe.read_tiles(client, demo_service.demo_collection)
    expected = byocframe.tiles_from_records(client.iter_tiles(demo_service.demo_collection))
    assert_geodataframe_equal(gdf.drop(columns="loaded"), expected.drop(columns="loaded"))
    # the rows remember where they were loaded from (records alone do not say)
    assert gdf["loaded"].str.startswith(demo_service.demo_collection + ":").all()
    # independent of the conversion: shapely's own GeoJSON reader on the raw records
    raw = {t["id"]: t for t in client.iter_tiles(demo_service.demo_collection, sort="created:asc")}
    assert list(gdf.index) == list(raw)  # every tile once, in creation order
    for tid in gdf.index[::37]:
        cover = raw[tid].get("coverGeometry")
        if cover is not None:
            assert gdf.byoc.native_covers()[tid].equals_exact(shapely.geometry.shape(cover), 0)
    assert expected["loaded"].str.startswith(":").all()
    assert len(gdf) == 400
    assert gdf.attrs["byocframe"]["collection"] == demo_service.demo_collection
    assert gdf.attrs["byocframe"]["service"] == demo_service.base_url


def test_status_filter_and_crs(demo_service):
    gdf = byocframe.read_tiles(
        demo_service.client(), demo_service.demo_collection, status="FAILED", crs="EPSG:3857"
    )
    assert len(gdf) > 0
    assert set(gdf["status"]) == {"FAILED"}
    assert gdf["failed_ingestion_cause"].str.contains("not found").all()
    assert gdf.crs.to_epsg() == 3857


def test_status_filter_in_lower_case_as_the_command_line_takes_it(demo_service):
    """status="failed" filters as "FAILED" does (the service answered 400 before)."""
    client, cid = demo_service.client(), demo_service.demo_collection
    lower = byocframe.read_tiles(client, cid, status="failed", progress=False)
    upper = byocframe.read_tiles(client, cid, status="FAILED", progress=False)
    assert len(lower) > 0
    assert list(lower.index) == list(upper.index)
    truth = [t["id"] for t in client.iter_tiles(cid) if t["status"] == "FAILED"]
    assert sorted(lower.index) == sorted(truth)


def test_progress_bar(demo_service, capsys):
    pytest.importorskip("tqdm")
    byocframe.read_tiles(demo_service.client(), demo_service.demo_collection, progress=True)
    assert "400 tiles" in capsys.readouterr().err


def test_read_collections(demo_service):
    frame = byocframe.read_collections(demo_service.client())
    assert isinstance(frame, pd.DataFrame)
    row = frame.loc[demo_service.demo_collection]
    assert row["s3_bucket"] == "byocframe-demo"
    assert row["band_count"] == 5
    assert row["has_sensing_times"] == "YES"
    assert byocframe.read_collections(demo_service.client(), search="nothing-like-it").empty


def test_unknown_collection(demo_service):
    with pytest.raises(byocframe.NotFoundError, match="Collection nope not found"):
        byocframe.read_tiles(demo_service.client(), "nope")


@pytest.mark.parametrize("tiles", [0, 1, 99, 100, 101, 250])
def test_both_ends_equals_one_cursor(service, tiles):
    client = service.client()
    cid = client.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    for i in range(tiles):
        client.create_tile(cid, {"path": f"t/{i:03d}/(BAND).tif"})
    both = byocframe.read_tiles(client, cid, progress=False)
    one = byocframe.read_tiles(client, cid, progress=False, both_ends=False)
    assert_geodataframe_equal(both, one)
    assert len(both) == tiles
    failed = byocframe.read_tiles(client, cid, status="FAILED", progress=False)
    assert len(failed) == tiles  # nothing in the bucket: every tile failed


def test_both_ends_reports_errors(service):
    client = service.client(retries=0)
    cid = client.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    service.faults = byocframe.Faults(error_rate=1.0)
    with pytest.raises(byocframe.ServerError):
        byocframe.read_tiles(client, cid, progress=False)


def test_both_ends_stop_where_they_meet(service, monkeypatch):
    # 1000 tiles in pages of 100: the cursors must stop once they overlap, not each run
    # to the far end (which would still give the right frame, at twice the cost)
    client = service.client()
    cid = client.create_collection({"name": "c", "s3Bucket": "b"})["id"]
    for i in range(1000):
        client.create_tile(cid, {"path": f"t/{i:04d}/(BAND).tif"})
    fetched = []
    tile_pages = client.tile_pages

    def counting(*args, **kwargs):
        for page in tile_pages(*args, **kwargs):
            fetched.append(len(page))
            yield page

    monkeypatch.setattr(client, "tile_pages", counting)
    both = byocframe.read_tiles(client, cid, progress=False)
    assert len(both) == 1000
    assert both.index.is_unique
    # each cursor may fetch one page past the meeting point before it sees the other
    assert len(fetched) <= 10 + 3
