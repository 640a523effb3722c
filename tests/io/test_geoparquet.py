"""write_file's compact GeoParquet: exact round trips, and files other readers read."""

from __future__ import annotations

import json
import pathlib

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

import byocframe
from byocframe.frame.native import native_geometries
from byocframe.frame.synthetic import synthetic_tiles
from byocframe.io import geoparquet, geoparquet_read, geoparquet_write

GEOMETRIES = ("geometry", "tile_geometry")


@pytest.fixture(scope="module")
def gdf():
    # WAITING and FAILED tiles too: covers without tile geometries
    return byocframe.tiles_from_records(synthetic_tiles(300, seed=3, waiting=0.1, failed=0.1))


def same_bytes(a, b) -> bool:
    return list(shapely.to_wkb(np.asarray(a, dtype=object))) == list(
        shapely.to_wkb(np.asarray(b, dtype=object))
    )


def assert_exact(back, gdf):
    assert_geodataframe_equal(back, gdf)
    assert back.attrs == gdf.attrs
    for column in GEOMETRIES:  # every coordinate bit, not only the same shapes
        assert same_bytes(back[column].array, gdf[column].array), column
    for column in ("native_cover", "native_tile"):
        assert same_bytes(native_geometries(back, column), native_geometries(gdf, column))


def test_round_trip_is_exact(gdf, tmp_path):
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    back = byocframe.read_file(tmp_path / "t.parquet")
    assert_exact(back, gdf)
    assert byocframe.changes(back).empty


def test_tile_geometry_is_stored_only_where_recomputing_differs(gdf, tmp_path):
    edited = gdf.copy()
    moved = shapely.affinity.translate(edited["tile_geometry"].iloc[3], 0.5, 0)
    edited.loc[edited.index[3], "tile_geometry"] = moved
    has_tile = np.flatnonzero(~shapely.is_missing(np.asarray(edited["native_tile"].array)))
    edited.loc[edited.index[has_tile[0]], "tile_geometry"] = None
    path = tmp_path / "t.parquet"
    byocframe.write_file(edited, path)
    stored = pq.read_table(path, columns=["tile_geometry"]).column(0).to_pylist()
    assert sum(v is not None for v in stored) == 2
    back = byocframe.read_file(path)
    assert_exact(back, edited)
    assert back["tile_geometry"].iloc[has_tile[0]] is None


@pytest.mark.parametrize("tokens", ["none", "edited"])
def test_tile_geometry_without_its_token_is_compared_with_its_drawing(gdf, tmp_path, tokens):
    """A frame without (usable) loaded tokens: the writer redraws to know what to keep."""
    frame = gdf.drop(columns="loaded") if tokens == "none" else gdf.copy()
    if tokens == "edited":
        frame["loaded"] = frame["loaded"].str.replace(":", ";", n=1)
    moved = shapely.affinity.translate(frame["tile_geometry"].iloc[5], 0.5, 0)
    frame.loc[frame.index[5], "tile_geometry"] = moved
    path = tmp_path / "t.parquet"
    byocframe.write_file(frame, path)
    stored = pq.read_table(path, columns=["tile_geometry"]).column(0).to_pylist()
    assert [i for i, v in enumerate(stored) if v is not None] == [5]
    back = byocframe.read_file(path)
    assert same_bytes(back["tile_geometry"].array, frame["tile_geometry"].array)


def test_an_edited_frame_round_trips(gdf, tmp_path):
    edited = gdf.copy()
    edited.loc[edited.index[0], "geometry"] = shapely.box(10, 10, 11, 11)
    edited = edited.drop(index=edited.index[5])
    byocframe.write_file(edited, tmp_path / "t.parquet")
    back = byocframe.read_file(tmp_path / "t.parquet")
    assert_exact(back, edited)
    assert len(byocframe.changes(back)) == len(byocframe.changes(edited))


def test_geopandas_reads_one_geometry_column_with_its_crs(gdf, tmp_path):
    byocframe.write_file(gdf.to_crs("EPSG:3857"), tmp_path / "t.parquet")
    other = gpd.read_parquet(tmp_path / "t.parquet")
    assert isinstance(other, gpd.GeoDataFrame)
    assert other.crs.to_epsg() == 3857
    assert list(other.select_dtypes("geometry").columns) == ["geometry"]
    assert same_bytes(other.geometry.array, gdf.to_crs("EPSG:3857").geometry.array)
    assert list(other.index) == list(gdf.index)


def test_a_file_geopandas_rewrote_still_pushes_what_changed(gdf, tmp_path):
    path = tmp_path / "t.parquet"
    byocframe.write_file(gdf, path)
    gpd.read_parquet(path).to_parquet(path)  # geopandas' own writer: our metadata is gone
    back = byocframe.read_file(path)
    for column in GEOMETRIES:
        assert same_bytes(back[column].array, gdf[column].array), column
    assert byocframe.changes(back).empty
    other = gpd.read_parquet(path)
    other.loc[other.index[0], "geometry"] = shapely.box(10, 10, 11, 11)
    other.to_parquet(path)
    assert len(byocframe.changes(byocframe.read_file(path))) == 1


def test_duckdb_reads_ids_and_paths(gdf, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    rows = (
        duckdb.connect()
        .execute(
            "SELECT id, path, status FROM read_parquet(?) ORDER BY id",
            [str(tmp_path / "t.parquet")],
        )
        .fetchall()
    )
    expected = sorted(zip(gdf.index, gdf["path"], gdf["status"].astype(str), strict=True))
    assert [tuple(r) for r in rows] == [tuple(e) for e in expected]


def test_one_geometry_column_and_compressed(gdf, tmp_path):
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    meta = pq.read_schema(tmp_path / "t.parquet").metadata
    geo = json.loads(meta[b"geo"])
    assert list(geo["columns"]) == ["geometry"]
    assert geo["columns"]["geometry"]["encoding"] == "multipolygon"  # GeoArrow
    group = pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0)
    columns = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
    assert {c.compression for c in columns.values()} == {"ZSTD"}
    coordinates = [c for name, c in columns.items() if name.startswith("geometry.")]
    assert [c.path_in_schema.rsplit(".", 1)[1] for c in coordinates] == ["x", "y"]
    assert all("BYTE_STREAM_SPLIT" in c.encodings for c in coordinates)


def test_a_frame_with_other_geometries_is_written_as_wkb(gdf, tmp_path):
    edited = gdf.copy()
    edited.loc[edited.index[0], "geometry"] = shapely.box(10, 10, 11, 11)  # a Polygon
    edited.loc[edited.index[1], "geometry"] = None
    byocframe.write_file(edited, tmp_path / "t.parquet")
    geo = json.loads(pq.read_schema(tmp_path / "t.parquet").metadata[b"geo"])
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    assert_exact(byocframe.read_file(tmp_path / "t.parquet"), edited)


def test_a_file_of_a_newer_version_is_refused(gdf, tmp_path, monkeypatch):
    monkeypatch.setattr(geoparquet_write, "FORMAT", 99)
    byocframe.write_file(gdf, tmp_path / "t.parquet")
    monkeypatch.undo()
    with pytest.raises(byocframe.ValidationError, match="upgrade byocframe"):
        byocframe.read_file(tmp_path / "t.parquet")


def test_older_files_still_read(gdf, tmp_path):
    gdf.to_parquet(tmp_path / "old.parquet")  # what write_file wrote before
    back = byocframe.read_file(tmp_path / "old.parquet")
    assert_geodataframe_equal(back, gdf)


def _footprints(frame):
    """Rows per (native_tile, native_crs) footprint of a frame."""
    pairs = zip(frame["native_tile"].tolist(), frame["native_crs"].tolist(), strict=True)
    count = {}
    for blob, crs in pairs:
        if blob is not None and blob is not pd.NA:
            count[(blob, crs)] = count.get((blob, crs), 0) + 1
    return count


def test_each_footprint_that_repeats_is_drawn_once_in_the_file(gdf, tmp_path, monkeypatch):
    """The file carries one drawing per footprint seen twice or more: reading decodes
    those and reprojects only the footprints seen once."""
    path = tmp_path / "t.parquet"
    byocframe.write_file(gdf, path)
    drawings = pq.read_table(path, columns=["tile_drawing"]).column(0).to_pylist()
    count = _footprints(gdf)
    repeated = sum(1 for n in count.values() if n > 1)
    assert sum(v is not None for v in drawings) == repeated > 0
    redrawn = []
    original = geoparquet_read.redraw_tiles

    def counting(frame, target):
        redrawn.append(len(frame))
        return original(frame, target)

    monkeypatch.setattr(geoparquet_read, "redraw_tiles", counting)
    back = byocframe.read_file(path)
    assert sum(redrawn) == sum(1 for n in count.values() if n == 1)
    assert_exact(back, gdf)
    # a part of the file without a footprint's drawing draws it again, the same
    part = geoparquet.read_row_groups(path, [0])
    assert same_bytes(part["tile_geometry"].array, gdf["tile_geometry"].array)


def test_batches_store_a_footprint_once_across_the_file(tmp_path):
    """A listing written batch by batch (one date a batch): a footprint's drawing is
    stored once, in the batch that sees it again, and the whole file reads back exactly;
    tiles that never repeat add no drawing."""
    dates = ("2020-01-01", "2020-02-01", "2020-03-01")
    frame = byocframe.tiles_from_records(synthetic_tiles(300, seed=5, dates=dates))
    path = tmp_path / "t.parquet"
    day = frame["sensing_time"].dt.strftime("%Y-%m").to_numpy()
    with geoparquet.ParquetSink(path, frame.crs) as sink:
        for month in sorted(set(day)):
            sink.write(frame[day == month])
        sink.close(frame.attrs, list(frame.columns), "id")
    drawings = pq.read_table(path, columns=["tile_drawing"]).column(0).to_pylist()
    repeated = sum(1 for n in _footprints(frame).values() if n > 1)
    assert sum(v is not None for v in drawings) == repeated > 0
    back = byocframe.read_file(path)
    order = back.index.get_indexer(frame.index)
    assert same_bytes(back["tile_geometry"].array[order], frame["tile_geometry"].array)
    once = frame[~frame.duplicated(subset=["native_tile", "native_crs"], keep=False)]
    byocframe.write_file(once, path)
    stored = pq.read_table(path, columns=["tile_drawing"]).column(0).to_pylist()
    assert stored == [None] * len(once)


def test_frames_drawn_two_ways_round_trip_exactly(tmp_path):
    """Rows of one footprint drawn with two tolerances (two loads joined): each row gets
    its own drawing back, not the other load's."""
    records = synthetic_tiles(120, seed=9)
    fine = byocframe.tiles_from_records(records[:60], tolerance=1.0)
    coarse = byocframe.tiles_from_records(records[60:])
    joined = pd.concat([fine, coarse])
    joined.attrs = coarse.attrs
    shared = set(fine["native_tile"].dropna().tolist()) & set(
        coarse["native_tile"].dropna().tolist()
    )
    assert shared  # the same grid cells on other dates
    path = tmp_path / "t.parquet"
    byocframe.write_file(joined, path)
    back = byocframe.read_file(path)
    assert same_bytes(back["tile_geometry"].array, joined["tile_geometry"].array)


def test_the_writer_settings_set_through_the_front_module_take_effect(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``byocframe.io.geoparquet.ROW_GROUP_SIZE`` is where users have set it since 0.2."""
    front = geoparquet
    frame = byocframe.tiles_from_records(synthetic_tiles(30, seed=2))
    monkeypatch.setattr(front, "ROW_GROUP_SIZE", 8)
    assert front.ROW_GROUP_SIZE == 8
    byocframe.write_file(frame, tmp_path / "t.parquet")
    assert pq.ParquetFile(tmp_path / "t.parquet").metadata.num_row_groups == 4
