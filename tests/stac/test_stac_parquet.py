"""The columnar stac-geoparquet export: the same items as `to_stac`, read by others.

Independent truths: the reference stac-geoparquet package (its writer, fed the per-item
`to_stac` output, and its reader, ``stac_table_to_items``), the STAC JSON schemas stored
in ``tests/data/stac-schemas`` (pystac's validator and jsonschema), geopandas and DuckDB
reading the file.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import shapely
from stac_schemas import offline_validation, validate

import byocframe
from byocframe.exceptions import ByocframeWarning
from byocframe.frame.native import native_column, native_geometries
from byocframe.frame.synthetic import SYNTHETIC_BANDS, synthetic_tiles
from byocframe.stac import tiles_from_stac, to_stac, write_geoparquet, write_stac_geoparquet
from byocframe.stac.fields import PROJECTION

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
            "renamed": {"source": "B04", "bitDepth": 32, "sampleFormat": "FLOAT", "noData": -1.5},
            "plain": {"source": "B08", "bitDepth": 8},
        }
    },
}
STATUSES = ("WAITING", "QUEUED", "INGESTING", "INGESTED", "FAILED")


def _records():
    """400 synthetic tiles (UTM, polar, antimeridian) with every status and time shape."""
    records = synthetic_tiles(400, seed=3)
    for status, record in zip(STATUSES, records[10:15], strict=True):
        record["status"] = status
    records[0].pop("sensingTime")  # timeless: created..created
    records[1].pop("sensingTime")
    records[1].pop("created")  # and not even created: the epoch
    records[2]["created"] = "2024-07-02T08:00:01.120Z"  # ms
    records[3]["created"] = "2024-07-02T08:00:01.123456Z"  # us
    records[4]["sensingTime"] = "2024-06-01T10:00:00.5Z"
    ingested = [r for r in records if r["status"] == "INGESTED"]
    ingested[0].pop("coverGeometry")  # the tile geometry stands in
    ingested[1]["additionalData"] = {}
    return records


@pytest.fixture(scope="module")
def frame():
    return byocframe.tiles_from_records(_records())


@pytest.fixture(scope="module")
def written(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("stacpq") / "items.parquet"
    count = write_stac_geoparquet(frame, path, COLLECTION, chunk_rows=64)
    return path, count


@pytest.fixture(scope="module")
def reference(frame, tmp_path_factory):
    """The per-item path through the reference writer: the items to match."""
    path = tmp_path_factory.mktemp("stacpq") / "reference.parquet"
    write_geoparquet(to_stac(frame, COLLECTION), path)
    return path


def _items(path):
    return list(stac_arrow.stac_table_to_items(pq.read_table(path)))


def test_the_frame_has_what_the_export_must_handle(frame):
    crs = frame["native_crs"]
    assert crs.str.startswith("EPSG:326").any()
    assert crs.str.startswith("EPSG:327").any()
    assert {"EPSG:3031", "EPSG:3413"} <= set(crs)
    assert set(STATUSES) <= set(frame["status"])
    assert frame["sensing_time"].isna().sum() == 2
    cover = native_geometries(frame, "native_cover")
    assert (shapely.is_missing(cover) & ~frame["tile_geometry"].isna()).any()


def test_same_items_as_the_per_item_path(written, reference, frame):
    path, count = written
    assert count == len(frame)
    mine, theirs = _items(path), _items(reference)
    assert [i["id"] for i in mine] == list(frame.index)
    assert mine == theirs  # every field, geometry coordinates bit for bit
    # and the same table: columns, types, values (only the file metadata may differ)
    assert pq.read_table(path).equals(pq.read_table(reference))


def test_items_match_to_stac_itself(written, frame):
    """Against the pystac dicts, not through any stac-geoparquet code."""
    path, _ = written
    expected = [item.to_dict(transform_hrefs=False) for item in to_stac(frame, COLLECTION)]
    antimeridian = 0
    for got, want in zip(_items(path), expected, strict=True):
        props = {k: v for k, v in got.pop("properties").items() if v is not None}
        want = copy.deepcopy(want)
        want_props = want.pop("properties")
        for key in ("datetime", "start_datetime", "end_datetime"):
            if key in want_props or key in props:
                assert _when(props.pop(key, None)) == _when(want_props.pop(key)), key
        assert props == {k: v for k, v in want_props.items() if v is not None}
        assert got == want
        antimeridian += got["bbox"][0] > got["bbox"][2]
    assert antimeridian, "some items cross the antimeridian"


def _without_nulls(item):
    """Null properties left out, but ``datetime``, which STAC requires (null or not)."""
    props = item["properties"]
    kept = {k: v for k, v in props.items() if v is not None or k == "datetime"}
    return {**item, "properties": kept}


def _when(text):
    return None if text is None else pd.Timestamp(text)


def test_time_fields(written, frame):
    by_id = {i["id"]: i["properties"] for i in _items(written[0])}
    ids = list(frame.index)
    assert by_id[ids[0]]["start_datetime"] == by_id[ids[0]]["end_datetime"]
    assert pd.Timestamp(by_id[ids[0]]["start_datetime"]) == frame["created"].iloc[0]
    assert pd.Timestamp(by_id[ids[1]]["start_datetime"]) == pd.Timestamp("1970-01-01", tz="UTC")
    assert by_id[ids[1]]["datetime"] is None
    assert by_id[ids[2]]["byoc:created"] == "2024-07-02T08:00:01.120Z"
    assert by_id[ids[3]]["byoc:created"] == "2024-07-02T08:00:01.123456Z"
    assert by_id[ids[5]]["byoc:created"] == "2024-07-02T08:00:05Z"
    assert pd.Timestamp(by_id[ids[4]]["datetime"]) == pd.Timestamp("2024-06-01T10:00:00.5Z")


def test_assets_and_projection(written, frame):
    item = _items(written[0])[20]
    row = frame.loc[item["id"]]
    renamed = item["assets"]["renamed"]
    assert renamed["href"] == "s3://my-bucket/" + row["path"].replace("(BAND)", "B04")
    assert renamed["raster:bands"] == [{"data_type": "float32", "nodata": -1.5}]
    assert item["assets"]["plain"]["raster:bands"] == [{"data_type": "uint8", "nodata": 0}]
    assert item["properties"]["proj:code"] == row["native_crs"]
    cover = native_geometries(frame.loc[[item["id"]]], "native_cover")[0]
    native = shapely.geometry.shape(item["properties"]["proj:geometry"])
    assert native.geom_type == "MultiPolygon"
    assert native.equals_exact(cover, 0)
    assert item["links"] == [
        {
            "rel": "collection",
            "href": "https://services.sentinel-hub.com/api/v1/catalog/1.0.0/collections/byoc-"
            + COLLECTION["id"],
            "type": "application/json",
        }
    ]


@pytest.fixture
def offline_pystac():
    """pystac validates with the stored schemas only (any other URL raises)."""
    with offline_validation():
        yield


def test_validates_against_the_stored_schemas(written, offline_pystac):
    # the reference reader gives a property column's nulls back as None (a tile with a
    # sensing time gets "start_datetime": None); STAC wants them absent, as to_stac has them
    items = [_without_nulls(item) for item in _items(written[0])]
    for item in items[::25]:
        validate(item)
        checked = pystac.Item.from_dict(item).validate()
        assert PROJECTION in checked
    broken = copy.deepcopy(items[0])
    broken["properties"]["proj:code"] = 32633  # must be a string: the check can fail
    with pytest.raises(pystac.errors.STACValidationError):
        pystac.Item.from_dict(broken).validate()


def test_round_trips_to_the_same_frame(written, frame):
    back = tiles_from_stac(_items(written[0]))
    assert list(back.index) == list(frame.index)
    for column in ("path", "status", "sensing_time", "created", "native_crs"):
        assert back[column].equals(frame[column]), column
    assert back.geometry.geom_equals_exact(frame.geometry, tolerance=1e-9).all()


def test_written_in_chunks_with_the_same_content(written, frame, tmp_path):
    path, _ = written
    assert pq.ParquetFile(path).num_row_groups == -(-len(frame) // 64)
    whole = tmp_path / "one.parquet"
    write_stac_geoparquet(frame, whole, COLLECTION, compression="snappy")
    assert pq.ParquetFile(whole).num_row_groups == 1
    assert pq.read_table(whole).equals(pq.read_table(path))


def test_geoparquet_metadata_and_other_readers(written, frame):
    path, _ = written
    meta = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert meta["primary_column"] == "geometry"
    assert meta["version"] == "1.1.0"
    assert meta["columns"]["geometry"]["covering"]["bbox"]["xmin"] == ["bbox", "xmin"]
    assert meta["columns"]["proj:geometry"]["crs"] is None
    gdf = pytest.importorskip("geopandas").read_parquet(path)
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf["id"]) == list(frame.index)
    assert gdf.geometry.geom_equals_exact(frame.geometry.reset_index(drop=True), 0).all()
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(
        f"SELECT count(*), count(DISTINCT id), min(datetime) FROM read_parquet('{path}')"
    ).fetchall()
    assert rows[0][:2] == (len(frame), len(frame))
    assert pd.Timestamp(rows[0][2]).tz_localize(None) == (
        frame["sensing_time"].min().tz_convert(None)
    )


@pytest.fixture(scope="module")
def compact(frame):
    """The frame with its native geometries as WKB, as frames are becoming."""
    out = frame.copy()
    for column in ("native_cover", "native_tile"):
        out[column] = native_column(native_geometries(frame, column), frame.index)
    return out


def test_wkb_native_columns_give_the_same_file(compact, written, tmp_path):
    assert isinstance(compact["native_cover"].dtype, pd.ArrowDtype)
    target = tmp_path / "compact.parquet"
    write_stac_geoparquet(compact, target, COLLECTION, chunk_rows=64)
    assert pq.read_table(target).equals(pq.read_table(written[0]))


@pytest.mark.parametrize("wkb", [False, True], ids=["shapely", "wkb"])
def test_multipolygon_tile_geometries(frame, compact, tmp_path, wkb):
    source = compact if wkb else frame
    part = source.iloc[:40].copy()
    tiles = native_geometries(part, "native_tile")
    has = np.flatnonzero(~shapely.is_missing(tiles))
    tiles[has[0]] = shapely.MultiPolygon([tiles[has[0]], shapely.box(0, 0, 10, 10)])
    part["native_tile"] = (
        native_column(tiles, part.index) if wkb else pd.Series(tiles, index=part.index)
    )
    target = tmp_path / "multi.parquet"
    write_stac_geoparquet(part, target, COLLECTION)
    by_id = {i["id"]: i["properties"]["byoc:tile_geometry"] for i in _items(target)}
    multi = by_id[part.index[has[0]]]
    assert multi["type"] == "MultiPolygon"
    assert shapely.geometry.shape(multi).equals_exact(tiles[has[0]], 0)
    one = by_id[part.index[has[1]]]  # a Polygon, as a one-part MultiPolygon in this column
    assert shapely.geometry.shape(one).equals_exact(shapely.MultiPolygon([tiles[has[1]]]), 0)
    assert one["crs"] == {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::"
                          + part["native_crs"].iloc[has[1]].split(":")[1]}}  # fmt: skip


def test_tiles_without_any_geometry_are_left_out_with_a_warning(tmp_path):
    records = synthetic_tiles(30, seed=5)
    for record in records[:3]:
        record.pop("coverGeometry")
        record.pop("tileGeometry", None)
    gdf = byocframe.tiles_from_records(records)
    target = tmp_path / "some.parquet"
    with pytest.warns(ByocframeWarning, match="3 tile.*no geometry"):
        count = write_stac_geoparquet(gdf, target, COLLECTION, chunk_rows=2)
    assert count == 27
    assert [i["id"] for i in _items(target)] == list(gdf.index[3:])


def test_projected_frame_gives_lonlat_items(frame, tmp_path):
    projected = byocframe.tiles_from_records(byocframe.to_records(frame.iloc[:30]), crs="EPSG:3857")
    target = tmp_path / "projected.parquet"
    write_stac_geoparquet(projected, target, COLLECTION)
    expected = [i.to_dict(transform_hrefs=False) for i in to_stac(projected, COLLECTION)]
    for got, want in zip(_items(target), expected, strict=True):
        assert got["geometry"] == want["geometry"]
        assert got["bbox"] == want["bbox"]


def test_bad_input(frame, tmp_path):
    target = tmp_path / "bad.parquet"
    with pytest.raises(ValueError, match="chunk_rows must be at least 1, got 0"):
        write_stac_geoparquet(frame, target, COLLECTION, chunk_rows=0)
    with pytest.raises(TypeError, match="chunk_rows must be an int, got float"):
        write_stac_geoparquet(frame, target, COLLECTION, chunk_rows=1e4)
    with pytest.raises(ValueError, match="s3Bucket"):
        write_stac_geoparquet(frame, target, {"id": "x"})
    with pytest.raises(ValueError, match="tile frame"):
        write_stac_geoparquet(frame[["geometry"]], target, COLLECTION)
    with pytest.raises(ValueError, match="which collection"):
        write_stac_geoparquet(frame, target)
    assert not target.exists()
    assert not list(tmp_path.iterdir())  # no partial file either


def test_a_failed_write_leaves_no_file(frame, tmp_path):
    target = tmp_path / "failed.parquet"
    broken = frame.iloc[:10].copy()
    broken["sensing_time"] = broken["sensing_time"].astype(object)
    broken.loc[broken.index[5], "sensing_time"] = "not a time"
    with pytest.raises(Exception, match="not a time"):
        write_stac_geoparquet(broken, target, COLLECTION, chunk_rows=4)
    assert not list(tmp_path.iterdir())


def test_the_accessor_delegates(frame, written, tmp_path):
    target = tmp_path / "accessor.parquet"
    assert frame.byoc.to_stac_geoparquet(target, COLLECTION, chunk_rows=64) == len(frame)
    assert pq.read_table(target).equals(pq.read_table(written[0]))


def test_without_the_stac_extra_names_it(frame, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pystac", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"byocframe\[stac\]"):
        write_stac_geoparquet(frame, tmp_path / "x.parquet", COLLECTION)


def test_a_collection_without_bands_and_an_empty_frame(frame, tmp_path):
    bare = {"id": "c1", "s3Bucket": "b"}  # not configured yet: no bands, no assets
    target, reference = tmp_path / "bare.parquet", tmp_path / "reference.parquet"
    write_stac_geoparquet(frame.iloc[:20], target, bare)
    write_geoparquet(to_stac(frame.iloc[:20], bare), reference)
    items = _items(target)
    assert items == _items(reference)
    assert items[0]["assets"] == {}
    empty = tmp_path / "empty.parquet"
    assert write_stac_geoparquet(frame.iloc[:0], empty, COLLECTION) == 0
    assert pq.read_table(empty).num_rows == 0


def test_home_and_missing_folders_as_write_file_takes_them(frame, tmp_path, monkeypatch):
    """~ left a stray '<home>/x.parquet.partial' and failed; a missing folder named the
    partial file."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert write_stac_geoparquet(frame.iloc[:5], "~/items.parquet", COLLECTION) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["items.parquet"]
    assert list(tiles_from_stac(_items(tmp_path / "items.parquet")).index) == list(frame.index[:5])
    missing = tmp_path / "no-such-folder" / "items.parquet"
    with pytest.raises(byocframe.ValidationError, match="no-such-folder: folder not found"):
        write_stac_geoparquet(frame.iloc[:5], missing, COLLECTION)
    with pytest.raises(byocframe.ValidationError, match="no-such-folder: folder not found"):
        byocframe.write_file(frame.iloc[:5], missing)  # the same words
    assert not (tmp_path / "no-such-folder").exists()


# The schema's nesting of byoc:tile_geometry is decided from the 5-byte WKB headers, not by
# decoding every geometry (docs/design/catalog.md, "Choices made on the way"): checked here
# against shapely's reading of the same bytes, over the WKB flavours shapely writes.
_FLAVOURS = {
    f"{flavor}-{'le' if order else 'be'}-{dims}d{'-srid' if srid else ''}": dict(
        byte_order=order, flavor=flavor, output_dimension=dims, include_srid=srid
    )
    for flavor in ("iso", "extended")
    for order in (0, 1)
    for dims in (2, 3)
    for srid in ((False, True) if flavor == "extended" else (False,))
}


@pytest.mark.parametrize("flavour", list(_FLAVOURS))
@pytest.mark.parametrize("multi", [False, True], ids=["polygons", "one-multipolygon"])
def test_multipolygons_found_from_wkb_headers_as_shapely_reads_them(flavour, multi):
    from byocframe.frame.native import wkb_column
    from byocframe.stac.columns import stac_columns

    square = shapely.Polygon([(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 0, 1)])
    geoms = [square, shapely.MultiPolygon([square]) if multi else square, None]
    geoms = [shapely.set_srid(g, 32633) if g is not None else None for g in geoms]
    blobs = [None if g is None else shapely.to_wkb(g, **_FLAVOURS[flavour]) for g in geoms]
    frame = pd.DataFrame(index=pd.Index(["a", "b", "c"]))
    frame["sensing_time"] = pd.Timestamp("2024-06-01", tz="UTC")
    frame["native_tile"] = wkb_column(blobs, frame.index)
    truth = bool(
        (shapely.get_type_id(shapely.from_wkb([b for b in blobs if b is not None])) == 6).any()
    )
    assert truth is multi
    assert stac_columns(frame)["tile_multi"] is truth
