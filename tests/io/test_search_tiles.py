"""read_tiles with bbox/datetime/intersects: the Catalog path gives the listing's frame."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
import shapely.geometry
from catalog_world import build_world, truth

import byocframe
from byocframe import ValidationError
from byocframe.exceptions import APIError
from byocframe.io.catalog import catalog_datetime, iter_items


@pytest.fixture(scope="module")
def demo():
    with byocframe.local_service(demo=True, demo_tiles=3000) as service:
        client = service.client()
        full = byocframe.read_tiles(client, service.demo_collection)
        yield service, client, full


JUNE = ("2024-06-01", "2024-06-30")
AOIS = {
    "americas": [-60.0, -40.0, -30.0, 0.0],
    "antimeridian": [170.0, -30.0, -170.0, 75.0],
    "small": [-45.0, -10.0, -44.0, -9.0],
}


@pytest.mark.parametrize("name", list(AOIS))
def test_searched_frame_is_the_filtered_listing(demo, name):
    service, client, full = demo
    bbox = AOIS[name]
    found = byocframe.read_tiles(client, service.demo_collection, bbox=bbox, datetime=JUNE)
    # the truth: the full listing filtered in pandas/shapely, INGESTED tiles only
    w, s, e, n = bbox
    area = (
        shapely.MultiPolygon([shapely.box(w, s, 180, n), shapely.box(-180, s, e, n)])
        if w > e
        else shapely.box(w, s, e, n)
    )
    june = full["sensing_time"].between(
        pd.Timestamp("2024-06-01", tz="UTC"), pd.Timestamp("2024-07-01", tz="UTC"), "left"
    )
    expected = full[june & (full["status"] == "INGESTED") & full.intersects(area)]
    assert len(expected) > 0
    assert sorted(found.index) == sorted(expected.index)
    assert list(found.columns) == list(full.columns)
    assert found.dtypes.equals(full.dtypes)
    same = expected.loc[found.index]
    assert found.geometry.geom_equals_exact(same.geometry, tolerance=0).all()
    assert found["path"].equals(same["path"])
    assert found.attrs["byocframe"]["collection"] == service.demo_collection


def test_antimeridian_search_finds_crossers(demo):
    service, client, full = demo
    found = byocframe.read_tiles(client, service.demo_collection, bbox=[179.5, -90, -179.5, 90])
    strips = shapely.MultiPolygon(
        [shapely.box(179.5, -90, 180, 90), shapely.box(-180, -90, -179.5, 90)]
    )
    expected = full[(full["status"] == "INGESTED") & full.intersects(strips)]
    assert sorted(found.index) == sorted(expected.index)
    bounds = found.geometry.bounds
    crossers = (bounds["minx"] == -180) & (bounds["maxx"] == 180)
    assert crossers.sum() > 0  # covers cut in two at the antimeridian are among them


def test_intersects_and_filter(demo):
    service, client, full = demo
    point = shapely.Point(-44.5, -9.5)
    found = byocframe.read_tiles(client, service.demo_collection, intersects=point)
    expected = full[(full["status"] == "INGESTED") & full.intersects(point)]
    assert sorted(found.index) == sorted(expected.index)
    epsg = int(expected["native_crs"].iloc[0].split(":")[1])
    only = byocframe.read_tiles(
        client, service.demo_collection, intersects=point, filter=f"proj:epsg = {epsg}"
    )
    assert set(only["native_crs"]) == {f"EPSG:{epsg}"}


def test_bad_arguments(demo):
    service, client, _ = demo
    with pytest.raises(ValueError, match="only knows INGESTED"):
        byocframe.read_tiles(client, service.demo_collection, bbox=[0, 0, 1, 1], status="FAILED")
    with pytest.raises(ValueError, match="not both"):
        byocframe.read_tiles(
            client, service.demo_collection, bbox=[0, 0, 1, 1], intersects=shapely.Point(0, 0)
        )
    with pytest.raises(APIError, match="eo:cloud_cover"):
        byocframe.read_tiles(client, service.demo_collection, filter="eo:cloud_cover < 5")
    with pytest.raises(ValueError, match="pair"):
        catalog_datetime(("2024-06-01", "2024-06-02", "2024-06-03"))


def test_a_bbox_may_be_written_as_text(demo):
    """Today: "could not convert string to float: ','"."""
    service, client, _ = demo
    box = AOIS["small"]
    as_text = byocframe.read_tiles(client, service.demo_collection, bbox=",".join(map(str, box)))
    as_list = byocframe.read_tiles(client, service.demo_collection, bbox=box)
    assert sorted(as_text.index) == sorted(as_list.index)
    with pytest.raises(
        ValidationError, match=r"four numbers \[west, south, east, north\].*'1,2,x'"
    ):
        byocframe.read_tiles(client, service.demo_collection, bbox="1,2,x")


def test_catalog_datetime_forms():
    assert catalog_datetime("2024-06").startswith("2024-06-01T00:00:00Z/2024-06-30T23:59:59")
    assert catalog_datetime("2024-06-01T00:00:00Z/..") == "2024-06-01T00:00:00Z/.."
    assert catalog_datetime(pd.Timestamp("2024-06-01 12:00")) == "2024-06-01T12:00:00Z"
    assert catalog_datetime((None, "2024-06-30T10:00:00Z")) == "../2024-06-30T10:00:00Z"


def test_edit_a_searched_frame_and_push_it():
    with byocframe.local_service(ingestion_delay=None) as service:
        client = service.client()
        world = build_world(service, client)
        records = list(client.iter_tiles(world.collection))
        bbox = [10.0, 40.0, 20.0, 50.0]
        gdf = byocframe.read_tiles(client, world.collection, bbox=bbox, datetime="2020-04")
        assert set(gdf.index) == {
            r["id"] for r in records if r["id"] in truth(records, bbox) and r.get("sensingTime")
        }
        target = world.ids["utm33-3"]
        before = gdf.loc[target, "sensing_time"]
        gdf.loc[target, "sensing_time"] = before + pd.Timedelta(days=100)
        changes = gdf.byoc.changes()
        assert changes[["id", "field", "action"]].values.tolist() == [
            [target, "sensing_time", "update"]
        ]
        result = gdf.byoc.push(client)
        assert result["outcome"].tolist() == ["ok"]
        # read back through the BYOC API: the new time and the unchanged cover
        back = client.get_tile(world.collection, target)
        assert pd.Timestamp(back["sensingTime"]) == before + pd.Timedelta(days=100)
        old = next(r for r in records if r["id"] == target)
        new_cover = shapely.geometry.shape({**back["coverGeometry"], "crs": None})
        old_cover = shapely.geometry.shape({**old["coverGeometry"], "crs": None})
        assert new_cover.equals_exact(old_cover, tolerance=0.01)
        assert len(gdf.byoc.push(client)) == 0  # nothing left to send
        # and the Catalog sees it: April no longer holds the tile
        again = byocframe.read_tiles(client, world.collection, bbox=bbox, datetime="2020-04")
        assert target not in again.index


def test_item_pages(demo):
    service, client, full = demo
    pages = list(iter_items(client, service.demo_collection, datetime=JUNE))
    assert all(len(p) == 100 for p in pages[:-1])
    ids = [item["id"] for page in pages for item in page]
    june = full["sensing_time"].dt.month.eq(6) & full["status"].eq("INGESTED")
    assert sorted(ids) == sorted(full.index[june])


def test_status_ingested_is_taken_in_any_case_with_a_search(demo):
    """``status="ingested"`` (as the command line writes it) lists as "INGESTED" does; with
    a search it was refused as a status the Catalog does not know."""
    service, client, _ = demo
    box = AOIS["small"]
    upper = byocframe.read_tiles(client, service.demo_collection, bbox=box, status="INGESTED")
    lower = byocframe.read_tiles(client, service.demo_collection, bbox=box, status="ingested")
    assert len(upper) > 0
    assert list(lower.index) == list(upper.index)
