"""STAC export: items with projection and per-band assets, stac-geoparquet, round trips."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import shapely

import byocframe
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
from byocframe.geo.geometry import antimeridian_bbox
from byocframe.stac import tiles_from_stac, to_stac

pystac = pytest.importorskip("pystac")
pq = pytest.importorskip("pyarrow.parquet")
stac_arrow = pytest.importorskip("stac_geoparquet.arrow")

COLLECTION = {
    "id": "c0ffee00-0000-4000-8000-000000000000",
    "s3Bucket": "my-bucket",
    "noData": 0,
    "additionalData": {
        "bands": {
            **SYNTHETIC_BANDS,
            "renamed": {"source": "B04", "bitDepth": 16, "sampleFormat": "UINT", "noData": 7},
        }
    },
}


@pytest.fixture(scope="module")
def frame():
    records = synthetic_tiles(300, seed=3)
    records[0].pop("sensingTime", None)  # a timeless tile
    return byocframe.tiles_from_records(records)


def test_items_carry_projection_assets_and_cover(frame):
    items = frame.byoc.to_stac(COLLECTION)
    assert isinstance(items, pystac.ItemCollection)
    assert [i.id for i in items] == list(frame.index)
    item = items.items[5]
    row = frame.loc[item.id]
    assert item.collection_id == "byoc-" + COLLECTION["id"]
    assert item.properties["proj:code"] == row["native_crs"]
    native = shapely.geometry.shape(item.properties["proj:geometry"])
    loaded = shapely.from_wkb(row["native_cover"])
    assert native.equals_exact(loaded, 1e-6)
    assert item.properties["proj:bbox"] == pytest.approx(list(loaded.bounds))
    assert shapely.geometry.shape(item.geometry).equals_exact(row.geometry, 1e-9)
    b02 = item.assets["B02"]
    assert b02.href == "s3://my-bucket/" + row["path"].replace("(BAND)", "B02")
    assert item.assets["renamed"].href == "s3://my-bucket/" + row["path"].replace("(BAND)", "B04")
    assert item.assets["renamed"].extra_fields["raster:bands"] == [
        {"data_type": "uint16", "nodata": 7}
    ]
    assert b02.extra_fields["raster:bands"] == [{"data_type": "uint16", "nodata": 0}]
    assert "cloud-optimized" in b02.media_type


def test_timeless_tile_gets_a_range(frame):
    first = frame.byoc.to_stac(COLLECTION).items[0]
    assert first.datetime is None
    created = frame["created"].iloc[0]
    assert pd.Timestamp(first.properties["start_datetime"]) == created


def test_antimeridian_items_have_crossing_bboxes(frame):
    items = to_stac(frame, COLLECTION)
    crossing = [i for i in items if i.bbox[0] > i.bbox[2]]
    assert crossing, "the synthetic grid has antimeridian crossers"
    for item in crossing:
        geom = shapely.geometry.shape(item.geometry)
        assert geom.bounds[0] == -180
        assert geom.bounds[2] == 180
    assert antimeridian_bbox([(-180, -90, 180, -80)]) == [-180, -90, 180, -80]  # a cap


def test_opens_with_pystac_and_round_trips(frame, tmp_path):
    items = to_stac(frame, COLLECTION)
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items.to_dict()))
    reopened = pystac.ItemCollection.from_file(str(path))
    assert len(reopened) == len(frame)
    back = tiles_from_stac(reopened)
    _assert_same_frame(back, frame)


def test_stac_geoparquet_round_trip(frame, tmp_path):
    target = tmp_path / "tiles.parquet"
    to_stac(frame, COLLECTION, geoparquet=target)
    table = pq.read_table(target)
    meta = json.loads(table.schema.metadata[b"geo"])
    assert meta["primary_column"] == "geometry"
    assert b"stac-geoparquet" in table.schema.metadata
    assert table.num_rows == len(frame)
    back = tiles_from_stac(stac_arrow.stac_table_to_items(table))
    _assert_same_frame(back, frame)


def _assert_same_frame(back, frame):
    assert list(back.index) == list(frame.index)
    for column in ("path", "status", "sensing_time", "created", "native_crs"):
        assert back[column].equals(frame[column]), column
    assert back.geometry.geom_equals_exact(frame.geometry, tolerance=1e-9).all()
    assert back["max_meters_per_pixel"].equals(frame["max_meters_per_pixel"])


def test_projected_frame_exports_lonlat(frame):
    projected = byocframe.tiles_from_records(byocframe.to_records(frame.iloc[:20]), crs="EPSG:3857")
    items = to_stac(projected, COLLECTION)
    for item, geom in zip(items, frame.geometry.iloc[:20], strict=True):
        assert shapely.geometry.shape(item.geometry).equals_exact(geom, 1e-9)


def test_bad_input(frame):
    with pytest.raises(ValueError, match="s3Bucket"):
        to_stac(frame, {"id": "x"})
    with pytest.raises(ValueError, match="tile frame"):
        to_stac(frame[["geometry"]], COLLECTION)


def test_searched_frame_exports(tmp_path):
    with byocframe.local_service(demo=True, demo_tiles=500) as service:
        client = service.client()
        found = byocframe.read_tiles(client, service.demo_collection, bbox=[-180, -90, 180, 90])
        record = client.get_collection(service.demo_collection)
    items = found.byoc.to_stac(record)
    assert len(items) == len(found)
    assert {i.assets["B02"].href.split("/")[2] for i in items} == {record["s3Bucket"]}


def test_to_stac_without_pystac_names_the_extra(monkeypatch):
    import sys

    frame = byocframe.tiles_from_records(synthetic_tiles(2, seed=1))
    monkeypatch.setitem(sys.modules, "pystac", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"byocframe\[stac\]"):
        to_stac(frame, {"id": "c", "s3Bucket": "b"})


def test_a_feature_collection_dict_reads_back(frame, tmp_path):
    """``json.load`` of a saved items file (or pystac-client's
    ``item_collection_as_dict()``) is a FeatureCollection dict: it used to fail with
    "ValueError: dictionary update sequence element #0 has length 1"."""
    path = tmp_path / "items.json"
    path.write_text(json.dumps(to_stac(frame, COLLECTION).to_dict()))
    _assert_same_frame(tiles_from_stac(json.loads(path.read_text())), frame)
    with pytest.raises(byocframe.ValidationError, match="must be a GeoJSON FeatureCollection"):
        tiles_from_stac({"type": "Feature", "id": "x"})
    with pytest.raises(byocframe.ValidationError, match="STAC item 1 is a str, not a pystac"):
        tiles_from_stac(["not an item"])


def test_no_record_and_no_credentials_says_what_to_pass(demo_service):
    """A loaded frame's to_stac() with no credentials around said to set SH_CLIENT_ID."""
    frame = byocframe.read_tiles(demo_service.client(), demo_service.demo_collection)
    with pytest.raises(ValueError, match="collection record") as caught:
        frame.iloc[:3].byoc.to_stac()
    message = str(caught.value)
    assert demo_service.demo_collection in message
    assert "client=" in message
    assert "client.get_collection(" in message
    assert "\n" not in message
    assert isinstance(caught.value.__cause__, ValueError)  # the credential lookup's error
    items = frame.iloc[:3].byoc.to_stac(client=demo_service.client())  # the advice works
    assert len(items) == 3


@pytest.mark.parametrize("path", ["items.json", "items.parquet"], ids=["json", "parquet"])
def test_a_path_is_sent_to_read_file(frame, tmp_path, path):
    """A file name given as items was read as items of one letter each."""
    target = tmp_path / path
    if path.endswith(".json"):
        target.write_text(json.dumps(frame.iloc[:3].byoc.to_stac(COLLECTION).to_dict()))
    else:
        frame.iloc[:3].byoc.to_stac_geoparquet(target, COLLECTION)
    for given in (str(target), target):
        with pytest.raises(byocframe.ValidationError, match="read_file") as caught:
            tiles_from_stac(given)
        assert "\n" not in str(caught.value)
    assert list(byocframe.read_file(target).index) == list(frame.index[:3])  # the advice works
